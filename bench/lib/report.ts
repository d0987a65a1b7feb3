/**
 * The one table the harness prints (case | figure | baseline | ratio | target | pass/fail), the notes under it,
 * progress on stderr, and bench/results/ (latest.json with every raw figure, the kernel plot).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fmt, textTable } from './format.js';
import type { SweepPoint } from './kernel-sweep.js';
import { LOADER, QUICK, SETTINGS } from './options.js';
import { BENCH_DIR } from './paths.js';
import { throughputSvg } from './plot.js';

export interface Target {
  op: '>=' | '<=';
  value: number;
  /**
   * The unit of an absolute figure the target is on (e.g. 'ms'), which the row gives as its `ratio`; none for a
   * target on a ratio.
   */
  unit?: string;
}

export const atLeast = (value: number, unit?: string): Target => ({ op: '>=', value, unit });
export const atMost = (value: number, unit?: string): Target => ({ op: '<=', value, unit });

export interface Row {
  section: string;
  case: string;
  figure: number | null;
  figureText: string;
  baseline: number | null;
  baselineText: string;
  /** What the target is on: figure / baseline, or an absolute figure in the target's unit. */
  ratio: number | null;
  target: Target | null;
  pass: boolean | null;
  /** Average cores other processes used while this row was measured (null: not metered). */
  foreignCores: number | null;
  /** Shown after the ratio: the range of the per-round ratios of an HTTP comparison. */
  ratioSpread?: string;
  detail?: unknown;
}

/** Other processes using this much CPU during a measurement mark its row "noisy". */
const NOISY_CORES = 0.25;
const RESULTS_DIR = resolve(BENCH_DIR, 'results');

const startedAt = performance.now();
/** 1-minute load average before the harness starts anything: above ~0.5, something else is using the CPUs. */
const loadBefore = loadavg()[0];
const rows: Row[] = [];
const notes: string[] = [];

export function log(message: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[${seconds}s] ${message}\n`);
}

/**
 * Adds a row; the ratio is figure / baseline unless given (a row whose target has a unit gives its absolute figure
 * there), pass/fail follows from the ratio and the target.
 */
export function addRow(
  row: Omit<Row, 'pass' | 'ratio' | 'foreignCores'> & { ratio?: number | null; foreignCores?: number | null },
): void {
  const ratio =
    row.ratio !== undefined
      ? row.ratio
      : row.figure !== null && row.baseline !== null && row.baseline > 0
        ? row.figure / row.baseline
        : null;
  const pass =
    row.target === null || ratio === null || !Number.isFinite(ratio)
      ? null
      : row.target.op === '>='
        ? ratio >= row.target.value
        : ratio <= row.target.value;
  rows.push({ ...row, ratio, pass, foreignCores: row.foreignCores ?? null });
}

/** A row with no figure: `reason` ('skipped (...)', or failed()'s text) stands in the figure column. */
export function errorRow(section: string, name: string, reason: string, target: Target | null = null): void {
  addRow({ section, case: name, figure: null, figureText: reason, baseline: null, baselineText: '', target });
}

export function note(text: string): void {
  if (!notes.includes(text)) notes.push(text);
}

/** Records a failure in the notes (once) and returns the table's short form of it. */
export function failed(what: string, error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 400);
  note(`${what} failed: ${text}`);
  return 'error (see notes)';
}

function tableText(): string {
  const header = ['case', 'figure', 'baseline', 'ratio', 'target', 'pass/fail'];
  const body: string[][] = [];
  let section = '';
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      body.push([`[${section}]`, '', '', '', '', '']);
    }
    body.push([
      `  ${row.case}`,
      row.figureText,
      row.baselineText,
      row.ratio === null
        ? '—'
        : `${fmt(row.ratio)}${row.target?.unit ? ` ${row.target.unit}` : 'x'}${row.ratioSpread ? ` ${row.ratioSpread}` : ''}`,
      row.target === null ? '' : `${row.target.op} ${row.target.value}${row.target.unit ? ` ${row.target.unit}` : ''}`,
      `${row.pass === null ? (row.target ? 'n/a' : '') : row.pass ? 'PASS' : 'FAIL'}${
        (row.foreignCores ?? 0) >= NOISY_CORES ? ` (noisy ${fmt(row.foreignCores)})` : ''
      }`.trim(),
    ]);
  }
  return textTable(header, body);
}

/** Prints the table and its notes, and writes bench/results/. `settings`: what latest.json records of the run. */
export async function printAndSave(sweep: SweepPoint[], settings: Record<string, unknown>): Promise<void> {
  const table = tableText();
  const elapsed = (performance.now() - startedAt) / 1000;
  if (rows.some((r) => (r.foreignCores ?? 0) >= NOISY_CORES)) {
    note(
      `"noisy N": other processes used N cores on average (of ${availableParallelism()}) while that row was measured, so its figures are low or skewed`,
    );
  }
  const header = `dropout-service benchmark ${QUICK ? '(--quick) ' : ''}— ${new Date().toISOString()} — node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), load average before ${loadBefore.toFixed(2)}; service WORKERS=2; ${LOADER.name} ${SETTINGS.connections} connections, ${SETTINGS.rounds} rounds of ${SETTINGS.warmup}s warm-up + ${SETTINGS.duration}s per side`;
  console.log(`\n${header}\n\n${table}\n`);
  for (const text of notes) console.log(`note: ${text}`);
  const missed = rows.filter((r) => r.pass === false).length;
  const passed = rows.filter((r) => r.pass === true).length;
  console.log(`\n${passed} targets met, ${missed} missed; ${elapsed.toFixed(0)} s in all`);

  await mkdir(RESULTS_DIR, { recursive: true });
  const results = {
    date: new Date().toISOString(),
    quick: QUICK,
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
    loadAverageBefore: loadBefore,
    settings,
    loader: LOADER,
    elapsedSeconds: elapsed,
    rows,
    notes,
    kernelSweep: sweep,
  };
  await writeFile(resolve(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(
    resolve(RESULTS_DIR, 'kernel-throughput.svg'),
    throughputSvg(
      sweep,
      'Dropout kernel throughput, float32, p = 0.5, one thread',
      `${cpus()[0]?.model ?? ''}, node ${process.version}, median of ${SETTINGS.reps} repetitions`,
    ),
  );
  console.log('wrote bench/results/latest.json and bench/results/kernel-throughput.svg');
}
