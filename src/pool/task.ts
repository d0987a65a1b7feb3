/** What crosses to a worker: plain data over shared memory, so nothing large is copied or cloned. */
import type { DropoutParams } from '../kernel/dropout.js';
import type { Dtype, FloatDtype } from '../kernel/dtype.js';
import type { VariantPlan } from '../kernel/variants.js';

export interface RangeTask {
  dtype: FloatDtype;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  /** Element range [start, end) of the tensor this task computes in place. */
  start: number;
  end: number;
  params: DropoutParams;
  /** One byte per element; the task writes its range. */
  mask?: SharedArrayBuffer;
}

/** A range of the general variant kernel; the plan's precomputed noise, if any, is in shared memory too. */
export interface VariantTask {
  dtype: Dtype;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  start: number;
  end: number;
  plan: VariantPlan;
  mask?: SharedArrayBuffer;
}

/** Draws `count` noise elements into `out` (keep bytes, or gaussian multipliers). */
export interface NoiseTask {
  plan: VariantPlan;
  rng: 'philox' | 'torch';
  seed: bigint;
  count: number;
  out: Uint8Array | Float64Array;
}
