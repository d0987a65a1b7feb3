/** What crosses to a worker: plain data over shared memory, so nothing large is copied or cloned. */
import type { Rng } from '../dropout/choices.js';
import type { DropoutParams } from '../kernel/dropout.js';
import type { Dtype, FloatArray, TensorData } from '../kernel/dtype.js';
import { standardDropout } from '../kernel/standard.js';
import { applyVariantRange, type VariantPlan } from '../kernel/variants.js';

/** Which kernel a range runs: the fused standard one (float32/float64, Philox per element) or the general one. */
export type RangeKernel = { kind: 'standard'; params: DropoutParams } | { kind: 'variant'; plan: VariantPlan };

export interface RangeTask {
  kernel: RangeKernel;
  dtype: Dtype;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  /** Element range [start, end) of the tensor this task computes in place. */
  start: number;
  end: number;
  /** One byte per element; the task writes its range. */
  mask?: SharedArrayBuffer;
  /**
   * [0] is non-zero once the request is abandoned; [1 + index] is set by the task when it starts. A task that finds
   * [0] set returns without computing.
   */
  control: Int32Array;
  index: number;
}

/** Runs a kernel on data[start..end) in place; returns the kept count. */
export function runRange(kernel: RangeKernel, data: TensorData, start: number, end: number, mask?: Uint8Array): number {
  return kernel.kind === 'standard'
    ? standardDropout(data as FloatArray, start, end, kernel.params, mask)
    : applyVariantRange(data, start, end, kernel.plan, mask);
}

/** Draws `count` noise elements into `out` (keep bytes, or gaussian multipliers). */
export interface NoiseTask {
  plan: VariantPlan;
  rng: Rng;
  seed: bigint;
  count: number;
  out: Uint8Array | Float64Array;
}
