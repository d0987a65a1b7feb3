/**
 * The one dropout pipeline under every protocol. A protocol adapter says how to decode its request and encode its
 * reply; the service does the rest, the same way for each: it holds the call's resources until the work is done,
 * gives the decoder the limits and the off-thread codec, resolves the settings, runs the kernel here or on the pool
 * by size, under the call's deadline, and hands the result to the encoder.
 */

import { type RawSettings, resolveSettings, type Settings } from '../dropout/settings.js';
import type { Tensor, TensorLimits } from '../dropout/tensor.js';
import { type MaybePromise, then } from '../maybe-promise.js';
import type { OffloadPool } from '../offload/pool.js';
import { applyDropout } from './apply-dropout.js';
import { type DeadlineSource, lazySignal } from './deadline.js';
import { OffThreadCodec, type Signal } from './off-thread-codec.js';

/** Deepest nesting / highest rank accepted; deeper input is refused before it is walked. */
export const MAX_RANK = 32;

export interface ServiceOptions {
  /** MAX_ELEMENTS */
  maxElements: number;
  /** INLINE_MAX_ELEMENTS: tensors up to this size are computed on the calling thread. */
  inlineMaxElements: number;
  /** INLINE_MAX_JSON_BYTES: JSON bodies and replies up to this size are parsed and written on the calling thread. */
  inlineMaxJsonBytes: number;
}

/** What every decoder yields: the tensor (computed in place), the settings as sent, and whether the mask is wanted. */
export interface DecodedCall {
  tensor: Tensor;
  raw: RawSettings;
  wantMask: boolean;
}

export interface DropoutOutcome {
  settings: Settings;
  kept: number;
  /** 1 where the element was kept; present when asked for. */
  mask?: Uint8Array;
}

export interface CallContext {
  limits: TensorLimits;
  codec: OffThreadCodec;
  /** The call's abort signal (deadline or client gone), made on first use. */
  signal: Signal;
}

/** Holds a call's admitted resources (body bytes, compute slot, shared buffers) until its work is done. */
export interface Holder {
  during<T>(work: () => MaybePromise<T>): MaybePromise<T>;
}

export interface DropoutCall<D extends DecodedCall, R> {
  /** No worker may still be writing memory that gets recycled, so the lease is held until the encoder is done. */
  lease: Holder;
  deadline: DeadlineSource;
  decode(context: CallContext): MaybePromise<D>;
  /** Told the settings once they are resolved (for the call's log line). */
  observe?(decoded: D, settings: Settings): void;
  encode(decoded: D, outcome: DropoutOutcome, context: CallContext): MaybePromise<R>;
}

export class DropoutService {
  readonly limits: TensorLimits;
  readonly codec: OffThreadCodec;
  readonly #pool: OffloadPool;

  constructor(pool: OffloadPool, options: ServiceOptions) {
    this.#pool = pool;
    this.limits = { maxElements: options.maxElements, maxRank: MAX_RANK, inlineMaxElements: options.inlineMaxElements };
    this.codec = new OffThreadCodec(pool, this.limits, options.inlineMaxJsonBytes);
  }

  /**
   * The call's result, synchronously when no step had to wait (a small tensor decoded, computed and encoded on this
   * thread), else a promise of it.
   */
  run<D extends DecodedCall, R>(call: DropoutCall<D, R>): MaybePromise<R> {
    return call.lease.during(() => {
      const context: CallContext = { limits: this.limits, codec: this.codec, signal: lazySignal(call.deadline) };
      return then(call.decode(context), (decoded) => this.#compute(call, decoded, context));
    });
  }

  #compute<D extends DecodedCall, R>(call: DropoutCall<D, R>, decoded: D, context: CallContext): MaybePromise<R> {
    const { tensor, raw, wantMask } = decoded;
    const settings = resolveSettings(raw, tensor.shape, tensor.dtype);
    call.observe?.(decoded, settings);
    const big = tensor.data.length > this.limits.inlineMaxElements;
    const result = applyDropout(this.#pool, tensor, settings, wantMask, big ? context.signal() : undefined);
    return then(result, ({ kept, mask }) => call.encode(decoded, { settings, kept, mask }, context));
  }
}
