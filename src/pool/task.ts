/** What crosses to a worker: plain data over shared memory, so nothing large is copied or cloned. */
import type { DropoutParams } from '../kernel/dropout.js';
import type { Dtype } from '../kernel/dtype.js';

export interface RangeTask {
  dtype: Dtype;
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
