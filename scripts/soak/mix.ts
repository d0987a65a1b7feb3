/**
 * The soak's mix of requests and what each reply must be: JSON 16 and 4,096 values, raw binary 65,536 and 1,048,576
 * float32, Open Inference Protocol binary 16,384, each with a random seed and p. A 200's output must be the service's
 * own pure-JS kernel's (src/kernel/dropout.ts, not the WASM path that serves), and for 16 values also
 * test/reference.ts's; a 503 must say the service is overloaded, with Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { dropoutRange } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { referenceDropout } from '../../test/reference.js';

export type Kind = 'json16' | 'json4k' | 'bin64k' | 'bin1m' | 'v2';
export const KINDS: Kind[] = ['json16', 'json4k', 'bin64k', 'bin1m', 'v2'];
export const WEIGHTS: Record<Kind, number> = { json16: 30, json4k: 20, bin64k: 25, bin1m: 10, v2: 15 };
export const ELEMENTS: Record<Kind, number> = { json16: 16, json4k: 4096, bin64k: 65536, bin1m: 1 << 20, v2: 16384 };
const P_VALUES = [0.1, 0.25, 0.5, 0.75, 0.9];

export interface Case {
  kind: Kind;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  expected: Buffer;
  kept: number;
  seed: bigint;
}

const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)];
const randomSeed = (): bigint => randomBytes(8).readBigUInt64LE(0);

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

function binaryCase(kind: Kind, x: Float32Array): Case {
  const p = pick(P_VALUES);
  const seed = randomSeed();
  const { out, kept } = kernel(x, p, seed);
  const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const expected = Buffer.from(out.buffer);
  if (kind !== 'v2') {
    const headers = { 'content-type': 'application/octet-stream' };
    return { kind, path: `/v1/dropout?p=${p}&seed=${seed}`, headers, body: bytes, expected, kept, seed };
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

/** Binary kinds: a table of random (input, seed, p) with their expected outputs, computed once. */
const TABLE_SIZE: Partial<Record<Kind, number>> = { bin64k: 12, bin1m: 4, v2: 12 };
const tables = new Map<Kind, Case[]>();
const json4kInputs: Float32Array[] = [];

export function prepare(): void {
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
  const x = kind === 'json16' ? randomValues(16) : pick(json4kInputs);
  const p = pick(P_VALUES);
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

/** A request drawn from the mix by weight. */
export function nextCase(): Case {
  let r = Math.random() * weightTotal;
  let kind: Kind = 'json16';
  for (const k of KINDS) {
    r -= WEIGHTS[k];
    if (r < 0) {
      kind = k;
      break;
    }
  }
  return kind === 'json16' || kind === 'json4k' ? jsonCase(kind) : pick(tables.get(kind)!);
}

export function header(headers: Record<string, unknown>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
}

/** Why a 200 reply is not the expected one, or null. */
export function verify(c: Case, body: Buffer, headers: Record<string, unknown>): string | null {
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

/**
 * A 503's reason (its detail, or /v2's error, up to the first digit or parenthesis) and whether it is well formed:
 * /v1 a problem document with code OVERLOADED, /v2 {"error": "..."} that is not an internal error
 * (docs/semantics.md §4.2), both with Retry-After.
 */
export function shedReply(c: Case, body: Buffer, headers: Record<string, unknown>): { reason: string; ok: boolean } {
  const retryAfter = header(headers, 'retry-after');
  let problem: { code?: unknown; detail?: unknown; error?: unknown } = {};
  try {
    problem = JSON.parse(body.toString('utf8'));
  } catch {
    // not JSON: not well formed
  }
  const text = problem.detail ?? problem.error ?? body.toString('utf8').slice(0, 40);
  const reason = `${c.kind === 'v2' ? '/v2: ' : '/v1: '}${String(text).split(/[(\d]/)[0].trim()}${retryAfter === undefined ? ' [no Retry-After]' : ''}`;
  const wellFormed =
    c.kind === 'v2'
      ? typeof problem.error === 'string' && !/internal error/i.test(problem.error)
      : problem.code === 'OVERLOADED';
  return { reason, ok: retryAfter !== undefined && wellFormed };
}
