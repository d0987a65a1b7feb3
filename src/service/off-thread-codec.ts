/**
 * JSON work sized by the request: small bodies and replies are parsed and written on this thread, large ones by a
 * pool worker, so a megabyte of numbers never stalls the event loop. Writing a number costs ~100x the kernel's work
 * on it, so JSON has its own, lower, threshold (INLINE_MAX_JSON_BYTES) than the kernel (INLINE_MAX_ELEMENTS).
 * A tensor a worker makes is in shared memory whatever its size: it is handed back, not copied.
 */
import { type ReplyEcho, writeDropoutReply } from '../codec/json/reply.js';
import {
  encodeInferHeader,
  type InferCall,
  type InferResult,
  parseInferHeader,
  readInferCall,
} from '../codec/v2-infer.js';
import type { Tensor, TensorLimits } from '../dropout/tensor.js';
import { ProblemError } from '../errors.js';
import { BYTES_PER_ELEMENT, viewOf } from '../kernel/dtype.js';
import type { MaybePromise } from '../maybe-promise.js';
import { sharedMask, sharedTensor, tensorOf } from '../offload/infer-tasks.js';
import type { ParseJsonResult } from '../offload/json-tasks.js';
import type { OffloadPool } from '../offload/pool.js';
import { MODEL_VERSION } from './model.js';

/** A rough size of one written value, to estimate a reply's bytes before writing it. */
const BYTES_PER_JSON_VALUE = 12;

export type Signal = () => AbortSignal;

/** A worker's parse of a /v1 JSON body: its fields for the route's schema, and the tensor as a view. */
export type ParsedJsonBody =
  | { ok: true; fields: Record<string, unknown>; tensor: (Tensor & { nested: boolean }) | null }
  | Extract<ParseJsonResult, { ok: false }>;

export class OffThreadCodec {
  readonly #pool: OffloadPool;
  readonly #limits: TensorLimits;
  readonly #inlineMaxJsonBytes: number;

  constructor(pool: OffloadPool, limits: TensorLimits, inlineMaxJsonBytes: number) {
    this.#pool = pool;
    this.#limits = limits;
    this.#inlineMaxJsonBytes = inlineMaxJsonBytes;
  }

  /** Bodies over this many bytes are left unparsed for a worker. */
  get inlineMaxJsonBytes(): number {
    return this.#inlineMaxJsonBytes;
  }

  /** A /v1 JSON body too large to parse here (the body parser left it as bytes in shared memory). */
  async parseJsonBody(bytes: Uint8Array, signal: Signal): Promise<ParsedJsonBody> {
    const { buffer, byteOffset, byteLength } = bytes;
    const parsed = await this.#pool.parseJson(
      {
        body: { buffer: buffer as SharedArrayBuffer, byteOffset, byteLength },
        limits: { ...this.#limits, inlineMaxElements: -1 },
      },
      signal(),
    );
    if (!parsed.ok) return parsed;
    if (parsed.tensor === null) return { ok: true, fields: parsed.fields, tensor: null };
    const { buffer: data, shape, nested, dtype } = parsed.tensor;
    const view = viewOf(dtype, data, 0, data.byteLength / BYTES_PER_ELEMENT[dtype]);
    return { ok: true, fields: parsed.fields, tensor: { shape, dtype, data: view, nested } };
  }

  /** A /v1 JSON reply: the tensor's values (nested by shape or flat), the echo of the settings, the mask. */
  writeJsonReply(
    tensor: Tensor,
    nested: boolean,
    echo: ReplyEcho,
    mask: Uint8Array | undefined,
    signal: Signal,
  ): MaybePromise<Uint8Array> {
    const { data, shape, dtype } = tensor;
    if (data.length * BYTES_PER_JSON_VALUE <= this.#inlineMaxJsonBytes || !(data.buffer instanceof SharedArrayBuffer)) {
      return writeDropoutReply({ data, shape, dtype, nested }, echo, mask);
    }
    return this.#pool.encodeJson(
      {
        tensor: { buffer: data.buffer, byteOffset: data.byteOffset, length: data.length, shape, dtype, nested },
        echo,
        mask: mask ? sharedMask(mask) : undefined,
      },
      signal(),
    );
  }

  /** An inference request's JSON header (and its binary section, when there is one), read into a call. */
  async readInferCall(body: Uint8Array, header: Uint8Array, binary: Uint8Array, signal: Signal): Promise<InferCall> {
    if (header.length <= this.#inlineMaxJsonBytes || !(body.buffer instanceof SharedArrayBuffer)) {
      return readInferCall(parseInferHeader(header), binary, this.#limits);
    }
    const { buffer, byteOffset, byteLength } = body;
    const decoded = await this.#pool.decodeInfer(
      {
        body: { buffer: buffer as SharedArrayBuffer, byteOffset, byteLength },
        headerLength: header.length,
        limits: { ...this.#limits, inlineMaxElements: -1 },
      },
      signal(),
    );
    if (decoded.ok) return { ...decoded.call, tensor: tensorOf(decoded.call.tensor) };
    // Rethrown as the inline path throws them.
    if ('code' in decoded) throw new ProblemError(decoded.code, decoded.detail);
    const { message, errors, context } = decoded.validation;
    throw Object.assign(new Error(message), { statusCode: 400, validation: errors, validationContext: context });
  }

  /** An inference reply's JSON header (the outputs asked for as JSON, and the binary outputs' sizes). */
  async writeInferHeader(call: InferCall, result: InferResult, signal: Signal): Promise<Uint8Array> {
    const values = call.outputs.filter((o) => !o.binary).length * result.tensor.data.length;
    if (values * BYTES_PER_JSON_VALUE <= this.#inlineMaxJsonBytes) {
      return encodeInferHeader(call, result, MODEL_VERSION);
    }
    return this.#pool.encodeInfer(
      {
        call: { id: call.id, outputs: call.outputs },
        result: {
          ...result,
          tensor: sharedTensor(result.tensor),
          mask: result.mask ? sharedMask(result.mask) : undefined,
        },
        modelVersion: MODEL_VERSION,
      },
      signal(),
    );
  }
}
