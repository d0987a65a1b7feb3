/** Piscina worker: thin adapters from task data to the pure kernel and codecs. */
import { Piscina } from 'piscina';
import { standardDropout } from '../kernel/standard.js';
import { viewOf } from '../kernel/dtype.js';
import {
  type EncodeJsonTask,
  encodeJsonReply,
  type ParseJsonResult,
  type ParseJsonTask,
  parseJsonRequest,
} from './json-tasks.js';
import type { RangeTask } from './task.js';

/** Dropout on one element range, in place; returns the kept count. */
export function dropout(task: RangeTask): number {
  const data = viewOf(task.dtype, task.buffer, task.byteOffset, task.length);
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

export default dropout;
