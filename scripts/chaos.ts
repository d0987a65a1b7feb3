/**
 * npm run chaos: about a minute of well-behaved and hostile clients at once against one service process on
 * 127.0.0.1, then a check that the service gave back everything they took. Bounded in time and counts; stops by
 * itself; exit 0 on pass, 1 on any failure.
 *
 * The service runs from source (`node --import tsx src/server.ts`, PORT=0, its "listening at" line read from stdout)
 * with the Kubernetes deployment's MAX_BODY_BYTES (64 MiB) and LOG_LEVEL (info), the start script's GLIBC_TUNABLES,
 * a 256 MiB MAX_INFLIGHT_BYTES that the hostile loops can fill, and BODY_IDLE_TIMEOUT_MS 2000.
 * `npm run chaos -- --defaults` runs it with the service's own defaults for those instead.
 *
 * For MIX_MS, each in its own loop:
 * - well-behaved clients: /v1/dropout binary float32 (16 to 1M elements), /v1/dropout JSON (16 to 1,024 values) and
 *   /v2/models/dropout/infer with a binary input and output. Each must get 200 with exactly test/reference.ts's
 *   bytes, or 503 with Retry-After.
 * - hang-ups mid-reply: a 4 MiB request, 2,000 bytes of the reply read, the socket destroyed.
 * - aborted uploads: 8 MiB declared, 1-3 MiB sent, the socket destroyed.
 * - trickled uploads (a byte every 100-300 ms of a 8-32 byte body; 200 exact or 503) and silent ones (a declared
 *   body that never comes: 408 after BODY_IDLE_TIMEOUT_MS, then the connection closed).
 * - gzip bombs: ~1 MB of gzip that inflates to 1 GiB, past MAX_BODY_BYTES: 413.
 * - /v2 asking for "output" 1,000 times: 400.
 * - a 1 MB seed string: 400 with a reply under 2 KB.
 * - connection floods: 200 idle connections held for a second.
 * Any hostile request may also get 503 with Retry-After (the byte budget is meant to fill up).
 *
 * Afterwards: the in-flight gauges of /metrics back to 0 within QUIESCE_MS, /healthz and /readyz 200, the buffer
 * cache trimmed once idle, RSS within RSS_MARGIN (plus the free heap glibc is told to keep) of its figure after
 * warm-up, no error-level log line, and SIGTERM ends the service with exit code 0. A run takes about two minutes.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { fmt, textTable } from '../bench/lib/format.js';
import { ROOT } from '../bench/lib/paths.js';
import { spawnChild, stopChild } from '../bench/lib/processes.js';
import { EnvSchema, loadConfig } from '../src/config.js';
import { referenceDropout } from '../test/reference.js';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const MiB = 2 ** 20;
const DEFAULTS = process.argv.includes('--defaults');
const MIX_MS = 60_000;
/** A loaded machine (2 cores shared) can take tens of seconds to start tsx and the pool threads. */
const START_TIMEOUT_MS = 60_000;
const QUIESCE_MS = 15_000;
/**
 * The buffer cache is trimmed by a check that runs every 10 s and fires once it has been idle 10 s, so the trim
 * lands 10-20 s after the last request; the collection that returns the memory follows a second later.
 */
const TRIM_WAIT_MS = 25_000;
/** Longer than the service's 30 s REQUEST_TIMEOUT_MS: by then it must have answered, if only with 504. */
const REPLY_TIMEOUT_MS = 45_000;
/**
 * How far above its post-warm-up figure the service's RSS may end, besides what glibc is told to keep (below).
 * Tensor memory must all be gone by then (the buffer cache is trimmed and collected, which is checked on its own);
 * what legitimately stays is V8's old space grown by a minute of parsing (HEAP_GROWING_PERCENT lets it grow to 4x
 * before collecting), JIT code and the pool threads' own heaps: a few tens of MiB. 150 MiB sits well above that and
 * well below what leaked requests would leave (a dozen of the 4-16 MiB bodies sent here).
 */
const RSS_MARGIN = 150 * MiB;
const RSS_SAMPLE_MS = 250;

const GOOD_LOOPS = 3;
const TRICKLE_LOOPS = 3;
const SILENT_LOOPS = 4;
const GZIP_BOMBS = 5;
const FLOODS = 6;
const FLOOD_CONNECTIONS = 200;
const HANG_UP_AFTER = 2000;
const SMALL_ERROR_REPLY = 2048;

