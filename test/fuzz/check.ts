/** Holding a reply to a verdict: the status, the error document, and for a success every byte of the tensor. */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { LightMyRequestResponse as Response } from 'fastify';
import {
  compareValues,
  decodeValues,
  type Expected,
  expectedDropout,
  type Format,
  flattenReply,
  jsonValue,
  parseReplySeed,
  type SettingsSpec,
  SIZE,
} from './expect.js';
import { claimValues, judgeNpy } from './npy.js';
import { type OkSpec, STATUS, type V2OkSpec, type V2Verdict, type Verdict } from './oracle.js';

export function replyBody(res: Response): Buffer {
  const encoding = res.headers['content-encoding'];
  if (encoding === undefined || encoding === 'identity') return res.rawPayload;
  if (encoding === 'gzip') return gunzipSync(res.rawPayload);
  if (encoding === 'deflate') return inflateSync(res.rawPayload);
  if (encoding === 'br') return brotliDecompressSync(res.rawPayload);
  throw new Error(`unknown Content-Encoding ${encoding}`);
}

/** A stack frame or a source path in a message shown to clients. */
const LEAK = /\.ts:\d+|\.js:\d+|node_modules|\n\s+at /;

function seedUsed(settings: SettingsSpec, reported: unknown): { seed: bigint | null; error?: string } {
  if (settings.mode === 'eval') {
    return reported === null || reported === undefined
      ? { seed: null }
      : { seed: null, error: `eval reply reports seed ${reported}` };
  }
  if (settings.seed === 'drawn') {
    const seed = parseReplySeed(reported);
    return seed === null ? { seed, error: `no drawn seed reported (${reported})` } : { seed };
  }
  return String(reported) === String(settings.seed)
    ? { seed: settings.seed }
    : { seed: settings.seed, error: `reply seed ${reported}, expected ${settings.seed}` };
}

function checkMaskJson(mask: unknown, ok: OkSpec, expected: Expected): string | null {
  const n = expected.values.length;
  const flat = flattenReply(mask, ok.tensor.shape, ok.nested, n);
  if (typeof flat === 'string') return `mask: ${flat}`;
  for (let i = 0; i < n; i++) {
    if (flat[i] !== (expected.mask[i] === 1)) return `mask[${i}] is ${flat[i]}, expected ${expected.mask[i] === 1}`;
  }
  return null;
}

