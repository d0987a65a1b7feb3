/**
 * Standard (inverted) dropout, docs/semantics.md §1, on a range of a flat tensor, in place.
 * Pure typed-array code: no I/O, no threads, so the same function serves the main thread, the worker pool and tests.
 */
import { type FloatArray, type FloatDtype, roundTo } from './dtype.js';
import { philox4x32 } from './philox.js';

const TWO_32 = 4294967296;

export interface DropoutParams {
  dtype: FloatDtype;
  /** Drop probability in [0, 1]. */
  p: number;
  /** Philox key words (philoxKey(seed)). */
  key0: number;
  key1: number;
  /** Draw index of element 0 of the whole tensor (docs/semantics.md §1 `offset`); offset + numel ≤ 2^53. */
  offset: number;
}

/** The keep threshold T = floor((1 − p) · 2^32): a draw u keeps its element when u < T. */
export function keepThreshold(p: number): number {
  return Math.floor((1 - p) * TWO_32);
}

/** The scale s = R(1 / R(1 − p)) applied to kept elements, rounded as PyTorch's CPU kernel rounds it. */
export function keepScale(dtype: FloatDtype, p: number): number {
  return roundTo(dtype, 1 / roundTo(dtype, 1 - p));
}

/**
 * Applies dropout to data[start..end) in place, element i using draw index offset + i, and returns how many
 * elements were kept. With `mask`, mask[i] is set to 1 where element i was kept, else 0.
 * p = 0 leaves the data untouched (bit for bit); p = 1 gives x·0 without drawing (PyTorch's rule).
 */
export function dropoutRange(
  data: FloatArray,
  start: number,
  end: number,
  params: DropoutParams,
  mask?: Uint8Array,
): number {
  const { p } = params;
  if (p === 0) {
    mask?.fill(1, start, end);
    return end - start;
  }
  if (p === 1) {
    for (let i = start; i < end; i++) data[i] = data[i] * 0;
    mask?.fill(0, start, end);
    return 0;
  }
  const threshold = keepThreshold(p);
  const scale = keepScale(params.dtype, p);
  const words = new Uint32Array(4);
  const first = params.offset + start;
  const block = Math.floor(first / 4);
  let blockLo = block % TWO_32;
  let blockHi = Math.floor(block / TWO_32);
  let lane = first % 4;
  let kept = 0;
  let i = start;
  while (i < end) {
    philox4x32(blockLo, blockHi, 0, 0, params.key0, params.key1, words);
    for (; lane < 4 && i < end; lane++, i++) {
      const keep = words[lane] < threshold;
      data[i] = data[i] * (keep ? scale : 0);
      if (keep) kept++;
      if (mask) mask[i] = keep ? 1 : 0;
    }
    lane = 0;
    blockLo++;
    if (blockLo === TWO_32) {
      blockLo = 0;
      blockHi++;
    }
  }
  return kept;
}
