/**
 * The /v2 inference work a pool worker does for large requests: read a request (parse, validate, decode its tensor)
 * and write a reply's JSON header. Also a worker file of its own (decodeInfer, encodeInfer), loaded by a worker on
 * its first /v2 task (./pool.ts).
 */
import { Piscina } from 'piscina';
import { splitArrayAt, tensorFromNumbers, type ValuePath } from '../codec/json/fast.js';
import {
  encodeInferHeader,
  type InferCall,
  type InferReplyCall,
  type InferResult,
  parseInferHeader,
  readInferCall,
} from '../codec/v2-infer.js';
import type { RawSettings } from '../dropout/settings.js';
import type { Tensor, TensorLimits } from '../dropout/tensor.js';
import { type ProblemCode, ProblemError } from '../errors.js';
import { type Dtype, viewOf } from '../kernel/dtype.js';
import { InferParameters } from '../schemas/v2.js';
import type { SharedBytes } from './json-tasks.js';

/** A tensor's memory and layout as plain data: the memory is shared, so both threads see the same values. */
export interface SharedTensor {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  shape: number[];
  dtype: Dtype;
}

export function sharedTensor(tensor: Tensor): SharedTensor {
  const { data, shape, dtype } = tensor;
  let { buffer, byteOffset } = data;
  if (!(buffer instanceof SharedArrayBuffer)) {
    const copy = new Uint8Array(new SharedArrayBuffer(data.byteLength));
    copy.set(new Uint8Array(buffer, byteOffset, data.byteLength));
    buffer = copy.buffer;
    byteOffset = 0;
  }
  return { buffer: buffer as SharedArrayBuffer, byteOffset, length: data.length, shape, dtype };
}

/** A mask a worker can read: its own memory when already shared, else a shared copy. */
export function sharedMask(mask: Uint8Array): SharedArrayBuffer {
  const { buffer } = mask;
  if (buffer instanceof SharedArrayBuffer && mask.byteOffset === 0 && mask.length === buffer.byteLength) return buffer;
  const copy = new Uint8Array(new SharedArrayBuffer(mask.length));
  copy.set(mask);
  return copy.buffer as SharedArrayBuffer;
}

export function tensorOf(shared: SharedTensor): Tensor {
  const { buffer, byteOffset, length, shape, dtype } = shared;
  return { shape, dtype, data: viewOf(dtype, buffer, byteOffset, length) };
}

export interface DecodeInferTask {
  /** The whole body: the JSON header, then the binary section (if any). */
  body: SharedBytes;
  headerLength: number;
  limits: TensorLimits;
}

export type SharedInferCall = Omit<InferCall, 'tensor'> & { tensor: SharedTensor };

export type DecodeInferResult =
  | { ok: true; call: SharedInferCall }
  | { ok: false; code: ProblemCode; detail: string }
  | { ok: false; validation: { message: string; errors: unknown; context: string } };

const INFER_DATA: ValuePath = ['inputs', 0, 'data'];
const SETTING_KEYS = Object.keys(InferParameters.properties).filter((k) => k !== 'binary_data_output');
const DECLINED = Symbol('declined');

/**
 * The inference request of a large body, read as the main thread reads a small one (parseInferHeader, then
 * readInferCall), so the answer and every error are the same. Only plain data comes back: the tensor in shared
 * memory and the settings the call uses, never the parsed header, which the main thread would have to deserialise.
 */
export function decodeInferRequest(task: DecodeInferTask): DecodeInferResult {
  const bytes = new Uint8Array(task.body.buffer, task.body.byteOffset, task.body.byteLength);
  const header = bytes.subarray(0, task.headerLength);
  const binary = bytes.subarray(task.headerLength);
  try {
    const call =
      readInferFast(header, binary, task.limits) ?? readInferCall(parseInferHeader(header), binary, task.limits);
    const raw: Record<string, unknown> = {};
    for (const key of SETTING_KEYS) if (Object.hasOwn(call.raw, key)) raw[key] = (call.raw as never)[key];
    return {
      ok: true,
      call: { id: call.id, raw: raw as RawSettings, outputs: call.outputs, tensor: sharedTensor(call.tensor) },
    };
  } catch (error) {
    if (error instanceof ProblemError) return { ok: false, code: error.code, detail: error.detail };
    const { validation, validationContext } = error as { validation?: unknown; validationContext?: string };
    if (validation !== undefined) {
      return {
        ok: false,
        validation: { message: (error as Error).message, errors: validation, context: validationContext ?? 'body' },
      };
    }
    throw error;
  }
}

/**
 * readInferCall with `inputs[0].data` read by WebAssembly (../codec/json/fast.ts); undefined when the fast path declines,
 * which it does wherever decodeJsonTensor would throw, so that the error comes from the JSON.parse path.
 */
export function readInferFast(
  header: Uint8Array,
  binary: Uint8Array,
  limits: TensorLimits,
  chunkBytes?: number,
): InferCall | undefined {
  const split = splitArrayAt(header, INFER_DATA, limits, chunkBytes);
  if (!split) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(split.rest);
  } catch {
    return undefined;
  }
  try {
    return readInferCall(parsed, binary, limits, (_data, shape, dtype) => {
      const tensor = tensorFromNumbers(split.numbers, shape, dtype, limits);
      if (tensor === undefined) throw DECLINED;
      return tensor;
    });
  } catch (error) {
    if (error === DECLINED) return undefined;
    throw error;
  }
}

export interface EncodeInferTask {
  call: InferReplyCall;
  result: Omit<InferResult, 'tensor' | 'mask'> & { tensor: SharedTensor; mask?: SharedArrayBuffer };
  modelVersion: string;
}

export function encodeInferReply(task: EncodeInferTask): Uint8Array {
  const { tensor, mask, ...rest } = task.result;
  return encodeInferHeader(
    task.call,
    { ...rest, tensor: tensorOf(tensor), mask: mask ? new Uint8Array(mask) : undefined },
    task.modelVersion,
  );
}

/** Set by the pool when the request is answered before its task starts (see OffloadPool); nobody reads the result. */
interface Cancellable {
  cancel: Int32Array;
}

const cancelled = (task: Cancellable) => Atomics.load(task.cancel, 0) !== 0;

export function decodeInfer(task: DecodeInferTask & Cancellable): DecodeInferResult | null {
  return cancelled(task) ? null : decodeInferRequest(task);
}

/** The header's bytes are transferred back, not cloned. */
export function encodeInfer(task: EncodeInferTask & Cancellable): unknown {
  return cancelled(task) ? null : Piscina.move(encodeInferReply(task));
}