/** The deployment's settings (deploy/k8s/deployment.yaml) and a byte budget small enough to be reached. */
const K8S_SETTINGS: Record<string, string> = {
  MAX_BODY_BYTES: String(64 * MiB),
  MAX_INFLIGHT_BYTES: String(256 * MiB),
  BODY_IDLE_TIMEOUT_MS: '2000',
};

function serviceEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  // Settings exported in this shell must not leak into a run that says which settings it uses.
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !Object.hasOwn(EnvSchema.properties, name)) env[name] = value;
  }
  // The allocator setting the container ships with decides how much freed memory goes back to the system.
  const start = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts
    .start;
  const tunables = /GLIBC_TUNABLES=(\S+)/.exec(start ?? '')?.[1];
  if (tunables !== undefined) env.GLIBC_TUNABLES = tunables;
  return {
    ...env,
    HOST: '127.0.0.1',
    PORT: '0',
    GRPC_PORT: '0',
    LOG_LEVEL: 'info',
    ...(DEFAULTS ? {} : K8S_SETTINGS),
  };
}

const env = serviceEnv();
const config = loadConfig(env);
/**
 * Freed memory glibc keeps mapped at the top of its heap (GLIBC_TUNABLES trim_threshold, 256 MiB as shipped, so
 * that Node's 64 KiB socket and parser Buffers do not fault the same pages in again for every large body). A minute
 * of this mix leaves 100-220 MiB of freed heap resident (malloc_trim(0) from gdb hands it all back): RSS may end up
 * to that much higher without anything being held.
 */
const ALLOCATOR_KEEPS = Number(/glibc\.malloc\.trim_threshold=(\d+)/.exec(env.GLIBC_TUNABLES ?? '')?.[1] ?? 0);

const watchdog = setTimeout(
  () => {
    process.stderr.write('chaos: watchdog: still running far past its time; stopping\n');
    process.exit(1);
  },
  START_TIMEOUT_MS + MIX_MS + 2 * REPLY_TIMEOUT_MS + QUIESCE_MS + TRIM_WAIT_MS + 60_000,
);
watchdog.unref();

// ---------------------------------------------------------------------------------------------------------------
// Outcomes

const tallies = new Map<string, Map<string, number>>();
const failures: string[] = [];
let failureCount = 0;
const GOOD = ['good v1 binary', 'good v1 JSON', 'good v2 binary'] as const;

function record(behaviour: string, outcome: string): void {
  const outcomes = tallies.get(behaviour) ?? new Map<string, number>();
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  tallies.set(behaviour, outcomes);
}

function fail(behaviour: string, outcome: string, detail: string): void {
  record(behaviour, `FAIL: ${outcome}`);
  failureCount++;
  if (failures.length < 10) failures.push(`${behaviour}: ${outcome}: ${detail.slice(0, 300)}`);
}

/** A 503 is a legitimate answer to anyone when it says to retry; labelled by the limit it names. */
function shed(behaviour: string, retryAfter: string | null | undefined, body: string): void {
  const limit = /MAX_INFLIGHT_BYTES|MAX_QUEUE|event loop/.exec(body)?.[0] ?? 'other';
  if (retryAfter) record(behaviour, `503 + Retry-After (${limit})`);
  else fail(behaviour, '503 without Retry-After', body);
}

// ---------------------------------------------------------------------------------------------------------------
// Expected outputs

const P_VALUES = [0.1, 0.25, 0.5, 0.75, 0.9];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];
const randomSeed = () => randomBytes(8).readBigUInt64LE(0);
const bytesOf = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

function randomInput(n: number): Float32Array {
  const x = new Float32Array(n);
  // Negative values too: a dropped one is -0, whose sign the reply must keep.
  for (let i = 0; i < n; i++) x[i] = (Math.random() - 0.5) * 8;
  return x;
}

interface Case {
  x: Float32Array;
  p: number;
  seed: bigint;
  expected: Buffer;
}

function freshCase(n: number): Case {
  const x = randomInput(n);
  const p = pick(P_VALUES);
  const seed = randomSeed();
  return { x, p, seed, expected: bytesOf(referenceDropout(x, p, seed).out as Float32Array) };
}

/**
 * The reference takes ~3 µs an element, too slow for a fresh seed on every large request. It computes element i
 * from x[i], p, seed and i alone, so the first n elements of its output for x are its output for the first n of
 * x: a few long cases, computed once, give the expected bytes of any shorter prefix.
 */
