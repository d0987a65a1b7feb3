/**
 * The benchmark harness (`npm run bench`, `npm run bench -- --quick`): starts the service, a bare Fastify baseline,
 * a bare node:http baseline (full runs) and a FastAPI + PyTorch baseline on 127.0.0.1, measures everything in one
 * run, and prints one table of figures, baselines, ratios and targets. Writes bench/results/latest.json and
 * bench/results/kernel-throughput.svg.
 *
 * Sections: kernel throughput (in process) and pool scaling; memory of one 64 MiB request; HTTP req/s and p99 against
 * the bare-Fastify baseline and against FastAPI (subject and reference in alternating rounds, medians); p99 of small
 * requests while 64 MiB requests flow. HTTP load: wrk when it is on PATH, else autocannon; `--loader=wrk|autocannon`
 * forces one. Every child process is killed on exit, error or signal (see common.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BENCH_DIR,
  type Child,
  chooseLoader,
  float32Body,
  fmt,
  foreignCpuMeter,
  freePort,
  type Loader,
  type LoadResult,
  type LoadSpec,
  PYTHON,
  ROOT,
  runCommand,
  runLoad,
  sampleValues,
  spawnChild,
  stopAllChildren,
  textTable,
  waitReady,
} from './common.js';
import {
  checkKernels,
  kernelSweep,
  loadKernels,
  poolThroughput,
  type SweepPoint,
  threadScaling,
  torchSweep,
} from './kernel.js';
import { throughputSvg } from './plot.js';

const K = 1024;
const M = 1024 * 1024;
const QUICK = process.argv.includes('--quick');
/**
 * HTTP: `rounds` alternating rounds per comparison row (S R S R S R), each a `warmup`-second run then a measured
 * `duration`-second run of `connections` connections. Kernel: `reps` repetitions of at least `minMs`.
 */
const SETTINGS = QUICK
  ? { duration: 1, warmup: 0.3, rounds: 3, connections: 10, reps: 3, minMs: 30, poolMinMs: 200 }
  : { duration: 5, warmup: 1, rounds: 3, connections: 10, reps: 7, minMs: 100, poolMinMs: 500 };

/** `--loader=wrk|autocannon` (or `--loader wrk`); undefined when not given. */
function loaderArgument(): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--loader=')) return args[i].slice('--loader='.length);
    if (args[i] === '--loader') return args[i + 1];
  }
  return undefined;
}
/** The HTTP load generator, chosen at the start of main(). */
let loader: Loader = { name: 'autocannon', version: null, reason: 'default' };
/** Connections of the 16M-element background load in the responsiveness case. */
const BACKGROUND_CONNECTIONS = 1;
const RESULTS_DIR = resolve(BENCH_DIR, 'results');
const startedAt = performance.now();
/** 1-minute load average before the harness starts anything: above ~0.5, something else is using the CPUs. */
const loadBefore = loadavg()[0];

// ---------------------------------------------------------------------------------------------------------------
// Rows of the one table

interface Target {
  op: '>=' | '<=';
  value: number;
}

interface Row {
  section: string;
  case: string;
  figure: number | null;
  figureText: string;
  baseline: number | null;
  baselineText: string;
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

const rows: Row[] = [];
const notes: string[] = [];

function log(message: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(5);
  process.stderr.write(`[${seconds}s] ${message}\n`);
}

function addRow(
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

function errorRow(section: string, name: string, reason: string, target: Target | null = null): void {
  addRow({ section, case: name, figure: null, figureText: reason, baseline: null, baselineText: '', target });
}

function note(text: string): void {
  if (!notes.includes(text)) notes.push(text);
}

/** Records a failure in the notes (once) and returns the table's short form of it. */
function failed(what: string, error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 400);
  note(`${what} failed: ${text}`);
  return 'error (see notes)';
}

// ---------------------------------------------------------------------------------------------------------------
// Setup: Python dependencies, build

async function pythonImports(modules: string): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  const { code } = await runCommand(PYTHON, ['-c', `import ${modules}`], { timeoutMs: 60_000 });
  return code === 0;
}

