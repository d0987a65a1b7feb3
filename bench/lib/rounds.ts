/**
 * Alternating rounds and what is read from them. Two sides measured one after the other in turn (A B A B A B) see the
 * same conditions on a machine others may be using, and the median of each side drops one bad round; one pass of
 * each would read drift as a difference between them.
 */
import { fmt } from './format.js';

/** Runs every step once per round, in order, for `rounds` rounds; returns each step's results in round order. */
export async function alternate<T>(rounds: number, steps: Array<(round: number) => Promise<T>>): Promise<T[][]> {
  const results = steps.map((): T[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, step] of steps.entries()) results[i].push(await step(round));
  }
  return results;
}

/** Median of the finite values (mean of the middle two for an even count); NaN if there are none. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The range of per-round ratios, shown after a row's ratio; none for a single round. */
export function spread(ratios: number[]): string | undefined {
  return ratios.length > 1 ? `(${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))})` : undefined;
}

/** Per-round ratios, listed in a figure's text. */
export function perRound(ratios: number[]): string {
  return `${ratios.map((r) => r.toFixed(2)).join(', ')}x`;
}