const FRESH_MAX = 4096;
const LONG_LENGTHS = [2 ** 20, 2 ** 19, 2 ** 18, 2 ** 18, 2 ** 16, 2 ** 16, 2 ** 16, 2 ** 16];
const longCases: Case[] = [];

function prepareLongCases(): void {
  for (const n of LONG_LENGTHS) {
    const c = freshCase(n);
    const head = referenceDropout(c.x.subarray(0, 64), c.p, c.seed).out as Float32Array;
    if (!bytesOf(head).equals(c.expected.subarray(0, 256))) throw new Error('reference prefixes differ');
    longCases.push(c);
  }
}

/** Random size, log-uniform over 16 .. 1M elements. */
function caseOfRandomSize(): Case {
  const n = Math.min(2 ** 20, Math.floor(16 * 2 ** (Math.random() * 16)));
  if (n <= FRESH_MAX) return freshCase(n);
  return prefix(pick(longCases.filter((l) => l.x.length >= n)), n);
}

function prefix(c: Case, n: number): Case {
  return { ...c, x: c.x.subarray(0, n), expected: c.expected.subarray(0, 4 * n) };
}

async function gzipBomb(): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < 1024; i++) if (!gzip.write(zeros)) await once(gzip, 'drain');
  gzip.end();
  await once(gzip, 'end');
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Raw connections: what hang-ups, trickles and silences need and fetch cannot do

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  complete: boolean;
}

function parseReply(bytes: Buffer): RawReply | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? Number.NaN);
  const body = bytes.subarray(end + 4);
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: Number.isFinite(length) ? body.subarray(0, length) : body,
    complete: Number.isFinite(length) && body.length >= length,
  };
}

function requestHead(path: string, headers: Record<string, string | number>): string {
  let text = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

class RawClient {
  closed = false;
  #chunks: Buffer[] = [];
  #length = 0;
  #wake: (() => void) | null = null;
  readonly #pendingWrites = new Set<(written: boolean) => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      this.#notify();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const settle of this.#pendingWrites) settle(false);
      this.#notify();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  get receivedBytes(): number {
    return this.#length;
  }

  reply(): RawReply | null {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return parseReply(this.#chunks[0] ?? Buffer.alloc(0));
  }

  /** Resolves true once written, false if the connection failed first. */
  write(data: Buffer | string): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = (written: boolean) => {
        this.#pendingWrites.delete(settle);
        resolve(written);
      };
      this.#pendingWrites.add(settle);
      this.socket.write(data, (error) => settle(!error));
    });
  }

  /** Waits until `done()` holds, the connection closes, or `timeoutMs` passes; says whether `done()` holds. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (this.closed || Date.now() >= deadline) return done();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** A fresh connection, or null with the failure recorded (and a pause, so a dead service is not spun on). */
async function connect(behaviour: string, port: number): Promise<RawClient | null> {
  try {
    return await RawClient.connect(port);
  } catch (error) {
    fail(behaviour, 'connect failed', (error as Error).message);
    await sleep(250);
    return null;
  }
}

const replied = (client: RawClient) => () => client.reply()?.complete === true;

// ---------------------------------------------------------------------------------------------------------------
// The service

const service = spawnChild('dropout-service', process.execPath, ['--import', 'tsx', 'src/server.ts'], {
  cwd: ROOT,
  env,
});
const pid = service.proc.pid!;
const errorLines: string[] = [];
let errorLineCount = 0;
const origin = new Promise<string>((resolve, reject) => {
  let partial = '';
  let found = false;
  service.proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const listening = found ? null : /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (listening) {
        found = true;
        resolve(listening[1]);
      }
      if (/"level":(50|60)/.test(line)) {
        errorLineCount++;
        if (errorLines.length < 3) errorLines.push(line.slice(0, 400));
      }
    }
  });
  void service.exited.then((code) =>
    reject(new Error(`the service exited (${code}) before listening:\n${service.output()}`)),
  );
  setTimeout(
    () => reject(new Error(`no "listening at" line in ${START_TIMEOUT_MS / 1000} s:\n${service.output()}`)),
    START_TIMEOUT_MS,
  ).unref();
});