async function ensurePython(): Promise<{ torch: boolean; fastapi: boolean }> {
  if (!(await pythonImports('torch, fastapi, uvicorn'))) {
    log('python3-torch/fastapi/uvicorn missing: running bench/setup.sh');
    const setup = await runCommand('bash', [resolve(BENCH_DIR, 'setup.sh')], { timeoutMs: 900_000 });
    if (setup.code !== 0) note(`bench/setup.sh failed: ${setup.stderr.trim().split('\n').slice(-2).join(' ')}`);
  }
  const torch = await pythonImports('torch');
  const fastapi = torch && (await pythonImports('torch, fastapi, uvicorn'));
  if (!torch) note(`${PYTHON} cannot import torch: PyTorch rows skipped`);
  if (!fastapi) note(`${PYTHON} cannot import fastapi/uvicorn: FastAPI rows skipped`);
  return { torch, fastapi };
}

async function build(): Promise<void> {
  log('npm run build');
  const { code, stdout, stderr } = await runCommand('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 });
  if (code === 0) return;
  const why = `${stdout}${stderr}`.trim().split('\n').slice(-5).join('\n');
  if (!existsSync(resolve(ROOT, 'dist/server.js'))) throw new Error(`npm run build failed:\n${why}`);
  note(
    'npm run build FAILED (see its errors above): the service ran from whatever dist/ holds, which may be stale or partial',
  );
  log(`npm run build failed, using the existing dist/:\n${why}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Servers

async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = child.output().match(pattern);
    if (match) return match;
    if (child.proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${child.name}: no ${pattern} in its output:\n${child.output()}`);
}

/** The NAME=value assignments in front of the command of `npm start`: the service is measured as it is run. */
function startScriptEnv(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const env: Record<string, string> = {};
  for (const word of pkg.scripts.start.split(/\s+/)) {
    const assignment = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!assignment) break;
    env[assignment[1]] = assignment[2];
  }
  return env;
}

