/**
 * Shared pieces of the benchmark harness: child processes that are always killed, free ports, readiness polling,
 * HTTP load (wrk when it is on PATH, else autocannon with exact latency percentiles), and deterministic request
 * bodies.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
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

/**
 * Runs a command to completion (killed at `timeoutMs`, or with this process); resolves with its code and output.
 * `interruptMs`: send SIGINT then, and again every 250 ms until it exits (for commands that stop cleanly on it).
 */
export async function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number; interruptMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  installExitHandlers();
  const { timeoutMs, interruptMs, ...spawnOptions } = options;
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
  let interrupter: NodeJS.Timeout | undefined;
  const interrupt =
    interruptMs === undefined
      ? undefined
      : setTimeout(() => {
          proc.kill('SIGINT');
          interrupter = setInterval(() => proc.kill('SIGINT'), 250);
        }, interruptMs);
  const code = await exited;
  if (timer) clearTimeout(timer);
  if (interrupt) clearTimeout(interrupt);
  if (interrupter) clearInterval(interrupter);
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
    // utime, stime (all threads), cutime, cstime (children it has waited for: a wrk run that ended, for this process)
    return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  } catch {
    return 0;
  }
}

/**
 * Starts a meter of the CPU that processes other than this one and its children use; calling the returned
 * function gives the average in cores since the start. Children live at the start are read from /proc; children
 * started inside the window (a wrk run) count once they have exited and been reaped (they are then in this process's
 * cutime/cstime), so read the meter after they end. Linux only (/proc); 0 elsewhere.
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
  /**
   * Latency percentiles, ms. autocannon: of 2xx responses, exact (computed from every response, not autocannon's
   * 1 ms bins). wrk: its --latency distribution (every response, 2xx or not, to the microsecond).
   */
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

/** The HTTP load generator: wrk (C, one thread; what the project's figures are checked with) or autocannon (JS). */
export type LoaderName = 'wrk' | 'autocannon';

export interface Loader {
  name: LoaderName;
  /** wrk's version line (`wrk -v`), autocannon's package version; null if unknown. */
  version: string | null;
  /** Why this one (found on PATH, forced by --loader, ...). */
  reason: string;
}

/** The full path of `command` in a PATH directory, if it is there and executable. */
export function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function wrkVersion(): Promise<string | null> {
  // `wrk -v` prints "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer" and its usage, and exits 1.
  const { stdout, stderr } = await runCommand('wrk', ['-v'], { timeoutMs: 10_000 });
  const line = `${stdout}\n${stderr}`.split('\n').find((l) => /^wrk\s/.test(l.trim()));
  return line ? line.replace(/\s*Copyright.*$/, '').trim() : null;
}

function autocannonVersion(): string | null {
  try {
    const pkg = createRequire(import.meta.url)('autocannon/package.json') as { version?: string };
    return pkg.version ? `autocannon ${pkg.version}` : null;
  } catch {
    return null;
  }
}

/**
 * Picks the load generator: `requested` ('wrk' or 'autocannon', from --loader=...) if given, else wrk when it is on
 * PATH, else autocannon. Throws if wrk is requested and missing, or the name is unknown.
 */
export async function chooseLoader(requested?: string): Promise<Loader> {
  if (requested !== undefined && requested !== 'wrk' && requested !== 'autocannon') {
    throw new Error(`unknown loader "${requested}" (use --loader=wrk or --loader=autocannon)`);
  }
  const wrkPath = findOnPath('wrk');
  if (requested === 'autocannon' || (requested === undefined && wrkPath === null)) {
    return {
      name: 'autocannon',
      version: autocannonVersion(),
      reason: requested === 'autocannon' ? '--loader=autocannon' : 'wrk is not on PATH',
    };
  }
  if (wrkPath === null) throw new Error('--loader=wrk: wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)');
  return {
    name: 'wrk',
    version: await wrkVersion(),
    reason: requested === 'wrk' ? '--loader=wrk' : `found ${wrkPath}`,
  };
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

/** A Lua string literal (decimal escapes for anything but printable ASCII, quotes and backslashes). */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte}`;
  }
  return `${out}"`;
}

