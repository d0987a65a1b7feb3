/**
 * npm run soak: a bounded, self-stopping mixed load on the built service at about twice what this machine serves.
 *
 *   1. `npm run build`, then `node dist/server.js` on a free 127.0.0.1 port with LOG_LEVEL=warn and a low MAX_QUEUE
 *      (when this build has that setting), killed whenever this process exits.
 *   2. Calibration: the mix, closed-loop at modest concurrency, measures C, the 200s per second the machine serves.
 *   3. Warm-up at 2·C (unmeasured), then the service's RSS is sampled: the start figure.
 *   4. Soak at 2·C offered (autocannon, overallRate) for the rest of SOAK_SECONDS; RSS sampled every second.
 *
 * The mix: JSON 16 and 4,096 values, raw binary 65,536 and 1,048,576 float32, Open Inference Protocol binary 16,384,
 * each request with a random seed and p. Every 200 body is checked against the service's own pure-JS kernel
 * (src/kernel/dropout.ts, not the WASM path that serves) and the 16-value ones also against test/reference.ts; a
 * 503 must be a problem document (OVERLOADED) with Retry-After. Checks (exit 1 if any fails): no status other than
 * 200 and 503, no connection errors or timeouts, 100% of 200s verified with no mismatch, end RSS ≤ 1.2 × start RSS.
 *
 * SOAK_SECONDS: total load time, calibration and warm-up included (default 90, at most 120). SOAK_MAX_QUEUE: the
 * MAX_QUEUE to start the service with (default 8). SOAK_CONNECTIONS: connections of the soak phase (default 96).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import {
  fmt,
  foreignCpuMeter,
  freePort,
  ROOT,
  runCommand,
  spawnChild,
  stopChild,
  textTable,
  waitReady,
} from '../bench/common.js';
import { EnvSchema } from '../src/config.js';
import { dropoutRange } from '../src/kernel/dropout.js';
import { philoxKey } from '../src/kernel/philox.js';
import { referenceDropout } from '../test/reference.js';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const TOTAL_SECONDS = Number(process.env.SOAK_SECONDS ?? 90);
if (!(TOTAL_SECONDS >= 20 && TOTAL_SECONDS <= 120)) throw new Error('SOAK_SECONDS must be between 20 and 120');
const CALIBRATION_SECONDS = Math.max(5, Math.round(TOTAL_SECONDS * 0.1));
const WARMUP_SECONDS = Math.max(5, Math.round(TOTAL_SECONDS * 0.15));
const SOAK_SECONDS = TOTAL_SECONDS - CALIBRATION_SECONDS - WARMUP_SECONDS;
const MAX_QUEUE = process.env.SOAK_MAX_QUEUE ?? '8';
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 96);
const RSS_GROWTH_LIMIT = 0.2;

// A hard stop, whatever happens: the child is killed by bench/common.ts's exit handlers.
const watchdog = setTimeout(
  () => {
    process.stderr.write('soak: watchdog: still running long after SOAK_SECONDS; stopping\n');
    process.exit(2);
  },
  (TOTAL_SECONDS + 180) * 1000,
);
watchdog.unref();

// ---------------------------------------------------------------------------------------------------------------
// autocannon hands response bodies to onResponse as one string built with `+=` (a UTF-8 decode: binary bodies lose
// bytes). Keep the raw chunks instead, so every body can be checked byte for byte. (bench/common.ts turns the
// accumulation off for throughput runs; this patch, applied after its import, replaces that one.)
const PipelinedRequestsQueue = createRequire(import.meta.url)('autocannon/lib/pipelinedRequestsQueue.js') as {
  prototype: { addBody(data: Buffer): void; peek(): { body: unknown } | undefined };
};
PipelinedRequestsQueue.prototype.addBody = function addBody(this: { peek(): { body: unknown } | undefined }, data) {
  const req = this.peek();
  if (!req) return;
  if (!Array.isArray(req.body)) req.body = [];
  (req.body as Buffer[]).push(data);
};

// ---------------------------------------------------------------------------------------------------------------
// The mix and what each reply must be

type Kind = 'json16' | 'json4k' | 'bin64k' | 'bin1m' | 'v2';
const KINDS: Kind[] = ['json16', 'json4k', 'bin64k', 'bin1m', 'v2'];
const WEIGHTS: Record<Kind, number> = { json16: 30, json4k: 20, bin64k: 25, bin1m: 10, v2: 15 };
const ELEMENTS: Record<Kind, number> = { json16: 16, json4k: 4096, bin64k: 65536, bin1m: 1 << 20, v2: 16384 };
const P_VALUES = [0.1, 0.25, 0.5, 0.75, 0.9];

function randomSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

function randomValues(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Number(((Math.random() - 0.5) * 8).toPrecision(6));
  return x;
}

/** Expected output by the service's pure-JS kernel (philox, standard variant, float32). */
function kernel(x: Float32Array, p: number, seed: bigint): { out: Float32Array; kept: number } {
  const out = new Float32Array(x);
  const [key0, key1] = philoxKey(seed);
  const kept = dropoutRange(out, 0, out.length, { dtype: 'float32', p, key0, key1, offset: 0 });
  return { out, kept };
}