async function startService(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = spawnChild('service', process.execPath, ['dist/server.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...startScriptEnv(),
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      WORKERS: '2',
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child);
  return { child, url };
}

/** Starts a bare baseline server (a TypeScript file under bench/ that prints {"port": N} once listening). */
async function startTsBaseline(name: string, script: string): Promise<{ child: Child; url: string }> {
  const child = spawnChild(name, process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
  });
  const [, port] = await waitForOutput(child, /\{"port":(\d+)\}/, 30_000);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/hello`, child);
  return { child, url };
}

async function startFastapi(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  const child = spawnChild(
    'fastapi',
    PYTHON,
    [
      '-m',
      'uvicorn',
      'fastapi_app:app',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--log-level',
      'warning',
      '--no-access-log',
    ],
    { cwd: BENCH_DIR },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child, 60_000);
  const info = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
  note(
    `FastAPI baseline: uvicorn ${info.uvicorn} (1 worker, ${info.loop} loop), fastapi ${info.fastapi}, torch ${info.torch} (${info.torch_threads} intra-op threads)`,
  );
  return { child, url };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP cases

interface HttpCase {
  name: string;
  spec: Omit<LoadSpec, 'connections' | 'duration' | 'warmup'>;
  /** Checks one reply; returns what is wrong, or null. */
  check: (status: number, body: Buffer) => string | null;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const BINARY_HEADERS = { 'content-type': 'application/octet-stream' };

function expectJsonOutput(n: number, key: string) {
  return (status: number, body: Buffer): string | null => {
    if (status !== 200) return `status ${status}: ${body.toString().slice(0, 200)}`;
    const parsed = JSON.parse(body.toString()) as Record<string, unknown>;
    const values = parsed[key];
    return Array.isArray(values) && values.length === n ? null : `reply has no ${key} of ${n} values`;
  };
}

function expectBytes(n: number) {
  return (status: number, body: Buffer): string | null =>
    status !== 200
      ? `status ${status}: ${body.toString().slice(0, 200)}`
      : body.length === n
        ? null
        : `reply is ${body.length} bytes, expected ${n}`;
}

function jsonCase(name: string, url: string, n: number, replyKey: string, withSettings: boolean): HttpCase {
  const input = sampleValues(n);
  const body = JSON.stringify(withSettings ? { input, p: 0.5, seed: 1 } : { input });
  return { name, spec: { url, method: 'POST', headers: JSON_HEADERS, body }, check: expectJsonOutput(n, replyKey) };
}

const binaryBodies = new Map<number, Buffer>();
function binaryCase(name: string, url: string, n: number): HttpCase {
  let body = binaryBodies.get(n);
  if (!body) {
    body = float32Body(n);
    binaryBodies.set(n, body);
  }
  return { name, spec: { url, method: 'POST', headers: BINARY_HEADERS, body }, check: expectBytes(n * 4) };
}

async function verify(c: HttpCase): Promise<void> {
  const response = await fetch(c.spec.url, {
    method: c.spec.method ?? 'GET',
    headers: c.spec.headers,
    body: c.spec.body,
    signal: AbortSignal.timeout(60_000),
  });
  const problem = c.check(response.status, Buffer.from(await response.arrayBuffer()));
  if (problem) throw new Error(`${c.name}: ${problem}`);
}

type Measured = LoadResult & { foreignCores: number };

/** One warm-up run then one measured run of `c` (req/s and p99 from the measured run), metered for foreign CPU. */
async function measureRun(c: HttpCase, label = ''): Promise<Measured> {
  log(
    `load: ${c.name}${label} (${loader.name}, ${SETTINGS.connections} connections, ${SETTINGS.warmup}s warm-up + ${SETTINGS.duration}s)`,
  );
  const foreign = foreignCpuMeter();
  const load = await runLoad(
    { ...c.spec, connections: SETTINGS.connections, duration: SETTINGS.duration, warmup: SETTINGS.warmup },
    loader.name,
  );
  const result: Measured = { ...load, foreignCores: foreign() };
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    note(`${c.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts under load`);
  }
  return result;
}

/** The range of per-round ratios, shown after a row's ratio; none for a single round. */
function spread(ratios: number[]): string | undefined {
  return ratios.length > 1 ? `(${fmt(Math.min(...ratios))}–${fmt(Math.max(...ratios))})` : undefined;
}

/** Per-round ratios, listed in a figure's text. */
function perRound(ratios: number[]): string {
  return `${ratios.map((r) => r.toFixed(2)).join(', ')}x`;
}

/** Median of the finite values (mean of the middle two for an even count); NaN if there are none. */
function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One side of a comparison row over its rounds. */
interface Side {
  c: HttpCase;
  runs: Measured[];
  /** The table's text for a failure ('' if none); a side that fails is not measured again. */
  error: string;
}

/** Medians of one side's rounds: req/s and p99 separately (each the median of its own per-round figures). */
interface SideSummary {
  rps: number;
  p99: number;
  rounds: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function summarize(side: Side): SideSummary | null {
  if (side.error !== '' || side.runs.length === 0) return null;
  const sum = (key: 'non2xx' | 'errors' | 'timeouts') => side.runs.reduce((n, r) => n + r[key], 0);
  return {
    rps: median(side.runs.map((r) => r.rps)),
    p99: median(side.runs.map((r) => r.p99)),
    rounds: side.runs.length,
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
  };
}

function summaryText(s: SideSummary): string {
  const problems = s.non2xx + s.errors + s.timeouts;
  return `${fmt(s.rps)} req/s, p99 ${fmt(s.p99)} ms${problems > 0 ? `, ${problems} non-2xx/errors` : ''}`;
}

/**
 * One row: `subject` measured against `reference` in alternating rounds (S R S R S R), so that both sides see the
 * same conditions on a machine others may be using (the service's cases are measured again for each baseline). The
 * figures are the medians of each side's rounds; the ratio is median(subject req/s) / median(reference req/s), and
 * the per-round ratios go to the JSON detail (and their range to the table).
 */
async function compare(
  section: string,
  name: string,
  subject: HttpCase,
  reference: HttpCase | null,
  target: Target | null,
): Promise<void> {
  const sides: Side[] = [subject, reference]
    .filter((c): c is HttpCase => c !== null)
    .map((c) => ({ c, runs: [], error: '' }));
  for (let round = 0; round < SETTINGS.rounds; round++) {
    for (const side of sides) {
      if (side.error !== '') continue;
      try {
        if (round === 0) await verify(side.c);
        side.runs.push(await measureRun(side.c, ` [round ${round + 1}/${SETTINGS.rounds}]`));
      } catch (e) {
        side.error = failed(side.c.name, e);
      }
    }
  }
  const [subjectSide, referenceSide] = sides;
  const s = summarize(subjectSide);
  const r = referenceSide ? summarize(referenceSide) : null;
  const rounds = Array.from({ length: SETTINGS.rounds }, (_, i) => {
    const sr = subjectSide.runs[i];
    const rr = referenceSide?.runs[i];
    return {
      round: i + 1,
      subject: sr ?? null,
      reference: rr ?? null,
      ratio: sr && rr && rr.rps > 0 ? sr.rps / rr.rps : null,
      foreignCores: Math.max(sr?.foreignCores ?? 0, rr?.foreignCores ?? 0),
    };
  });
  const ratios = rounds.map((x) => x.ratio).filter((x): x is number => x !== null && Number.isFinite(x));
  const measuredRounds = rounds.filter((x) => x.subject !== null || x.reference !== null);
  addRow({
    section,
    case: name,
    figure: s?.rps ?? null,
    figureText: s ? summaryText(s) : subjectSide.error,
    baseline: r?.rps ?? null,
    baselineText: r ? summaryText(r) : (referenceSide?.error ?? ''),
    target,
    // A round is as noisy as the noisier of its two runs; the row, as its median round.
    foreignCores: measuredRounds.length > 0 ? median(measuredRounds.map((x) => x.foreignCores)) : null,
    ratioSpread: spread(ratios),
    detail: {
      subject: subject.name,
      reference: reference?.name ?? null,
      loader: loader.name,
      subjectMedian: s,
      referenceMedian: r,
      roundRatios: rounds.map((x) => x.ratio),
      rounds,
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Memory

function procStatus(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

async function memoryCase(serviceUrl: string, pid: number): Promise<void> {
  const section = 'memory';
  const name = 'peak RSS increase, one 64 MiB binary request (16M float32)';
  const target: Target = { op: '<=', value: 2.5 };
  try {
    const bytes = 16 * M * 4;
    const big = binaryCase('service binary 16M', `${serviceUrl}/v1/dropout?p=0.5&seed=1`, 16 * M);
    // Warm the routes up with small requests only: the process has not yet seen a large body.
    for (const c of [
      jsonCase('warm', `${serviceUrl}/v1/dropout`, 16, 'output', true),
      binaryCase('warm', `${serviceUrl}/v1/dropout?p=0.5&seed=1`, 64 * K),
    ]) {
      for (let i = 0; i < 20; i++) await verify(c);
    }
    await sleep(300);
    const before = procStatus(pid).rss;
    // Writing 5 to clear_refs resets VmHWM to the current RSS; sampling VmRSS is the fallback (and a cross-check).
    let reset = true;
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      reset = false;
    }
    let sampled = before;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, procStatus(pid).rss);
    }, 2);
    await verify(big);
    await sleep(50);
    clearInterval(sampler);
    const after = procStatus(pid);
    const peak = reset ? Math.max(after.hwm, sampled) : sampled;
    const increase = peak - before;
    addRow({
      section,
      case: name,
      figure: increase / M,
      figureText: `+${fmt(increase / M)} MiB (RSS ${fmt(before / M)} -> peak ${fmt(peak / M)} MiB)`,
      baseline: bytes / M,
      baselineText: '64 MiB body',
      target,
      detail: { before, peak, hwmAfter: after.hwm, sampledMax: sampled, hwmReset: reset },
    });
    if (!reset) note('memory: could not reset VmHWM (clear_refs); peak from VmRSS sampled every 2 ms');
  } catch (e) {
    errorRow(section, name, failed(section, e), target);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Responsiveness: small requests while 64 MiB requests flow

async function responsivenessCase(serviceUrl: string): Promise<void> {
  const section = 'responsiveness';
  const name = `p99 JSON 16 under 16M binary load (${BACKGROUND_CONNECTIONS} conn) vs idle`;
  const target: Target = { op: '<=', value: 3 };
  try {
    const probe = jsonCase('service JSON 16', `${serviceUrl}/v1/dropout`, 16, 'output', true);
    await verify(probe);
    // Idle and loaded alternate, like the comparison rows: one pass of each would read host drift as the ratio.
    // --quick keeps one round of each (its budget is two minutes).
    const rounds = QUICK ? 1 : SETTINGS.rounds;
    const idle: Measured[] = [];
    const loaded: Measured[] = [];
    const background: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      const label = rounds > 1 ? ` [round ${round + 1}/${rounds}]` : '';
      idle.push(await measureRun(probe, ` idle${label}`));
      const { measured, bg } = await underBackgroundLoad(serviceUrl, () => measureRun(probe, ` loaded${label}`));
      loaded.push(measured);
      background.push(bg);
      if (bg.non2xx + bg.errors + bg.timeouts > 0) {
        note(`background 16M load: ${bg.non2xx} non-2xx, ${bg.errors} errors, ${bg.timeouts} timeouts`);
      }
    }
    const p99Idle = median(idle.map((r) => r.p99));
    const p99Loaded = median(loaded.map((r) => r.p99));
    const ratios = loaded.map((r, i) => r.p99 / idle[i].p99);
    const done = background.reduce((sum, bg) => sum + bg.ok, 0);
    const seconds = background.reduce((sum, bg) => sum + bg.seconds, 0);
    addRow({
      section,
      case: name,
      figure: p99Loaded,
      figureText: `p99 ${fmt(p99Loaded)} ms (${fmt(median(loaded.map((r) => r.rps)))} req/s; background ${done} x 64 MiB done, ${fmt((done * 64) / seconds)} MiB/s)`,
      baseline: p99Idle,
      baselineText: `p99 ${fmt(p99Idle)} ms idle (${fmt(median(idle.map((r) => r.rps)))} req/s)`,
      target,
      ratioSpread: spread(ratios),
      foreignCores: Math.max(...idle.map((r) => r.foreignCores), ...loaded.map((r) => r.foreignCores)),
      detail: { idle, loaded, background },
    });
  } catch (e) {
    errorRow(section, name, failed(section, e), target);
  }
}

/** The background's 64 MiB body, built once. */
let backgroundBody: Buffer | undefined;

/** Runs `measure` while 16M-element binary requests flow to the service from a second load generator. */
async function underBackgroundLoad(
  serviceUrl: string,
  measure: () => Promise<Measured>,
): Promise<{ measured: Measured; bg: LoadResult }> {
  const backgroundSeconds = 1 + SETTINGS.warmup + SETTINGS.duration + 1;
  log(
    `background: 16M-element binary requests, ${BACKGROUND_CONNECTIONS} connection(s), ${backgroundSeconds}s (${loader.name})`,
  );
  const url = `${serviceUrl}/v1/dropout?p=0.5&seed=1`;
  if (loader.name === 'wrk') {
    // wrk, in C, is a child of the harness itself: the exit handlers kill it and the CPU meter counts it as ours.
    backgroundBody ??= float32Body(16 * M, 2);
    const done = runLoad(
      {
        url,
        method: 'POST',
        headers: BINARY_HEADERS,
        body: backgroundBody,
        connections: BACKGROUND_CONNECTIONS,
        duration: backgroundSeconds,
        warmup: 0,
      },
      'wrk',
    );
    // Settled now so that a failing wrk cannot become an unhandled rejection while the probe runs.
    const settled = done.then(
      (bg) => ({ bg }),
      (error: unknown) => ({ error }),
    );
    await sleep(1000);
    const measured = await measure();
    const outcome = await settled;
    if ('error' in outcome) throw outcome.error;
    return { measured, bg: outcome.bg };
  }
  // autocannon runs in JavaScript: its own process, so that it does not share the harness's event loop.
  const loadSpec = JSON.stringify({
    url,
    elements: 16 * M,
    connections: BACKGROUND_CONNECTIONS,
    duration: backgroundSeconds,
  });
  const child = spawnChild('background load', process.execPath, ['--import', 'tsx', 'bench/load.ts', loadSpec], {
    cwd: ROOT,
  });
  await waitForOutput(child, /^started$/m, 60_000);
  await sleep(1000);
  const measured = await measure();
  await child.exited;
  const last = child.output().trim().split('\n').pop() ?? '';
  return { measured, bg: JSON.parse(last) as LoadResult };
}

// ---------------------------------------------------------------------------------------------------------------
// Kernel and pool

async function kernelCases(torchAvailable: boolean): Promise<SweepPoint[]> {
  const section = 'kernel';
  const { kernels, notes: kernelNotes } = await loadKernels();
  for (const text of kernelNotes) note(text);
  log(`kernel sweep, float32: ${kernels.map((k) => k.name).join(', ')}, memcpy`);
  const sweepForeign = foreignCpuMeter();
  const points = await kernelSweep({ dtypes: ['float32'], reps: SETTINGS.reps, minMs: SETTINGS.minMs, kernels });
  const kernelForeign = sweepForeign();
  for (const text of checkKernels(kernels)) note(text);
  let torchPoints: SweepPoint[] = [];
  let torchLabel = 'torch skipped';
  if (torchAvailable) {
    log('torch F.dropout sweep, float32, 1 thread (bench/torch_dropout.py)');
    const torch = await torchSweep({ dtypes: ['float32'], reps: SETTINGS.reps, minMs: SETTINGS.minMs });
    if ('error' in torch) note(`torch: ${torch.error}`);
    else {
      torchPoints = torch.points;
      torchLabel = `torch ${torch.version}`;
    }
  }
  const at16M = (impl: string, list = points) => list.find((p) => p.impl === impl && p.n === 16 * M)?.mps ?? null;
  const torch16M = at16M('torch F.dropout', torchPoints);
  // The 10x target is the service's kernel's: WASM where the runtime has SIMD (loadKernels leaves it out otherwise),
  // else JS. The other row is the plain-JS kernel, a reference without a target.
  const serviceKernel = kernels.some((k) => k.name === 'WASM kernel') ? 'WASM kernel' : 'JS kernel';
  for (const kernel of kernels) {
    const mps = at16M(kernel.name);
    addRow({
      section,
      case: `${kernel.name} 16M float32, 1 thread vs torch F.dropout`,
      figure: mps,
      figureText: `${fmt(mps)} M el/s`,
      baseline: torch16M,
      baselineText: torch16M === null ? 'skipped' : `${fmt(torch16M)} M el/s (${torchLabel}, 1 thread)`,
      target: kernel.name === serviceKernel ? { op: '>=', value: 10 } : null,
      foreignCores: kernelForeign,
    });
  }
  const memcpy = at16M('memcpy');
  const best = Math.max(...kernels.map((k) => at16M(k.name) ?? 0));
  addRow({
    section,
    case: 'memcpy 16M float32 (Float32Array#set); ratio = fastest kernel / memcpy',
    figure: memcpy,
    figureText: `${fmt(memcpy)} M el/s`,
    baseline: null,
    baselineText: '',
    ratio: memcpy ? best / memcpy : null,
    target: null,
    foreignCores: kernelForeign,
  });
  if (!kernels.some((k) => k.name === 'WASM kernel')) {
    errorRow(section, 'WASM kernel 16M float32, 1 thread vs torch F.dropout', 'skipped (no WASM kernel)');
  }

  const poolName = 'pool 16M float32 (its kernel, in shared memory): 2 workers vs 1 worker';
  try {
    log(
      `pool: 16M float32, 1 worker then 2 workers, and the host's 2-thread scaling, ${SETTINGS.rounds} alternating rounds`,
    );
    const poolForeign = foreignCpuMeter();
    // Alternating rounds and medians, as the HTTP rows: one pass of each would read drift on a shared VM as scaling.
    const reps = Math.max(2, Math.ceil(SETTINGS.reps / SETTINGS.rounds));
    const ones: number[] = [];
    const twos: number[] = [];
    // The host's own scaling, measured in the same rounds: what a second thread gets here at all.
    const hostOnes: number[] = [];
    const hostTwos: number[] = [];
    for (let round = 0; round < SETTINGS.rounds; round++) {
      ones.push(await poolThroughput(1, 16 * M, reps, SETTINGS.poolMinMs));
      twos.push(await poolThroughput(2, 16 * M, reps, SETTINGS.poolMinMs));
      hostOnes.push(await threadScaling(1, reps, SETTINGS.poolMinMs));
      hostTwos.push(await threadScaling(2, reps, SETTINGS.poolMinMs));
    }
    const one = median(ones);
    const two = median(twos);
    const ratios = twos.map((t, i) => t / ones[i]);
    const hostRatios = hostTwos.map((t, i) => t / hostOnes[i]);
    const foreignCores = poolForeign();
    addRow({
      section,
      case: 'host: 2 threads vs 1, the WASM kernel on cache-resident data, no pool (reference for the pool row)',
      figure: median(hostTwos),
      figureText: `${fmt(median(hostTwos))} M el/s (rounds: ${perRound(hostRatios)})`,
      baseline: median(hostOnes),
      baselineText: `${fmt(median(hostOnes))} M el/s`,
      target: null,
      foreignCores,
    });
    addRow({
      section,
      case: poolName,
      figure: two,
      figureText: `${fmt(two)} M el/s (rounds: ${perRound(ratios)})`,
      baseline: one,
      baselineText: `${fmt(one)} M el/s`,
      target: { op: '>=', value: 1.8 },
      foreignCores,
    });
  } catch (e) {
    errorRow(section, poolName, failed('pool', e), { op: '>=', value: 1.8 });
  }
  return [...points, ...torchPoints];
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function targetText(t: Target | null): string {
  return t === null ? '' : `${t.op} ${t.value}`;
}

