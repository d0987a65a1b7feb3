/**
 * The JSON work a pool worker does for large bodies: parse and decode a request, and serialise a reply. Results
 * are plain data; a client error comes back as {code, detail} because an error thrown in a worker loses its fields.
 */

import { splitInputMember, tensorFromNumbers } from '../codec/json/fast.js';
import type { ReplyEcho, ReplyTensor } from '../codec/json/reply.js';
import { writeDropoutReply } from '../codec/json/reply.js';
import { decodeJsonTensor, type JsonTensor } from '../codec/json/tensor.js';
import type { TensorLimits } from '../dropout/tensor.js';
import { clip, type ProblemCode, ProblemError } from '../errors.js';
import { DTYPES, type Dtype, viewOf } from '../kernel/dtype.js';

export interface SharedBytes {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  byteLength: number;
}

export interface DecodedJsonTensor {
  buffer: SharedArrayBuffer;
  shape: number[];
  nested: boolean;
  dtype: Dtype;
}

export type ParseJsonResult =
  | { ok: true; fields: Record<string, unknown>; tensor: DecodedJsonTensor | null }
  | { ok: false; code: ProblemCode; detail: string; fields?: Record<string, unknown> };

export interface ParseJsonTask {
  body: SharedBytes;
  limits: TensorLimits;
}

const MAX_FIELD_DEPTH = 4;

/** Whether a JSON value nests arrays or objects more than `limit` levels deep (iterative: no stack to exhaust). */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Numbers in a list: decoding then reports what is wrong with them (BAD_SHAPE), as on the main thread. */
function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => typeof d === 'number');
}

/**
 * Parses a request body and decodes its tensor. `fields` is the body with `input` replaced by [] when it is an
 * array, ready for the route schema; the tensor is decoded only when the fields it depends on are well-formed
 * (otherwise validation on the main thread reports them). The fast path (../codec/json/fast.ts) gives the same result
 * when it accepts the body; otherwise the body goes through JSON.parse whole.
 */
export function parseJsonRequest(task: ParseJsonTask): ParseJsonResult {
  return parseJsonFast(task) ?? parseJsonWhole(task);
}

/** The reference path: JSON.parse of the whole body, then decodeJsonTensor. */
export function parseJsonWhole(task: ParseJsonTask): ParseJsonResult {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength).toString('utf8'));
  } catch (error) {
    return { ok: false, code: 'MALFORMED_JSON', detail: (error as Error).message };
  }
  return settle(body, (input, shape, dtype) => decodeJsonTensor(input, shape, dtype, task.limits)) as ParseJsonResult;
}

/**
 * The result when `input`'s value is read by WebAssembly and only the rest of the body by JSON.parse; undefined
 * when the fast path declines the body. `chunkBytes`: see parseJsonNumbers.
 */
export function parseJsonFast(task: ParseJsonTask, chunkBytes?: number): ParseJsonResult | undefined {
  const bytes = new Uint8Array(task.body.buffer, task.body.byteOffset, task.body.byteLength);
  const split = splitInputMember(bytes, task.limits, chunkBytes);
  if (!split) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(split.rest);
  } catch {
    return undefined;
  }
  return settle(body, (_input, shape, dtype) => tensorFromNumbers(split.numbers, shape, dtype, task.limits));
}

type DecodeTensor = (input: unknown[], shape: number[] | undefined, dtype: Dtype) => JsonTensor | undefined;

/** What follows the parse on both paths; undefined if `decode` declines. */
function settle(body: unknown, decode: DecodeTensor): ParseJsonResult | undefined {
  // No setting is nested more than two levels; a deeper value would only make the reply's structured clone (and
  // validation) walk it, so it is refused here, where it is cheap to see. Only an array `input` may go deeper.
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const entries: Array<[string, unknown]> = isObject ? Object.entries(body as object) : [['', body]];
  for (const [key, value] of entries) {
    if (key === 'input' && Array.isArray(value)) continue;
    if (deeperThan(value, MAX_FIELD_DEPTH)) {
      return {
        ok: false,
        code: 'INVALID_REQUEST',
        detail: `body${key ? `/${clip(key)}` : ''} is nested deeper than the API allows`,
      };
    }
  }
  if (!isObject || !Array.isArray((body as { input?: unknown }).input)) {
    return { ok: true, fields: body as Record<string, unknown>, tensor: null };
  }
  const { input, ...rest } = body as { input: unknown[]; dtype?: unknown; shape?: unknown };
  const fields = { ...rest, input: [] };
  const dtype = DTYPES.find((d) => d === rest.dtype) ?? (rest.dtype === undefined ? 'float32' : undefined);
  if (dtype === undefined || (rest.shape !== undefined && !isShape(rest.shape)))
    return { ok: true, fields, tensor: null };
  try {
    const tensor = decode(input, rest.shape as number[] | undefined, dtype);
    if (tensor === undefined) return undefined;
    return {
      ok: true,
      fields,
      tensor: { buffer: tensor.data.buffer as SharedArrayBuffer, shape: tensor.shape, nested: tensor.nested, dtype },
    };
  } catch (error) {
    // The fields come back too: the main thread validates them first, so errors rank as on the main-thread path.
    if (error instanceof ProblemError) return { ok: false, code: error.code, detail: error.detail, fields };
    throw error;
  }
}

export interface EncodeJsonTask {
  tensor: Omit<ReplyTensor, 'data'> & { buffer: SharedArrayBuffer; byteOffset: number; length: number };
  echo: ReplyEcho;
  mask?: SharedArrayBuffer;
}

export function encodeJsonReply(task: EncodeJsonTask): Uint8Array {
  const { buffer, byteOffset, length, ...rest } = task.tensor;
  const data = viewOf(rest.dtype, buffer, byteOffset, length);
  return writeDropoutReply({ ...rest, data }, task.echo, task.mask ? new Uint8Array(task.mask) : undefined);
}
