/**
 * Every dropout variant of docs/semantics.md §1 on a range of a flat tensor, in place: standard, alpha and gaussian,
 * one draw per element or per noise element broadcast over noise_shape, Philox or PyTorch's stream, in all four dtypes.
 * Arithmetic follows PyTorch's CPU kernels operation by operation; 16-bit types compute in float32 and round to 16 bits
 * after each operation. Pure: no I/O, no threads.
 */

import { keepScale } from './dropout.js';
import { type Dtype, type FloatArray, isFloatDtype, type TensorData } from './dtype.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './half.js';
import { philox4x32 } from './philox.js';
import { applyKeepScaleWasm, wasmKeepScaleSupported } from './wasm-keep-scale.js';

export type KernelVariant = 'standard' | 'alpha' | 'gaussian';

/** SELU's α, as torch.nn.AlphaDropout uses it. */
export const SELU_ALPHA = 1.7580993408473766;
const TWO_32 = 4294967296;

export interface VariantPlan {
  dtype: Dtype;
  variant: KernelVariant;
  p: number;
  shape: number[];
  /** Dims of the noise tensor (same rank, each dim the input's or 1); null for one draw per element. */
  noiseShape: number[] | null;
  key0: number;
  key1: number;
  /** Draw index of noise element 0. */
  offset: number;
  /**
   * Precomputed per noise element: keep decisions (1/0) for standard and alpha, used instead of Philox draws (the
   * torch stream, which is serial, always comes this way).
   */
  keep?: Uint8Array;
  /** Precomputed gaussian multipliers R(1 + σ·z) per noise element (for broadcast noise). */
  multipliers?: Float64Array;
}

/** R(·): round a float64 result to the dtype, as the dtype's arithmetic would. */
export function rounder(dtype: Dtype): (x: number) => number {
  switch (dtype) {
    case 'float32':
      return Math.fround;
    case 'float64':
      return (x) => x;
    case 'float16':
      return (x) => f16ToNumber(numberToF16(x));
    case 'bfloat16':
      return (x) => bf16ToNumber(numberToBf16(x));
  }
}

interface Access {
  load: (i: number) => number;
  store: (i: number, v: number) => void;
}

function access(dtype: Dtype, data: TensorData): Access {
  if (dtype === 'float16') {
    return { load: (i) => f16ToNumber(data[i]), store: (i, v) => (data[i] = numberToF16(v)) };
  }
  if (dtype === 'bfloat16') {
    return { load: (i) => bf16ToNumber(data[i]), store: (i, v) => (data[i] = numberToBf16(v)) };
  }
  // float32 stores round on assignment; float64 needs nothing.
  return { load: (i) => data[i], store: (i, v) => (data[i] = v) };
}

/** The per-element arithmetic of a variant, given whether the element was kept (or its gaussian multiplier). */
export function elementFunction(dtype: Dtype, variant: KernelVariant, p: number): (x: number, keep: number) => number {
  const R = rounder(dtype);
  if (variant === 'alpha') {
    const a = 1 / Math.sqrt((SELU_ALPHA * SELU_ALPHA * p + 1) * (1 - p));
    const ra = R(a);
    const c1 = R(SELU_ALPHA * a);
    const c2 = R(SELU_ALPHA * a * p);
    const dropped = R(c2 - c1);
    return (x, keep) => (keep ? R(R(x * ra) + c2) : R(R(x * 0) + dropped));
  }
  if (variant === 'gaussian') return (x, multiplier) => R(x * multiplier);
  const s = R(1 / R(1 - p));
  return (x, keep) => R(x * (keep ? s : 0));
}

/** Row-major strides of `noise` mapped onto `shape`: 0 along broadcast (size-1) dims. */
function broadcastStrides(shape: number[], noise: number[]): number[] {
  const strides = new Array<number>(shape.length).fill(0);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = noise[k] === 1 ? 0 : stride;
    stride *= noise[k];
  }
  return strides;
}

/** Walks elements start..end of `shape` in row-major order, yielding each one's noise index. */
function noiseIndices(
  shape: number[],
  noise: number[],
  start: number,
  end: number,
  visit: (i: number, j: number) => void,
): void {
  const strides = broadcastStrides(shape, noise);
  const rank = shape.length;
  const coords = new Array<number>(rank).fill(0);
  let rest = start;
  let j = 0;
  for (let k = rank - 1; k >= 0; k--) {
    coords[k] = rest % shape[k];
    rest = Math.floor(rest / shape[k]);
    j += coords[k] * strides[k];
  }
  for (let i = start; i < end; i++) {
    visit(i, j);
    for (let k = rank - 1; k >= 0; k--) {
      coords[k]++;
      j += strides[k];
      if (coords[k] < shape[k]) break;
      j -= strides[k] * shape[k];
      coords[k] = 0;
    }
  }
}