/** Resident bytes of glibc's main heap, where Node's socket and HTTP-parser Buffers are allocated. */
function mainHeapBytes(): number {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const at = smaps.indexOf('[heap]');
  return at < 0 ? 0 : Number(/^Rss:\s+(\d+) kB/m.exec(smaps.slice(at))?.[1] ?? 0) * 1024;
}

function rssBytes(): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? Number.NaN) * 1024;
}

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const values: Record<string, number> = {};
  for (const match of text.matchAll(/^(dropout_(?:inflight_\w+|buffer_cache_bytes)) (\S+)$/gm)) {
    values[match[1]] = Number(match[2]);
  }
  return values;
}

const GAUGES = ['dropout_inflight_requests', 'dropout_inflight_computations', 'dropout_inflight_bytes'];

const MiBText = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------------------
// Well-behaved clients

async function goodRequest(url: string, kind: (typeof GOOD)[number], c: Case): Promise<void> {
  let path = `/v1/dropout?p=${c.p}&seed=${c.seed}`;
  let headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  let body: Buffer = bytesOf(c.x);
  if (kind === 'good v1 JSON') {
    path = '/v1/dropout';
    headers = { 'content-type': 'application/json' };
    body = Buffer.from(JSON.stringify({ input: Array.from(c.x), p: c.p, seed: String(c.seed) }));
  } else if (kind === 'good v2 binary') {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'input', shape: [c.x.length], datatype: 'FP32', parameters: { binary_data_size: body.length } },
        ],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
        parameters: { p: c.p, seed: String(c.seed) },
      }),
    );
    path = '/v2/models/dropout/infer';
    headers['inference-header-content-length'] = String(header.length);
    body = Buffer.concat([header, body]);
  }
  let res: Response;
  let reply: Buffer;
  try {
    res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(REPLY_TIMEOUT_MS),
    });
    reply = Buffer.from(await res.arrayBuffer());
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    fail(kind, 'no reply', `${c.x.length} elements: ${(error as Error).message} ${cause?.message ?? ''}`);
    // A service that is gone refuses at once: not a reason to spin.
    await sleep(250);
    return;
  }
  const what = `${c.x.length} elements, p ${c.p}, seed ${c.seed}`;
  if (res.status === 503) return shed(kind, res.headers.get('retry-after'), reply.toString('utf8', 0, 500));
  if (res.status !== 200) return fail(kind, `status ${res.status}`, `${what}: ${reply.toString('utf8', 0, 300)}`);
  let output = reply;
  try {
    if (kind === 'good v1 JSON') {
      output = bytesOf(Float32Array.from((JSON.parse(reply.toString('utf8')) as { output: number[] }).output));
    } else if (kind === 'good v2 binary') {
      const length = Number(res.headers.get('inference-header-content-length'));
      JSON.parse(reply.toString('utf8', 0, length));
      output = reply.subarray(length);
    }
  } catch (error) {
    return fail(kind, 'unreadable 200', `${what}: ${(error as Error).message}`);
  }
  if (output.equals(c.expected)) record(kind, '200, exact bytes');
  else fail(kind, '200, wrong bytes', what);
}

