/** What crosses to a worker: plain data over shared memory, so nothing large is copied or cloned. */
import type { Rng } from '../dropout/choices.js';
import type { DropoutParams } from '../kernel/dropout.js';
import type { Dtype, FloatArray, TensorData } from '../kernel/dtype.js';
import { standardDropout } from '../kernel/standard.js';
import { applyVariantRange, type VariantPlan } from '../kernel/variants.js';

/** Which kernel a range runs: the fused standard one (float32/float64, Philox per element) or the general one. */
export type RangeKernel = { kind: 'standard'; params: DropoutParams } | { kind: 'variant'; plan: VariantPlan };

/** Slots of RangeTask.control. */
export const CONTROL = {
  /** Non-zero once the request is abandoned: no further block is started. */
  cancel: 0,
  /** The next block to claim; every task of the tensor takes blocks from it until they run out. */
  next: 1,
  /** [started + index] is set by task `index` when it starts. */
  started: 2,
} as const;

export interface RangeTask {
  kernel: RangeKernel;
  dtype: Dtype;
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  /**
   * Elements per block, a multiple of 4 (whole Philox blocks): the tensor is cut into blocks [k·block, (k+1)·block),
   * and each task computes whichever blocks it claims, so a thread that runs faster (or starts sooner) takes more of
   * them and no thread waits for the event loop between blocks.
   */
  block: number;
  /** One byte per element; the task writes the blocks it claims. */
  mask?: SharedArrayBuffer;
  /** Shared by the tensor's tasks: see CONTROL. */
  control: Int32Array;
  index: number;
}

/** Runs a kernel on data[start..end) in place; returns the kept count. */
export function runRange(kernel: RangeKernel, data: TensorData, start: number, end: number, mask?: Uint8Array): number {
  return kernel.kind === 'standard'
    ? standardDropout(data as FloatArray, start, end, kernel.params, mask)
    : applyVariantRange(data, start, end, kernel.plan, mask);
}

/**
 * Claims and computes blocks of the task's tensor until none is left or the request is abandoned; returns the kept
 * count of the blocks it computed. The cancel flag is read before every claim, so an abandoned request's memory is
 * written for at most one more block per running task.
 */
export function runBlocks(task: RangeTask, data: TensorData, mask?: Uint8Array): number {
  const { control, block, length } = task;
  let kept = 0;
  while (Atomics.load(control, CONTROL.cancel) === 0) {
    const start = Atomics.add(control, CONTROL.next, 1) * block;
    if (start >= length) break;
    kept += runRange(task.kernel, data, start, Math.min(length, start + block), mask);
  }
  return kept;
}

/** Draws `count` noise elements into `out` (keep bytes, or gaussian multipliers). */
export interface NoiseTask {
  plan: VariantPlan;
  rng: Rng;
  seed: bigint;
  count: number;
  out: Uint8Array | Float64Array;
}
