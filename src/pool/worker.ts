/** Piscina worker: thin adapters from task data to the pure kernel and codecs. */
import { Piscina } from 'piscina';
import { type FloatArray, viewOf } from '../kernel/dtype.js';
import { standardDropout } from '../kernel/standard.js';
import { applyVariantRange } from '../kernel/variants.js';
import {
  type EncodeJsonTask,
  encodeJsonReply,
  type ParseJsonResult,
  type ParseJsonTask,
  parseJsonRequest,
} from './json-tasks.js';
import { drawNoise } from './noise.js';
import type { NoiseTask, RangeTask, VariantTask } from './task.js';

/** Dropout on one element range, in place; returns the kept count. */
export function dropout(task: RangeTask): number {
  const data = viewOf(task.dtype, task.buffer, task.byteOffset, task.length) as FloatArray;
  const mask = task.mask ? new Uint8Array(task.mask) : undefined;
  return standardDropout(data, task.start, task.end, task.params, mask);
}

export function parseJson(task: ParseJsonTask): ParseJsonResult {
  return parseJsonRequest(task);
}

/** The reply's bytes are transferred back, not cloned. */
export function encodeJson(task: EncodeJsonTask): unknown {
  const bytes = encodeJsonReply(task);
  return Piscina.move(bytes);
}

/** The general variant kernel on one element range, in place; returns the kept count. */
export function variant(task: VariantTask): number {
  const data = viewOf(task.dtype, task.buffer, task.byteOffset, task.length);
  const mask = task.mask ? new Uint8Array(task.mask) : undefined;
  return applyVariantRange(data, task.start, task.end, task.plan, mask);
}

export function noise(task: NoiseTask): void {
  drawNoise(task);
}

export default dropout;