async function goodLoop(url: string, until: number): Promise<void> {
  while (Date.now() < until) {
    const r = Math.random();
    const kind = r < 0.5 ? GOOD[0] : r < 0.75 ? GOOD[2] : GOOD[1];
    const c = kind === 'good v1 JSON' ? freshCase(Math.floor(16 * 2 ** (Math.random() * 6))) : caseOfRandomSize();
    await goodRequest(url, kind, c);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile clients

/** Sends a whole request over a fresh connection and reads its reply; write errors after the reply do not count. */
async function rawRequest(behaviour: string, port: number, request: Buffer): Promise<RawReply | null> {
  const client = await connect(behaviour, port);
  if (client === null) return null;
  void client.write(request);
  await client.until(replied(client), REPLY_TIMEOUT_MS);
  client.destroy();
  const reply = client.reply();
  if (reply === null || !reply.complete) fail(behaviour, 'no complete reply', `${client.receivedBytes} bytes`);
  return reply?.complete ? reply : null;
}

async function hangUpLoop(port: number, until: number): Promise<void> {
  const behaviour = 'hang-up mid-reply';
  const c = longCases[0];
  const body = bytesOf(c.x);
  const request = Buffer.concat([
    Buffer.from(
      requestHead(`/v1/dropout?p=${c.p}&seed=${c.seed}`, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
      }),
    ),
    body,
  ]);
  while (Date.now() < until) {
    const client = await connect(behaviour, port);
    if (client === null) continue;
    void client.write(request);
    await client.until(() => {
      const reply = client.reply();
      return reply !== null && (reply.status === 200 ? client.receivedBytes >= HANG_UP_AFTER : reply.complete);
    }, REPLY_TIMEOUT_MS);
    client.destroy();
    const reply = client.reply();
    if (reply?.status === 200 && client.receivedBytes >= HANG_UP_AFTER) record(behaviour, '200, hung up');
    else if (reply?.status === 503) shed(behaviour, reply.headers['retry-after'], reply.body.toString());
    else fail(behaviour, reply ? `status ${reply.status}` : 'no reply', `${client.receivedBytes} bytes`);
    await sleep(250);
  }
}

async function abortedUploadLoop(port: number, until: number): Promise<void> {
  const behaviour = 'aborted upload';
  const filler = Buffer.alloc(3 * MiB, 1);
  while (Date.now() < until) {
    const client = await connect(behaviour, port);
    if (client === null) continue;
    const sent = MiB + Math.floor(Math.random() * 2 * MiB);
    const head = requestHead('/v1/dropout?p=0.5&seed=1', {
      'content-type': 'application/octet-stream',
      'content-length': 8 * MiB,
    });
    const written = await Promise.race([
      client.write(Buffer.concat([Buffer.from(head), filler.subarray(0, sent)])),
      sleep(10_000, false),
    ]);
    client.destroy();
    const reply = client.reply();
    if (reply?.status === 503) shed(behaviour, reply.headers['retry-after'], reply.body.toString());
    else if (reply !== null) fail(behaviour, `status ${reply.status} before the hang-up`, reply.body.toString());
    else record(behaviour, written ? 'hung up mid-upload' : 'hung up, upload stalled');
    await sleep(200);
  }
}

async function trickleLoop(port: number, until: number): Promise<void> {
  const behaviour = 'trickled upload';
  for (;;) {
    const c = freshCase(2 + Math.floor(Math.random() * 7));
    const body = bytesOf(c.x);
    // Not started unless it can finish inside the mix at the slowest pace.
    if (Date.now() + body.length * 300 > until) return;
    const client = await connect(behaviour, port);
    if (client === null) continue;
    await client.write(
      requestHead(`/v1/dropout?p=${c.p}&seed=${c.seed}`, {
        'content-type': 'application/octet-stream',
        'content-length': body.length,
      }),
    );
    for (let i = 0; i < body.length && !client.closed && client.reply() === null; i++) {
      await sleep(100 + Math.random() * 200);
      await client.write(body.subarray(i, i + 1));
    }
    await client.until(replied(client), REPLY_TIMEOUT_MS);
    client.destroy();
    const reply = client.reply();
    if (reply?.complete !== true) fail(behaviour, 'no complete reply', `${client.receivedBytes} bytes`);
    else if (reply.status === 503) shed(behaviour, reply.headers['retry-after'], reply.body.toString());
    else if (reply.status !== 200) fail(behaviour, `status ${reply.status}`, reply.body.toString());
    else if (reply.body.equals(c.expected)) record(behaviour, '200, exact bytes');
    else fail(behaviour, '200, wrong bytes', `${body.length / 4} elements, p ${c.p}, seed ${c.seed}`);
  }
}

let slowestSilenceMs = 0;

async function silentLoop(port: number, until: number): Promise<void> {
  const behaviour = 'silent upload';
  // Four silences declaring up to MAX_BODY_BYTES each fill a 256 MiB budget now and then: others must get 503.
  const declaredSizes = [64 * 1024, 32 * MiB, config.maxBodyBytes];
  // The idle timer runs on a timer wheel and the machine is shared: some seconds of slack before calling it late.
  const lateMs = config.bodyIdleTimeoutMs + 5000;
  while (Date.now() < until) {
    const client = await connect(behaviour, port);
    if (client === null) continue;
    const head = requestHead('/v1/dropout?p=0.5&seed=1', {
      'content-type': 'application/octet-stream',
      'content-length': pick(declaredSizes),
    });
    await client.write(Buffer.concat([Buffer.from(head), Buffer.alloc(Math.floor(Math.random() * 64), 1)]));
    const started = Date.now();
    await client.until(replied(client), lateMs + 10_000);
    const waited = Date.now() - started;
    const reply = client.reply();
    if (reply?.complete !== true) {
      fail(behaviour, 'no reply', `after ${waited} ms, ${client.closed ? 'closed' : 'open'}`);
    } else if (reply.status === 503) {
      shed(behaviour, reply.headers['retry-after'], reply.body.toString());
    } else if (reply.status !== 408) {
      fail(behaviour, `status ${reply.status}`, reply.body.toString());
    } else {
      slowestSilenceMs = Math.max(slowestSilenceMs, waited);
      const closed = await client.until(() => client.closed, 5000);
      if (!closed) fail(behaviour, '408, connection left open', `5 s after the reply`);
      else if (waited > lateMs) fail(behaviour, '408 late', `after ${waited} ms`);
      else record(behaviour, '408, then closed');
    }
    client.destroy();
  }
}

/** Runs `task` `times` times, spread evenly over the mix; the last one early enough to end near the mix's end. */
async function spread(times: number, started: number, until: number, task: () => Promise<void>): Promise<void> {
  for (let i = 0; i < times; i++) {
    const at = started + (i * (until - started)) / times;
    await sleep(Math.max(0, at - Date.now()));
    await task();
  }
}

async function gzipBombLoop(port: number, bomb: Buffer, started: number, until: number): Promise<void> {
  const behaviour = 'gzip bomb';
  const request = Buffer.concat([
    Buffer.from(
      requestHead('/v1/dropout?p=0.5&seed=1', {
        'content-type': 'application/octet-stream',
        'content-encoding': 'gzip',
        'content-length': bomb.length,
      }),
    ),
    bomb,
  ]);
  await spread(GZIP_BOMBS, started, until, async () => {
    const reply = await rawRequest(behaviour, port, request);
    if (reply === null) return;
    if (reply.status === 413) record(behaviour, '413');
    else if (reply.status === 503) shed(behaviour, reply.headers['retry-after'], reply.body.toString());
    else fail(behaviour, `status ${reply.status}`, reply.body.toString());
  });
}

/** Small requests with a fixed wrong answer, every `everyMs`: the reply must be `status` and small. */
async function badRequestLoop(
  url: string,
  behaviour: string,
  path: string,
  bodies: string[],
  everyMs: number,
  until: number,
): Promise<void> {
  for (let i = 0; Date.now() < until; i++) {
    try {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i % bodies.length],
        signal: AbortSignal.timeout(REPLY_TIMEOUT_MS),
      });
      const text = await res.text();
      if (res.status === 503) shed(behaviour, res.headers.get('retry-after'), text);
      else if (res.status !== 400) fail(behaviour, `status ${res.status}`, text);
      else if (text.length >= SMALL_ERROR_REPLY) fail(behaviour, `400 of ${text.length} bytes`, text);
      else record(behaviour, '400, small reply');
    } catch (error) {
      fail(behaviour, 'no reply', (error as Error).message);
    }
    await sleep(everyMs);
  }
}