interface Case {
  kind: Kind;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  expected: Buffer;
  kept: number;
  seed: bigint;
}

/** Binary kinds: a table of random (input, seed, p) with their expected outputs, computed once. */
const TABLE_SIZE: Partial<Record<Kind, number>> = { bin64k: 12, bin1m: 4, v2: 12 };

function binaryCase(kind: Kind, x: Float32Array): Case {
  const p = P_VALUES[Math.floor(Math.random() * P_VALUES.length)];
  const seed = randomSeed();
  const { out, kept } = kernel(x, p, seed);
  const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const expected = Buffer.from(out.buffer);
  if (kind !== 'v2') {
    return {
      kind,
      path: `/v1/dropout?p=${p}&seed=${seed}`,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      expected,
      kept,
      seed,
    };
  }
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', shape: [x.length], datatype: 'FP32', parameters: { binary_data_size: bytes.length } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
      parameters: { p, seed: String(seed) },
    }),
  );
  return {
    kind,
    path: '/v2/models/dropout/infer',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, bytes]),
    expected,
    kept,
    seed,
  };
}

const tables = new Map<Kind, Case[]>();
const json4kInputs: Float32Array[] = [];

function prepare(): void {
  for (const kind of ['bin64k', 'bin1m', 'v2'] as const) {
    const inputs = Array.from({ length: kind === 'bin1m' ? 2 : 4 }, () => randomValues(ELEMENTS[kind]));
    tables.set(
      kind,
      Array.from({ length: TABLE_SIZE[kind] ?? 1 }, (_, i) => binaryCase(kind, inputs[i % inputs.length])),
    );
  }
  for (let i = 0; i < 8; i++) json4kInputs.push(randomValues(4096));
}

/** JSON kinds: a fresh random seed every request; 16-value ones are checked against the BigInt reference too. */
function jsonCase(kind: 'json16' | 'json4k'): Case {
  const x = kind === 'json16' ? randomValues(16) : json4kInputs[Math.floor(Math.random() * json4kInputs.length)];
  const p = P_VALUES[Math.floor(Math.random() * P_VALUES.length)];
  const seed = randomSeed();
  const { out, kept } = kernel(x, p, seed);
  if (kind === 'json16') {
    const ref = referenceDropout(x, p, seed);
    if (!Buffer.from(ref.out.buffer).equals(Buffer.from(out.buffer)) || ref.kept !== kept) {
      throw new Error(`the kernel and the reference disagree (p ${p}, seed ${seed}): the soak cannot verify anything`);
    }
  }
  return {
    kind,
    path: '/v1/dropout',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ input: Array.from(x), p, seed: String(seed) })),
    expected: Buffer.from(out.buffer),
    kept,
    seed,
  };
}

const weightTotal = KINDS.reduce((sum, k) => sum + WEIGHTS[k], 0);

function nextCase(): Case {
  let r = Math.random() * weightTotal;
  let kind: Kind = 'json16';
  for (const k of KINDS) {
    r -= WEIGHTS[k];
    if (r < 0) {
      kind = k;
      break;
    }
  }
  if (kind === 'json16' || kind === 'json4k') return jsonCase(kind);
  const table = tables.get(kind)!;
  return table[Math.floor(Math.random() * table.length)];
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
}