/** The Philox uint32 for draw index n. */
function philoxDraw(key0: number, key1: number, n: number, words: Uint32Array): number {
  const block = Math.floor(n / 4);
  philox4x32(block % TWO_32, Math.floor(block / TWO_32), 0, 0, key0, key1, words);
  return words[n % 4];
}

/** The gaussian multiplier 1 + σ·z(n): Box–Muller on the Philox stream's third counter word (docs/semantics.md §1.4). */
export function gaussianMultiplier(key0: number, key1: number, n: number, sigma: number, words: Uint32Array): number {
  const pair = Math.floor(n / 2);
  philox4x32(pair % TWO_32, Math.floor(pair / TWO_32), 1, 0, key0, key1, words);
  const lane = 2 * (n % 2);
  const u1 = words[lane];
  const u2 = words[lane + 1];
  const z = Math.sqrt(-2 * Math.log((u1 + 1) / TWO_32)) * Math.cos((2 * Math.PI * u2) / TWO_32);
  return 1 + sigma * z;
}

/**
 * Applies the plan to data[start..end) in place and returns how many elements were kept (all of them for
 * gaussian, which drops nothing). With `mask`, mask[i] is 1 where element i was kept.
 */
export function applyVariantRange(
  data: TensorData,
  start: number,
  end: number,
  plan: VariantPlan,
  mask?: Uint8Array,
): number {
  const { dtype, variant, p } = plan;
  const { load, store } = access(dtype, data);
  if (p === 0) {
    mask?.fill(1, start, end);
    return end - start;
  }
  if (p === 1) {
    // PyTorch's rule for every variant but gaussian (which rejects p = 1): x·0, no draws.
    for (let i = start; i < end; i++) store(i, load(i) * 0);
    mask?.fill(0, start, end);
    return 0;
  }
  if (
    variant === 'standard' &&
    plan.keep &&
    plan.noiseShape === null &&
    isFloatDtype(dtype) &&
    wasmKeepScaleSupported()
  ) {
    // The torch stream's common case: keep bytes drawn ahead, applied by the SIMD loop (same bytes as below).
    return applyKeepScaleWasm(data as FloatArray, start, end, plan.keep, start, keepScale(dtype, p), mask);
  }
  const f = elementFunction(dtype, variant, p);
  const words = new Uint32Array(4);
  const threshold = Math.floor((1 - p) * TWO_32);
  const sigma = Math.sqrt(p / (1 - p));
  const R = rounder(dtype);
  const { multipliers } = plan;
  const decide =
    variant === 'gaussian'
      ? multipliers
        ? (j: number) => multipliers[j]
        : (j: number) => R(gaussianMultiplier(plan.key0, plan.key1, plan.offset + j, sigma, words))
      : plan.keep
        ? (j: number) => plan.keep![j]
        : (j: number) => (philoxDraw(plan.key0, plan.key1, plan.offset + j, words) < threshold ? 1 : 0);
  let kept = 0;
  const visit = (i: number, j: number): void => {
    const k = decide(j);
    store(i, f(load(i), k));
    const keptHere = variant === 'gaussian' || k === 1 ? 1 : 0;
    kept += keptHere;
    if (mask) mask[i] = keptHere;
  };
  if (plan.noiseShape === null) for (let i = start; i < end; i++) visit(i, i);
  else noiseIndices(plan.shape, plan.noiseShape, start, end, visit);
  return kept;
}

/**
 * The draws of noise elements [0, count) on the Philox stream, computed once for a broadcast noise shape rather
 * than once per element: keep decisions for standard and alpha, multipliers for gaussian.
 */
export function philoxNoise(plan: VariantPlan, count: number, out: Uint8Array | Float64Array): void {
  const words = new Uint32Array(4);
  if (plan.variant === 'gaussian') {
    const R = rounder(plan.dtype);
    const sigma = Math.sqrt(plan.p / (1 - plan.p));
    for (let j = 0; j < count; j++) out[j] = R(gaussianMultiplier(plan.key0, plan.key1, plan.offset + j, sigma, words));
    return;
  }
  const threshold = Math.floor((1 - plan.p) * TWO_32);
  for (let j = 0; j < count; j++) out[j] = philoxDraw(plan.key0, plan.key1, plan.offset + j, words) < threshold ? 1 : 0;
}
