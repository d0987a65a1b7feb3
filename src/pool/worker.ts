/** Piscina worker: a thin adapter from a RangeTask to the pure kernel. Returns the kept count. */
import { dropoutRange } from '../kernel/dropout.js';
import { viewOf } from '../kernel/dtype.js';
import type { RangeTask } from './task.js';

export default function runRange(task: RangeTask): number {
  const data = viewOf(task.dtype, task.buffer, task.byteOffset, task.length);
  const mask = task.mask ? new Uint8Array(task.mask) : undefined;
  return dropoutRange(data, task.start, task.end, task.params, mask);
}