/** Why a 200 reply is not the expected one, or null. */
function verify(c: Case, body: Buffer, headers: Record<string, unknown>): string | null {
  if (c.kind === 'json16' || c.kind === 'json4k') {
    const reply = JSON.parse(body.toString('utf8')) as { output: unknown[]; kept: number; seed: string };
    if (reply.seed !== String(c.seed)) return `seed ${reply.seed}, expected ${c.seed}`;
    if (reply.kept !== c.kept) return `kept ${reply.kept}, expected ${c.kept}`;
    const expected = new Float32Array(c.expected.buffer, c.expected.byteOffset, c.expected.byteLength / 4);
    if (!Array.isArray(reply.output) || reply.output.length !== expected.length) return 'output length';
    for (let i = 0; i < expected.length; i++) {
      const v = reply.output[i];
      if (typeof v !== 'number' || !Object.is(Math.fround(v), expected[i])) return `output[${i}] ${v} ≠ ${expected[i]}`;
    }
    return null;
  }
  if (c.kind === 'v2') {
    const length = Number(header(headers, 'inference-header-content-length'));
    if (!Number.isSafeInteger(length)) return 'no Inference-Header-Content-Length';
    const meta = JSON.parse(body.subarray(0, length).toString('utf8'));
    if (meta.parameters?.kept !== c.kept) return `kept ${meta.parameters?.kept}, expected ${c.kept}`;
    return body.subarray(length).equals(c.expected) ? null : 'output bytes differ';
  }
  if (header(headers, 'dropout-kept') !== String(c.kept)) return `Dropout-Kept ${header(headers, 'dropout-kept')}`;
  if (header(headers, 'dropout-seed') !== String(c.seed)) return `Dropout-Seed ${header(headers, 'dropout-seed')}`;
  return body.equals(c.expected) ? null : 'output bytes differ';
}

// ---------------------------------------------------------------------------------------------------------------
// Load phases

interface PerKind {
  ok: number;
  verified: number;
  mismatched: number;
  shed: number;
  other: number;
}

interface Phase {
  name: string;
  seconds: number;
  byKind: Record<Kind, PerKind>;
  statuses: Map<number, number>;
  errors: number;
  timeouts: number;
  badShed: number;
  /** 503s by reason (the problem detail up to its first digit or parenthesis). */
  shedReasons: Map<string, number>;
  /** CPU seconds used during the phase by the service and by this (load) process; other processes in cores. */
  cpu: { service: number; load: number; foreign: number };
  mismatches: string[];
}

function newPhase(name: string): Phase {
  const byKind = Object.fromEntries(
    KINDS.map((k) => [k, { ok: 0, verified: 0, mismatched: 0, shed: 0, other: 0 }]),
  ) as Record<Kind, PerKind>;
  return {
    name,
    seconds: 0,
    byKind,
    statuses: new Map(),
    errors: 0,
    timeouts: 0,
    badShed: 0,
    shedReasons: new Map(),
    cpu: { service: 0, load: 0, foreign: 0 },
    mismatches: [],
  };
}

const sum = (phase: Phase, key: keyof PerKind) => KINDS.reduce((n, k) => n + phase.byKind[k][key], 0);

