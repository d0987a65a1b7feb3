/**
 * Shared pieces of the benchmark harness: child processes that are always killed, free ports, readiness polling,
 * autocannon runs with exact latency percentiles, and deterministic request bodies.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BENCH_DIR = new URL('.', import.meta.url).pathname;
/** Debian's interpreter, where apt puts python3-torch; not whatever python3 is first on PATH. */
export const PYTHON = '/usr/bin/python3';

// ---------------------------------------------------------------------------------------------------------------
// Child processes

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Last lines of stderr + stdout, for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();

function killAllNow(): void {
  for (const child of children) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  }
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${children.size} child process(es)\n`);
      killAllNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    killAllNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    killAllNow();
    process.exit(1);
  });
}

/** Spawns a child that is killed when this process exits for any reason (normal end, error, signal). */
export function spawnChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  installExitHandlers();
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
    proc.once('error', (error) => {
      tail += `\nspawn error: ${error.message}`;
      children.delete(child);
      resolve(null);
    });
  });
  const child: Child = { name, proc, output: () => tail, exited };
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Runs a command to completion (killed at `timeoutMs`, or with this process); resolves with its code and output. */
export async function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  installExitHandlers();
  const { timeoutMs, ...spawnOptions } = options;
  const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('close', (code) => resolve(code));
    proc.once('error', (error) => {
      stderr += `spawn error: ${error.message}`;
      resolve(null);
    });
  });
  const child: Child = { name: command, proc, output: () => stderr.slice(-4000), exited };
  children.add(child);
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  if (timer) clearTimeout(timer);
  children.delete(child);
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------------------------
// CPU used by other processes (the machine is shared: a test run elsewhere halves what two cores can do)

const CLK_TCK = 100;

function busyTicks(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .slice(0, 200)
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + steal;
}

function pidTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (all threads)
  } catch {
    return 0;
  }
}

/**
 * Starts a meter of the CPU that processes other than this one and its live children use; calling the returned
 * function gives the average in cores since the start. Children that exit inside the window count as foreign, so
 * meter only windows in which the children stay up. Linux only (/proc); 0 elsewhere.
 */
export function foreignCpuMeter(): () => number {
  try {
    const pids = [process.pid, ...[...children].map((c) => c.proc.pid).filter((pid) => pid !== undefined)];
    const own = () => pids.reduce((sum, pid) => sum + pidTicks(pid), 0);
    const started = performance.now();
    const busy0 = busyTicks();
    const own0 = own();
    return () => {
      const seconds = (performance.now() - started) / 1000;
      const foreign = (busyTicks() - busy0 - (own() - own0)) / CLK_TCK;
      return seconds > 0 ? Math.max(0, foreign / seconds) : 0;
    };
  } catch {
    return () => 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Network

/** A TCP port the OS reports free on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}

/** Polls `url` until it answers 200; fails early with the child's output if the child exits. */
export async function waitReady(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.output()}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Load

// autocannon 8 appends every chunk of every response body to a string (`req.body += chunk`, a UTF-8 decode and a
// concatenation) to offer it to verifyBody/expectBody. For large replies that, not the server, is the bottleneck: it
// caps a 256 KiB echo at ~250 req/s on this machine. The harness checks replies itself (one request per case
// before the load), so the accumulation is turned off; byte counts and latencies are unaffected.
const PipelinedRequestsQueue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js') as {
  prototype: { addBody(data: unknown): void };
};
PipelinedRequestsQueue.prototype.addBody = () => {};

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  connections: number;
  /** Measured seconds. */
  duration: number;
  /** Seconds of unmeasured load first (0: none). */
  warmup: number;
}

export interface LoadResult {
  /** Completed 2xx responses per second. */
  rps: number;
  /** Latency percentiles of 2xx responses, ms (exact: computed from every response, not autocannon's 1 ms bins). */
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function autocannonOnce(spec: LoadSpec, duration: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: spec.method ?? 'GET',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        duration,
        // Stop within 100 ms of `duration` (autocannon checks its stop flag once per sample interval).
        sampleInt: 100,
        timeout: 30,
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        latencies.push(responseTime);
      } else {
        non2xx++;
      }
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: ok / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    ok,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
  };
}

/** An autocannon run after a warm-up run; req/s and latency from the measured run only. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmup > 0) await autocannonOnce(spec, spec.warmup);
  return autocannonOnce(spec, spec.duration);
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies (deterministic, so every run sends the same bytes)

/** mulberry32: a tiny seeded PRNG for test data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values in [-4, 4) with at most 6 significant digits: the same text in JSON whether read as float32 or float64. */
export function sampleValues(n: number, seed = 1): number[] {
  const next = prng(seed);
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = Number(((next() - 0.5) * 8).toPrecision(6));
  return values;
}

/** Raw little-endian float32 bytes of n sample values. */
export function float32Body(n: number, seed = 1): Buffer {
  const next = prng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (next() - 0.5) * 8;
  return Buffer.from(data.buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(digits);
}

/** Left-aligned text table with a header rule. */
export function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
