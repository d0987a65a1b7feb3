/**
 * The dropout settings of one request (API.md §1), from either body format, checked and normalised: seeds become
 * uint64, offsets are checked against the tensor's size, and a missing train-mode seed is drawn from a CSPRNG.
 */
import { randomBytes } from 'node:crypto';
import { ProblemError } from '../errors.js';

export const MODES = ['train', 'eval'] as const;
export const VARIANTS = ['standard'] as const;
export const RNGS = ['philox'] as const;

export type Mode = (typeof MODES)[number];
export type Variant = (typeof VARIANTS)[number];
export type Rng = (typeof RNGS)[number];

export interface RawSettings {
  p?: number;
  mode?: Mode;
  seed?: number | string;
  offset?: number | string;
  variant?: Variant;
  rng?: Rng;
}

export interface Settings {
  p: number;
  mode: Mode;
  /** uint64 seed; null in eval mode, where no random numbers are used. */
  seed: bigint | null;
  offset: number;
  variant: Variant;
  rng: Rng;
}

const TWO_64 = 2n ** 64n;
const MIN_SEED = -(2n ** 63n);
const MAX_DRAW_INDEX = 2 ** 53;

/** A seed in [0, 2^64) from a JSON number or a decimal string; negatives down to −2^63 wrap as torch.manual_seed. */
export function parseSeed(value: number | string): bigint {
  let seed: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new ProblemError(
        'BAD_SEED',
        `seed ${value} is not an integer a JSON number can carry exactly (|seed| ≤ 2^53 − 1); send larger seeds as a decimal string`,
      );
    }
    seed = BigInt(value);
  } else {
    if (!/^-?\d{1,20}$/.test(value.trim())) {
      throw new ProblemError(
        'BAD_SEED',
        `seed "${value}" must be a decimal integer string, e.g. "42" or "18446744073709551615"`,
      );
    }
    seed = BigInt(value.trim());
  }
  if (seed < MIN_SEED || seed >= TWO_64) {
    throw new ProblemError('BAD_SEED', `seed ${seed} is outside [-2^63, 2^64 − 1]`);
  }
  return seed < 0n ? seed + TWO_64 : seed;
}

/** A fresh uint64 seed from the OS CSPRNG, so an unseeded train request can still be reproduced from its reply. */
export function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

export function parseOffset(value: number | string, numel: number): number {
  const text = String(value).trim();
  const offset = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new ProblemError('BAD_OFFSET', `offset ${JSON.stringify(value)} must be a non-negative integer`);
  }
  if (offset > MAX_DRAW_INDEX - numel) {
    throw new ProblemError('BAD_OFFSET', `offset ${offset} plus ${numel} elements passes the last draw index 2^53`);
  }
  return offset;
}

export function resolveSettings(raw: RawSettings, numel: number): Settings {
  const p = raw.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new ProblemError('P_OUT_OF_RANGE', `p is ${p}; it must be in [0, 1]`);
  const mode = raw.mode ?? 'train';
  const seed = mode === 'eval' ? null : raw.seed === undefined ? drawSeed() : parseSeed(raw.seed);
  if (mode === 'eval' && raw.seed !== undefined) parseSeed(raw.seed);
  return {
    p,
    mode,
    seed,
    offset: raw.offset === undefined ? 0 : parseOffset(raw.offset, numel),
    variant: raw.variant ?? 'standard',
    rng: raw.rng ?? 'philox',
  };
}