async function floodLoop(port: number, started: number, until: number): Promise<void> {
  const behaviour = 'connection flood';
  await spread(FLOODS, started, until, async () => {
    const sockets = await Promise.allSettled(Array.from({ length: FLOOD_CONNECTIONS }, () => RawClient.connect(port)));
    const open = sockets.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (open.length < sockets.length) {
      const reason = sockets.find((s) => s.status === 'rejected') as PromiseRejectedResult;
      fail(behaviour, 'connect failed', `${sockets.length - open.length} of ${sockets.length}: ${reason.reason}`);
    }
    await sleep(1000);
    const closedEarly = open.filter((c) => c.closed).length;
    for (const c of open) c.destroy();
    record(behaviour, closedEarly === 0 ? `${FLOOD_CONNECTIONS} held 1 s` : `${closedEarly} closed by the service`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Run

process.stdout.write(
  `chaos: ${DEFAULTS ? "the service's default settings" : `MAX_BODY_BYTES ${K8S_SETTINGS.MAX_BODY_BYTES}, MAX_INFLIGHT_BYTES ${K8S_SETTINGS.MAX_INFLIGHT_BYTES}, BODY_IDLE_TIMEOUT_MS ${K8S_SETTINGS.BODY_IDLE_TIMEOUT_MS}`}` +
    ` (effective: max body ${MiBText(config.maxBodyBytes)}, byte budget ${MiBText(config.maxInflightBytes)}, body idle ${config.bodyIdleTimeoutMs} ms)\n` +
    `starting the service (pid ${pid}); computing reference outputs meanwhile …\n`,
);
const bombReady = gzipBomb();
prepareLongCases();
const url = await origin;
const bomb = await bombReady;
const port = Number(new URL(url).port);

let warmupRequests = 0;
for (const kind of GOOD) {
  for (const n of kind === 'good v1 JSON' ? [16, 1024] : [16, 4096, 65536, 2 ** 20]) {
    await goodRequest(url, kind, n <= FRESH_MAX ? freshCase(n) : prefix(longCases[0], n));
    warmupRequests++;
  }
}
// The mix's figures start here; warm-up failures are kept and checked on their own.
tallies.clear();
const warmupFailures = failureCount;
await sleep(500);
const rssStart = rssBytes();
const heapStart = mainHeapBytes();
let rssPeak = rssStart;
const sampler = setInterval(() => {
  try {
    rssPeak = Math.max(rssPeak, rssBytes());
  } catch {
    // gone: the checks below say so
  }
}, RSS_SAMPLE_MS);
process.stdout.write(
  `service at ${url}; warm-up ${warmupRequests} requests` +
    `${warmupFailures ? `, ${warmupFailures} FAILED` : ''}; RSS ${MiBText(rssStart)}\n` +
    `gzip bomb: ${fmt(bomb.length)} bytes, inflating to 1 GiB; mixing for ${MIX_MS / 1000} s …\n`,
);

const mixStart = Date.now();
const mixEnd = mixStart + MIX_MS;
const hugeSeeds = [`{"input":[1,2,3],"seed":"${'x'.repeat(MiB)}"}`, `{"input":[1,2,3],"seed":"${'1'.repeat(MiB)}"}`];
const repeatedOutputs = JSON.stringify({
  inputs: [{ name: 'input', shape: [4], datatype: 'FP32', data: [1, 2, 3, 4] }],
  outputs: Array.from({ length: 1000 }, () => ({ name: 'output' })),
  parameters: { p: 0.5, seed: '1' },
});
await Promise.all([
  ...Array.from({ length: GOOD_LOOPS }, () => goodLoop(url, mixEnd)),
  hangUpLoop(port, mixEnd),
  abortedUploadLoop(port, mixEnd),
  ...Array.from({ length: TRICKLE_LOOPS }, () => trickleLoop(port, mixEnd)),
  ...Array.from({ length: SILENT_LOOPS }, () => silentLoop(port, mixEnd)),
  gzipBombLoop(port, bomb, mixStart, mixEnd),
  badRequestLoop(url, 'v2 output listed 1,000 times', '/v2/models/dropout/infer', [repeatedOutputs], 2000, mixEnd),
  badRequestLoop(url, '1 MB seed string', '/v1/dropout', hugeSeeds, 2000, mixEnd),
  floodLoop(port, mixStart, mixEnd),
]);
const mixSeconds = (Date.now() - mixStart) / 1000;
process.stdout.write(`mix done after ${mixSeconds.toFixed(1)} s; waiting for the service to settle …\n`);

// Quiescence: everything the clients took is given back.
const quiesceStart = Date.now();
let gauges: Record<string, number> = {};
let gaugeError = '';
while (Date.now() - quiesceStart < QUIESCE_MS) {
  try {
    gauges = await metrics(url);
    gaugeError = '';
    if (GAUGES.every((g) => gauges[g] === 0)) break;
  } catch (error) {
    gaugeError = (error as Error).message;
  }
  await sleep(500);
}
const quiescedSeconds = (Date.now() - quiesceStart) / 1000;
const probe = async (path: string) => {
  try {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
};
const healthz = await probe('/healthz');
const readyz = await probe('/readyz');

// Idle until the buffer cache is trimmed and its memory collected.
const idleStart = Date.now();
let cached = Number.NaN;
while (Date.now() - idleStart < TRIM_WAIT_MS) {
  try {
    cached = (await metrics(url)).dropout_buffer_cache_bytes;
  } catch {
    cached = Number.NaN;
  }
  if (cached === 0) break;
  await sleep(1000);
}
await sleep(2000);
const idleSeconds = (Date.now() - idleStart) / 1000;
clearInterval(sampler);
const alive = service.proc.exitCode === null && service.proc.signalCode === null;
const rssEnd = alive ? rssBytes() : Number.NaN;
const heapEnd = alive ? mainHeapBytes() : Number.NaN;
rssPeak = Math.max(rssPeak, rssEnd);
const stopStarted = Date.now();
await stopChild(service, 15_000);
const stopSeconds = (Date.now() - stopStarted) / 1000;
const exitCode = service.proc.exitCode;

// ---------------------------------------------------------------------------------------------------------------
// Report

const rows: string[][] = [];
for (const [behaviour, outcomes] of tallies) {
  for (const [outcome, n] of [...outcomes].sort((a, b) => b[1] - a[1])) rows.push([behaviour, outcome, String(n)]);
}
process.stdout.write(`\n${textTable(['behaviour', 'outcome', 'count'], rows)}\n\n`);

const goodCount = (outcomeStart: string) =>
  GOOD.reduce(
    (n, kind) =>
      n + [...(tallies.get(kind) ?? [])].filter(([o]) => o.startsWith(outcomeStart)).reduce((a, [, c]) => a + c, 0),
    0,
  );
const goodOk = goodCount('200');
const goodShed = goodCount('503');
const goodFailed = goodCount('FAIL');
const hostileFailed = failureCount - warmupFailures - goodFailed;
const gaugeText = GAUGES.map((g) => `${g.replace('dropout_inflight_', '')} ${gauges[g] ?? '?'}`).join(', ');

const checks: Array<[string, boolean, string]> = [
  ['warm-up requests exact', warmupFailures === 0, `${warmupFailures} failed`],
  [
    'well-behaved: 200 exact or 503 + Retry-After',
    goodFailed === 0 && goodOk > 0,
    `${goodOk} × 200 exact, ${goodShed} × 503, ${goodFailed} failed (${fmt(goodOk / mixSeconds)} exact/s)`,
  ],
  ['hostile clients got their expected answers', hostileFailed === 0, `${hostileFailed} failed`],
  [
    'in-flight gauges 0 after the mix',
    GAUGES.every((g) => gauges[g] === 0),
    `${gaugeText} (after ${quiescedSeconds.toFixed(1)} s${gaugeError ? `; /metrics: ${gaugeError}` : ''})`,
  ],
  ['/healthz and /readyz 200', healthz === 200 && readyz === 200, `/healthz ${healthz}, /readyz ${readyz}`],
  [
    'buffer cache trimmed once idle',
    cached === 0,
    `dropout_buffer_cache_bytes ${cached} after ${idleSeconds.toFixed(1)} s idle`,
  ],
  [
    `RSS end ≤ start + ${MiBText(RSS_MARGIN)} + ${MiBText(ALLOCATOR_KEEPS)} glibc may keep`,
    rssEnd <= rssStart + RSS_MARGIN + ALLOCATOR_KEEPS,
    `start ${MiBText(rssStart)}, peak ${MiBText(rssPeak)} (MAX_INFLIGHT_BYTES ${MiBText(config.maxInflightBytes)}), ` +
      `end ${MiBText(rssEnd)}; glibc main heap ${MiBText(heapStart)} → ${MiBText(heapEnd)}`,
  ],
  ['no error-level log lines', errorLineCount === 0, `${errorLineCount}`],
  [
    'alive throughout, exit 0 on SIGTERM',
    alive && exitCode === 0,
    `alive ${alive}; exit code ${exitCode} ${stopSeconds.toFixed(1)} s after SIGTERM`,
  ],
];
process.stdout.write(
  `${textTable(
    ['check', 'result', 'figures'],
    checks.map(([name, ok, figures]) => [name, ok ? 'ok' : 'FAIL', figures]),
  )}\n`,
);
process.stdout.write(
  `\nsilent uploads: slowest 408 after ${slowestSilenceMs} ms (BODY_IDLE_TIMEOUT_MS ${config.bodyIdleTimeoutMs})\n`,
);
if (failures.length > 0) process.stdout.write(`\nfirst failures:\n  ${failures.join('\n  ')}\n`);
if (errorLines.length > 0) process.stdout.write(`\nfirst error-level log lines:\n  ${errorLines.join('\n  ')}\n`);
if (!alive || exitCode !== 0) process.stdout.write(`\nservice output (last lines):\n${service.output()}\n`);
const failed = checks.filter(([, ok]) => !ok).length;
process.stdout.write(`\n${failed === 0 ? 'chaos passed' : `chaos FAILED (${failed} check(s))`}\n`);
process.exit(failed === 0 ? 0 : 1);