async function load(
  url: string,
  phase: Phase,
  options: { seconds: number; connections: number; overallRate?: number },
): Promise<Phase> {
  const started = performance.now();
  const cpuStart = { service: cpuSeconds(servicePid), load: cpuSeconds(process.pid) };
  const foreign = foreignCpuMeter();
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        duration: options.seconds,
        overallRate: options.overallRate,
        timeout: 30,
        sampleInt: 250,
        requests: [
          {
            setupRequest: (request: Record<string, unknown>, context: Record<string, unknown>) => {
              const c = nextCase();
              context.case = c;
              return { ...request, method: 'POST', path: c.path, headers: c.headers, body: c.body };
            },
            onResponse: (status: number, body: unknown, context: Record<string, unknown>, headers: unknown) => {
              const c = context.case as Case;
              const bytes = Array.isArray(body) ? Buffer.concat(body as Buffer[]) : Buffer.alloc(0);
              const tally = phase.byKind[c.kind];
              phase.statuses.set(status, (phase.statuses.get(status) ?? 0) + 1);
              if (status === 200) {
                tally.ok++;
                let problem: string | null;
                try {
                  problem = verify(c, bytes, headers as Record<string, unknown>);
                } catch (error) {
                  problem = `unreadable reply: ${(error as Error).message}`;
                }
                if (problem === null) tally.verified++;
                else {
                  tally.mismatched++;
                  if (phase.mismatches.length < 10) phase.mismatches.push(`${c.kind} ${c.path}: ${problem}`);
                }
              } else if (status === 503) {
                tally.shed++;
                const retryAfter = header(headers as Record<string, unknown>, 'retry-after');
                let problem: { code?: unknown; detail?: unknown } = {};
                try {
                  problem = JSON.parse(bytes.toString('utf8'));
                } catch {
                  // not JSON: counted below
                }
                const text =
                  problem.detail ?? (problem as { error?: unknown }).error ?? bytes.toString('utf8').slice(0, 40);
                const reason = `${c.kind === 'v2' ? '/v2: ' : '/v1: '}${String(text).split(/[(\d]/)[0].trim()}${retryAfter === undefined ? ' [no Retry-After]' : ''}`;
                phase.shedReasons.set(reason, (phase.shedReasons.get(reason) ?? 0) + 1);
                // /v1: a problem document with code OVERLOADED; /v2: {"error": "..."} that says so
                // (docs/semantics.md §4.2).
                const wellFormed =
                  c.kind === 'v2'
                    ? typeof (problem as { error?: unknown }).error === 'string' &&
                      !/internal error/i.test(String((problem as { error?: unknown }).error))
                    : problem.code === 'OVERLOADED';
                if (retryAfter === undefined || !wellFormed) {
                  phase.badShed++;
                  if (phase.badShed === 1) {
                    phase.mismatches.push(
                      `${c.kind}: 503 that does not say it is overloaded, or has no Retry-After: ${JSON.stringify(headers)} ${bytes.toString('utf8').slice(0, 300)}`,
                    );
                  }
                }
              } else {
                tally.other++;
                if (phase.mismatches.length < 10) {
                  phase.mismatches.push(
                    `${c.kind} ${c.path}: status ${status} ${bytes.toString('utf8').slice(0, 200)}`,
                  );
                }
              }
            },
          },
        ],
      } as autocannon.Options,
      (error, result) => {
        if (error) return reject(error);
        phase.errors += result.errors - result.timeouts;
        phase.timeouts += result.timeouts;
        resolve();
      },
    );
    void instance;
  });
  phase.seconds = (performance.now() - started) / 1000;
  phase.cpu = {
    service: cpuSeconds(servicePid) - cpuStart.service,
    load: cpuSeconds(process.pid) - cpuStart.load,
    foreign: foreign(),
  };
  return phase;
}

/** TCP connections in state ESTABLISHED whose local port is `port` (the service's side), from /proc/net/tcp. */
function openConnections(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length > 3 && fields[1].endsWith(`:${hex}`) && fields[3] === '01') n++;
      }
    } catch {
      // no IPv6
    }
  }
  return n;
}