/** Writes the wrk script (method, headers, body read from a file) into `dir`; returns the script's path. */
async function writeWrkScript(spec: LoadSpec, dir: string): Promise<string> {
  const lines = [`wrk.method = ${luaString(spec.method ?? 'GET')}`];
  for (const [key, value] of Object.entries(spec.headers ?? {})) {
    lines.push(`wrk.headers[${luaString(key)}] = ${luaString(value)}`);
  }
  if (spec.body !== undefined) {
    const bodyPath = join(dir, 'body');
    await writeFile(bodyPath, spec.body);
    lines.push(
      `local file = assert(io.open(${luaString(bodyPath)}, "rb"))`,
      'wrk.body = file:read("*a")',
      'file:close()',
    );
  }
  const scriptPath = join(dir, 'request.lua');
  await writeFile(scriptPath, `${lines.join('\n')}\n`);
  return scriptPath;
}

const WRK_TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "635.91us", "1.20ms", "2.01s" (wrk's format_time_us) in ms; NaN if it does not parse. */
function wrkTimeMs(value: string, unit: string): number {
  const scale = WRK_TIME_UNITS_MS[unit];
  return scale === undefined ? Number.NaN : Number(value) * scale;
}

/** Parses the report of `wrk --latency`. Exported for a quick check against a saved report. */
export function parseWrkOutput(text: string): LoadResult {
  const summary = text.match(/^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m);
  const perSecond = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!summary || !perSecond) throw new Error(`wrk: no "requests in" / "Requests/sec" in its report:\n${text}`);
  const requests = Number(summary[1]);
  const seconds = wrkTimeMs(summary[2], summary[3]) / 1000;
  const quantile = (q: string) => {
    const match = text.match(new RegExp(`^\\s*${q}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm'));
    return match && requests > 0 ? wrkTimeMs(match[1], match[2]) : Number.NaN;
  };
  // wrk counts status >= 400 as "Non-2xx or 3xx responses"; both lines are printed only when non-zero.
  const non2xx = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const ok = Math.max(0, requests - non2xx);
  return {
    // Requests/sec counts every response; keep the 2xx share, like the autocannon path.
    rps: requests > 0 ? (Number(perSecond[1]) * ok) / requests : 0,
    p50: quantile('50'),
    p99: quantile('99'),
    ok,
    non2xx,
    errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    seconds,
  };
}

/**
 * One `wrk -t1 -c<connections> -d<seconds>s --latency --timeout 30s -s <script> <url>` run. wrk takes whole seconds
 * only; a fractional `duration` runs with -d rounded up and is ended by SIGINT at `duration` (wrk stops and prints
 * its report, over the time it actually ran).
 */
async function wrkOnce(spec: LoadSpec, duration: number, script: string): Promise<LoadResult> {
  const whole = Math.max(1, Math.ceil(duration));
  const args = ['-t1', `-c${spec.connections}`, `-d${whole}s`, '--latency', '--timeout', '30s', '-s', script, spec.url];
  const { code, stdout, stderr } = await runCommand('wrk', args, {
    timeoutMs: whole * 1000 + 30_000,
    interruptMs: duration < whole ? Math.max(1, Math.round(duration * 1000)) : undefined,
  });
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${code}: ${`${stderr}${stdout}`.trim()}`);
  return parseWrkOutput(stdout);
}

/**
 * A load run after a warm-up run (same generator, same connections); req/s and latency from the measured run only.
 * `loader` 'wrk' needs wrk on PATH (see chooseLoader); its script and body go to a temp directory, removed after.
 */
export async function runLoad(spec: LoadSpec, loader: LoaderName = 'autocannon'): Promise<LoadResult> {
  if (loader === 'autocannon') {
    if (spec.warmup > 0) await autocannonOnce(spec, spec.warmup);
    return autocannonOnce(spec, spec.duration);
  }
  const dir = await mkdtemp(join(tmpdir(), 'dropout-bench-wrk-'));
  try {
    const script = await writeWrkScript(spec, dir);
    if (spec.warmup > 0) await wrkOnce(spec, spec.warmup, script);
    return await wrkOnce(spec, spec.duration, script);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
