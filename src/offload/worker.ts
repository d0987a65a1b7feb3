/** Piscina worker: thin adapters from task data to the pure kernels and codecs. */
import { workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { viewOf } from '../kernel/dtype.js';
import {
  type EncodeJsonTask,
  encodeJsonReply,
  type ParseJsonResult,
  type ParseJsonTask,
  parseJsonRequest,
} from './json-tasks.js';
import { drawNoise } from './noise-task.js';
import { CONTROL, type NoiseTask, type RangeTask, runBlocks } from './range-task.js';
import { lowerThreadPriority } from './thread-priority.js';

lowerThreadPriority(Number(workerData?.nice ?? 0));

/** Dropout on the blocks of a tensor this task claims, in place; returns their kept count. */
export function range(task: RangeTask): number {
  Atomics.store(task.control, CONTROL.started + task.index, 1);
  const data = viewOf(task.dtype, task.buffer, task.byteOffset, task.length);
  return runBlocks(task, data, task.mask ? new Uint8Array(task.mask) : undefined);
}

export function noise(task: NoiseTask): void {
  drawNoise(task);
}

export function parseJson(task: ParseJsonTask): ParseJsonResult {
  return parseJsonRequest(task);
}

/** The reply's bytes are transferred back, not cloned. */
export function encodeJson(task: EncodeJsonTask): unknown {
  return Piscina.move(encodeJsonReply(task));
}

export default range;