/** CPU seconds (user + system, all threads) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

let servicePid = 0;

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return kb === undefined ? Number.NaN : Number(kb) * 1024;
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------------------------
// Run

process.stdout.write(
  `soak: ${availableParallelism()} CPUs; ${TOTAL_SECONDS} s of load (calibration ${CALIBRATION_SECONDS} s, warm-up ${WARMUP_SECONDS} s, soak ${SOAK_SECONDS} s)\n` +
    `mix: ${KINDS.map((k) => `${k} ${WEIGHTS[k]}%`).join(', ')}\n\nbuilding (npm run build) …\n`,
);
const build = await runCommand('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 });
if (build.code !== 0) {
  process.stderr.write(`npm run build failed:\n${build.stdout.slice(-2000)}${build.stderr.slice(-2000)}\n`);
  process.exit(1);
}

const hasMaxQueue = Object.hasOwn(EnvSchema.properties, 'MAX_QUEUE');
const port = await freePort();
const childEnv: Record<string, string> = {
  ...(process.env as Record<string, string>),
  HOST: '127.0.0.1',
  PORT: String(port),
  LOG_LEVEL: 'warn',
};
if (hasMaxQueue) childEnv.MAX_QUEUE = MAX_QUEUE;
const service = spawnChild('dropout-service', process.execPath, ['dist/server.js'], { cwd: ROOT, env: childEnv });
const url = `http://127.0.0.1:${port}`;
await waitReady(`${url}/healthz`, service);
const pid = service.proc.pid!;
servicePid = pid;
process.stdout.write(
  `service: pid ${pid} on ${url}, LOG_LEVEL=warn${hasMaxQueue ? `, MAX_QUEUE=${MAX_QUEUE}` : ' (this build has no MAX_QUEUE)'}\n` +
    'preparing requests and their expected outputs …\n',
);
prepare();

const calibration = await load(url, newPhase('calibration'), { seconds: CALIBRATION_SECONDS, connections: 4 });
const capacity = sum(calibration, 'ok') / calibration.seconds;
const rate = Math.max(2, Math.round(2 * capacity));
process.stdout.write(
  `calibration: ${fmt(capacity)} verified 200s per second closed-loop at 4 connections → offering ${rate} req/s\n`,
);

const warmup = await load(url, newPhase('warm-up'), {
  seconds: WARMUP_SECONDS,
  connections: CONNECTIONS,
  overallRate: rate,
});
const rssStart = rssBytes(pid);
const rssSamples: number[] = [rssStart];
const sampler = setInterval(() => {
  try {
    rssSamples.push(rssBytes(pid));
  } catch {
    // the process is gone; the check below reports it
  }
}, 1000);
process.stdout.write(`warm-up done; service RSS ${MiB(rssStart)}; soaking for ${SOAK_SECONDS} s …\n`);
const soak = await load(url, newPhase('soak'), { seconds: SOAK_SECONDS, connections: CONNECTIONS, overallRate: rate });
clearInterval(sampler);
const rssEnd = rssBytes(pid);
rssSamples.push(rssEnd);
const alive = service.proc.exitCode === null && service.proc.signalCode === null;
// What is left once the load has stopped: open connections to the service and its readiness.
await new Promise((resolve) => setTimeout(resolve, Number(process.env.SOAK_SETTLE_MS ?? 1000)));
const leftover = openConnections(port);
const readyz = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
  async (r) => `${r.status} ${await r.text()}`,
  (e: Error) => `no answer (${e.message})`,
);
const stopStarted = performance.now();
await stopChild(service, 15_000);
const stopSeconds = (performance.now() - stopStarted) / 1000;
const exitCode = service.proc.exitCode;

// ---------------------------------------------------------------------------------------------------------------
// Report

const phases = [calibration, warmup, soak];
const row = (p: Phase) => {
  const responses = [...p.statuses.values()].reduce((a, b) => a + b, 0);
  return [
    p.name,
    `${p.seconds.toFixed(1)} s`,
    String(responses),
    fmt(responses / p.seconds),
    String(sum(p, 'ok')),
    fmt(sum(p, 'ok') / p.seconds),
    String(sum(p, 'shed')),
    String(sum(p, 'other')),
    String(p.errors),
    String(p.timeouts),
    `${sum(p, 'verified')}/${sum(p, 'ok')}`,
    String(sum(p, 'mismatched')),
    `${(p.cpu.service / p.seconds).toFixed(2)} / ${(p.cpu.load / p.seconds).toFixed(2)} / ${p.cpu.foreign.toFixed(2)}`,
  ];
};
process.stdout.write(
  `\n${textTable(
    [
      'phase',
      'time',
      'replies',
      'replies/s',
      '200',
      '200/s',
      '503',
      'other',
      'errors',
      'timeouts',
      'verified',
      'wrong',
      'CPU cores: service / load / rest (kernel net, other processes)',
    ],
    phases.map(row),
  )}\n\n`,
);
process.stdout.write(
  `${textTable(
    ['soak by kind', 'elements', '200', 'verified', 'wrong', '503', 'other'],
    KINDS.map((k) => {
      const t = soak.byKind[k];
      return [
        k,
        String(ELEMENTS[k]),
        String(t.ok),
        String(t.verified),
        String(t.mismatched),
        String(t.shed),
        String(t.other),
      ];
    }),
  )}\n\n`,
);

const reasons = new Map<string, number>();
for (const p of phases) for (const [r, n] of p.shedReasons) reasons.set(r, (reasons.get(r) ?? 0) + n);
if (reasons.size > 0) {
  process.stdout.write(
    `${textTable(
      ['503 reason (all phases)', 'count'],
      [...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => [r, String(n)]),
    )}\n\n`,
  );
}

const all = phases;
const totalOk = all.reduce((n, p) => n + sum(p, 'ok'), 0);
const totalVerified = all.reduce((n, p) => n + sum(p, 'verified'), 0);
const totalOther = all.reduce((n, p) => n + sum(p, 'other'), 0);
const totalShed = all.reduce((n, p) => n + sum(p, 'shed'), 0);
const totalBadShed = all.reduce((n, p) => n + p.badShed, 0);
const totalErrors = all.reduce((n, p) => n + p.errors + p.timeouts, 0);
const growth = rssEnd / rssStart - 1;
const soakReplies = [...soak.statuses.values()].reduce((a, b) => a + b, 0);

const checks: Array<[string, boolean, string]> = [
  [
    'requests served (200)',
    totalOk > 0,
    `${totalOk} (soak: ${sum(soak, 'ok')}, ${fmt(sum(soak, 'ok') / soak.seconds)}/s)`,
  ],
  [
    'offered load ≈ 2 × capacity',
    true,
    `${rate} req/s asked, ${fmt(soakReplies / soak.seconds)} replies/s got (capacity ${fmt(capacity)}/s)`,
  ],
  [
    '503s say "overloaded", with Retry-After',
    totalBadShed === 0,
    `${totalShed} 503s (${fmt((100 * totalShed) / Math.max(1, totalShed + totalOk))}% of answers); ${totalBadShed} do not`,
  ],
  ['other non-2xx (must be 0)', totalOther === 0, String(totalOther)],
  ['connection errors and timeouts (must be 0)', totalErrors === 0, String(totalErrors)],
  [
    '200 bodies verified (must be 100%)',
    totalVerified === totalOk,
    `${totalVerified}/${totalOk} (${totalOk ? ((100 * totalVerified) / totalOk).toFixed(2) : '0'}%)`,
  ],
  [
    `RSS growth after warm-up (≤ ${RSS_GROWTH_LIMIT * 100}%)`,
    Number.isFinite(growth) && growth <= RSS_GROWTH_LIMIT,
    `${MiB(rssStart)} → ${MiB(rssEnd)} (${(growth * 100).toFixed(1)}%; min ${MiB(Math.min(...rssSamples))}, max ${MiB(Math.max(...rssSamples))})`,
  ],
  [
    'service alive at the end, exit 0 on SIGTERM',
    alive && exitCode === 0,
    `alive ${alive}; 1 s after the load: ${leftover} connections open, /readyz ${readyz.trim()}; ` +
      `SIGTERM → exit code ${exitCode} after ${stopSeconds.toFixed(1)} s`,
  ],
];
process.stdout.write(
  `${textTable(
    ['check', 'result', 'figures'],
    checks.map(([n, ok, f]) => [n, ok ? 'ok' : 'FAIL', f]),
  )}\n`,
);
if (exitCode !== 0) process.stdout.write(`\nservice output (last lines):\n${service.output().slice(-3000)}\n`);
const mismatches = all.flatMap((p) => p.mismatches);
if (mismatches.length > 0) process.stdout.write(`\nfirst problems:\n  ${mismatches.slice(0, 10).join('\n  ')}\n`);
const failed = checks.filter(([, ok]) => !ok).length;
process.stdout.write(`\n${failed === 0 ? 'soak passed' : `soak FAILED (${failed} check(s))`}\n`);
process.exit(failed === 0 ? 0 : 1);