/** A v1 success: the reply format, the echoed settings and every output value (and the mask when asked for). */
export function checkV1Ok(res: Response, ok: OkSpec): string | null {
  const ct = String(res.headers['content-type'] ?? '');
  const format: Format | undefined = /^application\/json(;|$)/.test(ct)
    ? 'json'
    : ct === 'application/octet-stream'
      ? 'binary'
      : ct === 'application/x-npy'
        ? 'npy'
        : undefined;
  if (format === undefined || !ok.formats.includes(format)) {
    return `reply Content-Type ${ct}, expected ${ok.formats.join(' or ')}`;
  }
  const body = replyBody(res);
  const { tensor, settings } = ok;
  const { dtype, shape } = tensor;
  if (format === 'json') {
    let reply: Record<string, unknown>;
    try {
      reply = JSON.parse(body.toString('utf8'));
    } catch {
      return 'the JSON reply does not parse';
    }
    const { seed, error } = seedUsed(settings, reply.seed);
    if (error) return error;
    const expected = expectedDropout(tensor, settings, seed);
    const echo: Array<[string, unknown, unknown]> = [
      ['shape', JSON.stringify(reply.shape), JSON.stringify(shape)],
      ['dtype', reply.dtype, dtype],
      ['p', reply.p, settings.p],
      ['mode', reply.mode, settings.mode],
      ['variant', reply.variant, settings.variant],
      ['rng', reply.rng, settings.rng],
      ['offset', reply.offset, settings.offset],
      ['kept', reply.kept, expected.kept],
    ];
    for (const [name, got, want] of echo) if (got !== want) return `reply ${name} is ${got}, expected ${want}`;
    const flat = flattenReply(reply.output, shape, ok.nested, expected.values.length);
    if (typeof flat === 'string') return `output: ${flat}`;
    const values: number[] = [];
    for (const v of flat) {
      const x = jsonValue(dtype, v);
      if (x === undefined) return `output value ${JSON.stringify(v)}`;
      values.push(x);
    }
    const mismatch = compareValues(dtype, values, expected.values);
    if (mismatch) return `output ${mismatch}`;
    if (ok.wantMask) return checkMaskJson(reply.mask, ok, expected);
    if (reply.mask !== undefined) return 'a mask nobody asked for';
    return null;
  }
  const { seed, error } = seedUsed(settings, res.headers['dropout-seed']);
  if (error) return error;
  const expected = expectedDropout(tensor, settings, seed);
  const headers: Array<[string, unknown, unknown]> = [
    ['Tensor-Shape', res.headers['tensor-shape'], shape.join(',')],
    ['Tensor-Dtype', res.headers['tensor-dtype'], dtype],
    ['Dropout-Kept', res.headers['dropout-kept'], String(expected.kept)],
    ['Dropout-Offset', res.headers['dropout-offset'], String(settings.offset)],
  ];
  for (const [name, got, want] of headers) if (got !== want) return `${name} is ${got}, expected ${want}`;
  let values: number[];
  if (format === 'binary') {
    if (body.length !== expected.values.length * SIZE[dtype]) return `binary reply of ${body.length} bytes`;
    values = decodeValues(dtype, body);
  } else {
    const npy = judgeNpy(body, { maxElements: Number.MAX_SAFE_INTEGER, maxRank: 64 });
    if (!npy.claim) return `the .npy reply does not read back (${[...npy.codes]})`;
    const { claim } = npy;
    if (claim.dtype !== dtype || claim.shape.join() !== shape.join() || claim.fortran || !claim.littleEndian) {
      return `the .npy reply claims ${claim.dtype} (${claim.shape}) fortran=${claim.fortran}`;
    }
    values = claimValues(claim, body.subarray(claim.dataOffset), (b, le) => decodeValues(dtype, b, le));
  }
  return compareValues(dtype, values, expected.values);
}

function problemOf(res: Response): { problem?: Record<string, unknown>; error?: string } {
  try {
    return { problem: JSON.parse(replyBody(res).toString('utf8')) };
  } catch {
    return { error: 'the error body is not JSON' };
  }
}

/** Any v1 reply against its verdict: never 5xx; 2xx only when valid, then exact; 4xx a problem with a listed code. */
export function checkV1(res: Response, verdict: Verdict): string | null {
  const status = res.statusCode;
  if (status >= 500) return `${status} (5xx) ${res.body.slice(0, 300)}`;
  if (status >= 200 && status < 300) {
    if (!verdict.ok) return `${status} for a request that must fail: ${verdict.why.join('; ')}`;
    return checkV1Ok(res, verdict.ok);
  }
  if (status < 400) return `status ${status}`;
  const ct = String(res.headers['content-type'] ?? '');
  if (!ct.startsWith('application/problem+json')) return `${status} with Content-Type ${ct}`;
  const { problem, error } = problemOf(res);
  if (!problem) return error!;
  const { code, detail, title, type } = problem;
  if (typeof code !== 'string') return `problem without a string code: ${res.body.slice(0, 200)}`;
  if (problem.status !== status) return `problem status ${problem.status} on a ${status}`;
  if (typeof detail !== 'string' || typeof title !== 'string' || typeof type !== 'string') return 'problem fields';
  if (LEAK.test(detail)) return `the problem detail leaks internals: ${detail}`;
  if (verdict.anyCode) return null;
  if (!verdict.codes.has(code)) {
    return `${status} ${code} (${detail}) but the request ${verdict.ok ? 'is valid' : 'has'}: ${verdict.why.join('; ') || 'nothing wrong'}`;
  }
  if (STATUS[code] !== status) return `${code} with status ${status}`;
  return null;
}

