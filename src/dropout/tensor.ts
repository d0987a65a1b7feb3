/** A tensor as every layer above the kernel sees it, and the limits every decoder holds it to. */
import type { Dtype, TensorData } from '../kernel/dtype.js';

export interface Tensor {
  shape: number[];
  dtype: Dtype;
  /** Row-major values, in shared memory so the pool can compute on them in place. */
  data: TensorData;
}

export interface TensorLimits {
  maxElements: number;
  maxRank: number;
  /** Tensors up to this size stay on the main thread (INLINE_MAX_ELEMENTS). */
  inlineMaxElements: number;
}