function printTable(): string {
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
      row.ratio === null ? '—' : `${fmt(row.ratio)}x${row.ratioSpread ? ` ${row.ratioSpread}` : ''}`,
      targetText(row.target),
      `${row.pass === null ? (row.target ? 'n/a' : '') : row.pass ? 'PASS' : 'FAIL'}${
        (row.foreignCores ?? 0) >= NOISY_CORES ? ` (noisy ${fmt(row.foreignCores)})` : ''
      }`.trim(),
    ]);
  }
  return textTable(header, body);
}

async function main(): Promise<void> {
  loader = await chooseLoader(loaderArgument());
  log(`dropout-service benchmark${QUICK ? ' (--quick)' : ''}: ${JSON.stringify(SETTINGS)}`);
  log(`HTTP load: ${loader.version ?? loader.name} (${loader.reason})`);
  note(
    `HTTP load generator: ${loader.name}${loader.version ? ` (${loader.version})` : ''}, ${loader.reason}; ${
      loader.name === 'wrk'
        ? `wrk -t1 -c${SETTINGS.connections} --latency --timeout 30s, request from a Lua script (p99 from its --latency distribution)`
        : `autocannon in the harness process, ${SETTINGS.connections} connections (p99 from every 2xx response time)`
    }; background 16M load in responsiveness: ${loader.name} too, in its own process`,
  );
  note(
    `HTTP comparison rows: ${SETTINGS.rounds} alternating rounds (subject, reference, subject, ...) of ${SETTINGS.warmup}s warm-up + ${SETTINGS.duration}s each; figures are per-side medians of req/s and of p99, ratio = median/median, (a–b) = range of the per-round ratios`,
  );
  const python = await ensurePython();
  await build();

  const sweep = await kernelCases(python.torch);

  log('starting the service and its baselines');
  const [service, baseline, nodeHttp, fastapi] = await Promise.all([
    startService(),
    startTsBaseline('fastify baseline', 'bench/baseline-server.ts'),
    // Only a reference row uses it, and --quick leaves reference rows out.
    QUICK
      ? Promise.resolve(null)
      : startTsBaseline('node:http baseline', 'bench/node-http-baseline.ts').catch((e: unknown) => {
          failed('starting the node:http baseline', e);
          return null;
        }),
    python.fastapi
      ? startFastapi().catch((e: unknown) => {
          failed('starting the FastAPI baseline', e);
          return null;
        })
      : Promise.resolve(null),
  ]);
  const pid = service.child.proc.pid;
  if (pid === undefined) throw new Error('the service has no pid');

  log('memory: one 64 MiB request on the fresh service');
  await memoryCase(service.url, pid);

  const svcUrl = `${service.url}/v1/dropout`;
  const svcBinUrl = `${svcUrl}?p=0.5&seed=1`;
  const svc = {
    json16: jsonCase('service JSON 16', svcUrl, 16, 'output', true),
    json64K: jsonCase('service JSON 64K', svcUrl, 64 * K, 'output', true),
    bin64K: binaryCase('service binary 64K', svcBinUrl, 64 * K),
    bin1M: binaryCase('service binary 1M', svcBinUrl, M),
  };
  const base = baseline.url;
  const hello: HttpCase = {
    name: 'hello',
    spec: { url: `${base}/hello` },
    check: (status, body) => (status === 200 && body.toString() === '{"hello":"world"}' ? null : `status ${status}`),
  };
  const atLeast = (value: number): Target => ({ op: '>=', value });
  const nodeHttpRow = 'JSON 16: bare node:http JSON echo vs Fastify GET /hello (reference)';
  const bareRows: Array<[string, HttpCase, HttpCase, Target | null]> = [
    ['JSON 16: service vs GET /hello', svc.json16, hello, atLeast(0.6)],
    // The framework's own ceiling for the same request, for reference: parsing and answering a 16-value JSON body.
    [
      'JSON 16: bare Fastify JSON echo vs GET /hello (reference)',
      jsonCase('echo JSON 16', `${base}/echo-json`, 16, 'input', true),
      hello,
      null,
    ],
    // Below any framework: Node's HTTP server alone reading, parsing and answering the same body.
    ...(nodeHttp
      ? [
          [
            nodeHttpRow,
            jsonCase('node:http echo JSON 16', `${nodeHttp.url}/echo-json`, 16, 'input', true),
            hello,
            null,
          ] satisfies [string, HttpCase, HttpCase, null],
        ]
      : []),
    [
      'binary 64K: service vs binary echo',
      svc.bin64K,
      binaryCase('echo binary 64K', `${base}/echo`, 64 * K),
      atLeast(0.8),
    ],
    ['binary 1M: service vs binary echo', svc.bin1M, binaryCase('echo binary 1M', `${base}/echo`, M), atLeast(0.8)],
    [
      'JSON 64K: service vs JSON echo',
      svc.json64K,
      jsonCase('echo JSON 64K', `${base}/echo-json`, 64 * K, 'input', false),
      atLeast(1.5),
    ],
  ];
  for (const [name, subject, reference, target] of bareRows) {
    // The reference rows are left out of --quick, which must stay under two minutes.
    if (QUICK && target === null) continue;
    await compare('HTTP vs bare Fastify', name, subject, reference, target);
  }
  if (!QUICK && nodeHttp === null) errorRow('HTTP vs bare Fastify', nodeHttpRow, 'skipped (no node:http baseline)');

  const fastapiRows: Array<[string, HttpCase, (url: string) => HttpCase, Target | null]> = [
    ['JSON 16', svc.json16, (u) => jsonCase('fastapi JSON 16', `${u}/dropout`, 16, 'output', true), null],
    ['JSON 64K', svc.json64K, (u) => jsonCase('fastapi JSON 64K', `${u}/dropout`, 64 * K, 'output', true), null],
    [
      'binary 64K',
      svc.bin64K,
      (u) => binaryCase('fastapi binary 64K', `${u}/dropout?p=0.5&seed=1`, 64 * K),
      { op: '>=', value: 5 },
    ],
    [
      'binary 1M',
      svc.bin1M,
      (u) => binaryCase('fastapi binary 1M', `${u}/dropout?p=0.5&seed=1`, M),
      { op: '>=', value: 5 },
    ],
  ];
  for (const [label, subject, reference, target] of fastapiRows) {
    const name = `${label}: service vs FastAPI`;
    if (fastapi === null) errorRow('HTTP vs FastAPI + PyTorch', name, 'skipped (no FastAPI baseline)', target);
    else await compare('HTTP vs FastAPI + PyTorch', name, subject, reference(fastapi.url), target);
  }
  await responsivenessCase(service.url);

  log('stopping the servers');
  await stopAllChildren();

  const table = printTable();
  const elapsed = (performance.now() - startedAt) / 1000;
  if (rows.some((r) => (r.foreignCores ?? 0) >= NOISY_CORES)) {
    note(
      `"noisy N": other processes used N cores on average (of ${availableParallelism()}) while that row was measured, so its figures are low or skewed`,
    );
  }
  const header = `dropout-service benchmark ${QUICK ? '(--quick) ' : ''}— ${new Date().toISOString()} — node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), load average before ${loadBefore.toFixed(2)}; service WORKERS=2; ${loader.name} ${SETTINGS.connections} connections, ${SETTINGS.rounds} rounds of ${SETTINGS.warmup}s warm-up + ${SETTINGS.duration}s per side`;
  console.log(`\n${header}\n\n${table}\n`);
  for (const note of notes) console.log(`note: ${note}`);
  const missed = rows.filter((r) => r.pass === false).length;
  const passed = rows.filter((r) => r.pass === true).length;
  console.log(`\n${passed} targets met, ${missed} missed; ${elapsed.toFixed(0)} s in all`);

  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(
    resolve(RESULTS_DIR, 'latest.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        quick: QUICK,
        node: process.version,
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model,
        loadAverageBefore: loadBefore,
        settings: { ...SETTINGS, backgroundConnections: BACKGROUND_CONNECTIONS },
        loader,
        elapsedSeconds: elapsed,
        rows,
        notes,
        kernelSweep: sweep,
      },
      null,
      2,
    )}\n`,
  );
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

try {
  await main();
} finally {
  await stopAllChildren();
}