/** A /v2 inference reply against its verdict. */
export function checkV2(res: Response, verdict: V2Verdict): string | null {
  const status = res.statusCode;
  if (status >= 500) return `${status} (5xx) ${res.body.slice(0, 300)}`;
  if (status >= 200 && status < 300) {
    if (!verdict.ok) return `${status} for a request that must fail: ${verdict.why.join('; ')}`;
    return checkV2Ok(res, verdict.ok);
  }
  const ct = res.headers['content-type'];
  if (ct !== 'application/json') return `${status} with Content-Type ${ct}`;
  const { problem, error } = problemOf(res);
  if (!problem) return error!;
  if (typeof problem.error !== 'string' || Object.keys(problem).length !== 1) {
    return `v2 error body ${res.body.slice(0, 200)}`;
  }
  if (LEAK.test(problem.error)) return `the error leaks internals: ${problem.error}`;
  if (!verdict.statuses.has(status)) {
    return `${status} (${problem.error}) but the request ${verdict.ok ? 'is valid' : 'has'}: ${verdict.why.join('; ') || 'nothing wrong'}`;
  }
  return null;
}

function checkV2Ok(res: Response, ok: V2OkSpec): string | null {
  const anyBinary = ok.outputs.some((o) => o.binary);
  const ct = res.headers['content-type'];
  const body = replyBody(res);
  let headerLength = body.length;
  if (anyBinary) {
    if (ct !== 'application/octet-stream') return `binary reply with Content-Type ${ct}`;
    headerLength = Number(res.headers['inference-header-content-length']);
    if (!Number.isSafeInteger(headerLength) || headerLength > body.length) return 'Inference-Header-Content-Length';
  } else if (ct !== 'application/json') {
    return `JSON reply with Content-Type ${ct}`;
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(body.subarray(0, headerLength).toString('utf8'));
  } catch {
    return 'the reply header does not parse';
  }
  if (header.model_name !== 'dropout') return `model_name ${header.model_name}`;
  if (ok.id !== undefined && header.id !== ok.id) return `id ${header.id}, expected ${ok.id}`;
  const params = (header.parameters ?? {}) as Record<string, unknown>;
  const { tensor, settings } = ok;
  const { seed, error } = seedUsed(settings, params.seed);
  if (error) return error;
  const expected = expectedDropout(tensor, settings, seed);
  if (params.kept !== expected.kept) return `kept ${params.kept}, expected ${expected.kept}`;
  if (params.offset !== settings.offset) return `offset ${params.offset}, expected ${settings.offset}`;
  const outputs = header.outputs as Array<Record<string, unknown>>;
  if (!Array.isArray(outputs) || outputs.length !== ok.outputs.length) return `outputs ${JSON.stringify(outputs)}`;
  let at = headerLength;
  const n = expected.values.length;
  for (let k = 0; k < outputs.length; k++) {
    const o = outputs[k];
    const want = ok.outputs[k];
    const isMask = want.name === 'mask';
    if (o.name !== want.name) return `output ${k} is ${o.name}, expected ${want.name}`;
    if (o.datatype !== (isMask ? 'BOOL' : ok.datatype)) return `output ${k} datatype ${o.datatype}`;
    if (JSON.stringify(o.shape) !== JSON.stringify(tensor.shape)) return `output ${k} shape ${JSON.stringify(o.shape)}`;
    let values: unknown[];
    if (want.binary) {
      const size = (o.parameters as Record<string, unknown> | undefined)?.binary_data_size;
      const bytes = isMask ? n : n * SIZE[tensor.dtype];
      if (size !== bytes) return `output ${k} binary_data_size ${size}, expected ${bytes}`;
      const chunk = body.subarray(at, at + bytes);
      at += bytes;
      if (chunk.length !== bytes) return `output ${k}: the body ends early`;
      values = isMask ? Array.from(chunk, (b) => b === 1) : decodeValues(tensor.dtype, chunk);
      if (isMask && chunk.some((b) => b > 1)) return 'mask bytes other than 0/1';
    } else {
      if (!Array.isArray(o.data) || o.data.length !== n) return `output ${k} data`;
      values = isMask ? o.data : o.data.map((v) => jsonValue(tensor.dtype, v));
    }
    if (isMask) {
      for (let i = 0; i < n; i++) if (values[i] !== (expected.mask[i] === 1)) return `mask[${i}] is ${values[i]}`;
    } else {
      if (values.some((v) => v === undefined)) return `output ${k} has a non-number`;
      const mismatch = compareValues(tensor.dtype, values as number[], expected.values);
      if (mismatch) return `output ${mismatch}`;
    }
  }
  if (at !== body.length) return `${body.length - at} bytes after the last output`;
  return null;
}
