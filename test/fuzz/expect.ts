/**
 * What a successful reply must contain, and the checks that hold a reply to it.
 *
 * The standard variant on the Philox stream (any dtype, with or without a broadcast noise shape) is computed from
 * test/reference.ts's independent Philox (drawU32) and this folder's own 16-bit rounding. The other variants
 * (alpha, feature_alpha, gaussian) and the torch stream are computed with the service's pure-JS kernel functions
 * (src/kernel): for those the fuzzer proves that every serving path (WASM, worker pool, chunking, codecs) agrees
 * with the plain kernel, not the kernel itself (test/kernel/variants.test.ts and test/service/torch-vectors.test.ts do that).
 */
import { torchKeepMask } from '../../src/kernel/mt19937.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { applyVariantRange, philoxNoise, type VariantPlan } from '../../src/kernel/variants.js';
import { drawU32 } from '../reference.js';
import { f32Bits, fromBf16Bits, fromF16Bits, toBf16Bits, toF16Bits } from './half.js';

export const DTYPES = ['float32', 'float64', 'float16', 'bfloat16'] as const;
export type Dtype = (typeof DTYPES)[number];
export const SIZE: Record<Dtype, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 };
export const VARIANTS = ['standard', 'alpha', 'feature', 'feature_alpha', 'gaussian'] as const;
export type Variant = (typeof VARIANTS)[number];
export type Mode = 'train' | 'eval';
export type Rng = 'philox' | 'torch';
export type Format = 'json' | 'binary' | 'npy';
export const V2_DATATYPES: Record<string, Dtype> = {
  FP32: 'float32',
  FP64: 'float64',
  FP16: 'float16',
  BF16: 'bfloat16',
};

/** R(·): a number rounded to the dtype (16-bit types through float32). */
export function roundTo(dtype: Dtype, x: number): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(x);
    case 'float64':
      return x;
    case 'float16':
      return fromF16Bits(toF16Bits(x));
    case 'bfloat16':
      return fromBf16Bits(toBf16Bits(x));
  }
}

export function decodeValues(dtype: Dtype, bytes: Uint8Array, littleEndian = true): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.floor(bytes.byteLength / SIZE[dtype]);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'float32') out[i] = view.getFloat32(4 * i, littleEndian);
    else if (dtype === 'float64') out[i] = view.getFloat64(8 * i, littleEndian);
    else if (dtype === 'float16') out[i] = fromF16Bits(view.getUint16(2 * i, littleEndian));
    else out[i] = fromBf16Bits(view.getUint16(2 * i, littleEndian));
  }
  return out;
}

export function encodeValues(dtype: Dtype, values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * SIZE[dtype]);
  values.forEach((v, i) => {
    if (dtype === 'float32') out.writeFloatLE(v, 4 * i);
    else if (dtype === 'float64') out.writeDoubleLE(v, 8 * i);
    else if (dtype === 'float16') out.writeUInt16LE(toF16Bits(v), 2 * i);
    else out.writeUInt16LE(toBf16Bits(v), 2 * i);
  });
  return out;
}

/** Bit-exact equality of two dtype values, except that any NaN matches any NaN (payloads are not specified). */
export function sameValue(dtype: Dtype, actual: number, expected: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (dtype === 'float32') return f32Bits(actual) === f32Bits(expected) && Object.is(actual, expected);
  return Object.is(actual, expected);
}

export interface TensorSpec {
  dtype: Dtype;
  shape: number[];
  /** Row-major values, each exactly a value of the dtype. */
  values: number[];
}

export interface SettingsSpec {
  p: number;
  mode: Mode;
  /** The uint64 seed asked for; 'drawn' when the request has none (the reply reports the drawn one). */
  seed: bigint | 'drawn';
  offset: number;
  variant: Variant;
  rng: Rng;
  /** Resolved noise shape (feature variants included); null for one draw per element. */
  noiseShape: number[] | null;
}

export interface Expected {
  values: number[];
  mask: Uint8Array;
  kept: number;
}

function noiseIndexOf(shape: number[], noise: number[]): (i: number) => number {
  const strides = new Array<number>(shape.length).fill(0);
  let stride = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = noise[k] === 1 ? 0 : stride;
    stride *= noise[k];
  }
  return (i) => {
    let j = 0;
    let rest = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      j += (rest % shape[k]) * strides[k];
      rest = Math.floor(rest / shape[k]);
    }
    return j;
  };
}

/** docs/semantics.md §1 for one call, given the seed actually used. */
export function expectedDropout(tensor: TensorSpec, s: SettingsSpec, seed: bigint | null): Expected {
  const { values } = tensor;
  const n = values.length;
  if (s.mode === 'eval' || s.p === 0 || n === 0 || seed === null) {
    return { values: [...values], mask: new Uint8Array(n).fill(1), kept: n };
  }
  if (s.variant === 'standard' || s.variant === 'feature') {
    if (s.rng === 'philox') return referenceStandard(tensor, s, seed);
  }
  return kernelVariant(tensor, s, seed);
}

/** Standard dropout on the Philox stream from test/reference.ts's BigInt Philox; noise broadcast over 1-dims. */
function referenceStandard(tensor: TensorSpec, s: SettingsSpec, seed: bigint): Expected {
  const { dtype, shape, values } = tensor;
  const R = (x: number) => roundTo(dtype, x);
  const n = values.length;
  const mask = new Uint8Array(n);
  const out = new Array<number>(n);
  if (s.p === 1) {
    for (let i = 0; i < n; i++) out[i] = R(values[i] * 0);
    return { values: out, mask, kept: 0 };
  }
  const threshold = Math.floor((1 - s.p) * 2 ** 32);
  const scale = R(1 / R(1 - s.p));
  const noiseIndex = s.noiseShape === null ? (i: number) => i : noiseIndexOf(shape, s.noiseShape);
  const draws = new Map<number, boolean>();
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const j = noiseIndex(i);
    let keep = draws.get(j);
    if (keep === undefined) {
      keep = drawU32(seed, BigInt(s.offset) + BigInt(j)) < threshold;
      draws.set(j, keep);
    }
    out[i] = R(values[i] * (keep ? scale : 0));
    mask[i] = keep ? 1 : 0;
    if (keep) kept++;
  }
  return { values: out, mask, kept };
}

/** The other variants and the torch stream, with the service's own pure-JS kernel functions. */
function kernelVariant(tensor: TensorSpec, s: SettingsSpec, seed: bigint): Expected {
  const { dtype, shape, values } = tensor;
  const n = values.length;
  const data =
    dtype === 'float32'
      ? Float32Array.from(values)
      : dtype === 'float64'
        ? Float64Array.from(values)
        : Uint16Array.from(values, (v) => (dtype === 'float16' ? toF16Bits(v) : toBf16Bits(v)));
  const [key0, key1] = philoxKey(seed);
  const variant = s.variant === 'gaussian' ? 'gaussian' : s.variant === 'standard' ? 'standard' : 'alpha';
  const plan: VariantPlan = {
    dtype,
    variant: s.variant === 'feature' ? 'standard' : variant,
    p: s.p,
    shape,
    noiseShape: s.noiseShape,
    key0,
    key1,
    offset: s.offset,
  };
  if (s.p < 1 && (s.rng === 'torch' || s.noiseShape !== null)) {
    const count = s.noiseShape === null ? n : s.noiseShape.reduce((a, b) => a * b, 1);
    if (plan.variant === 'gaussian') {
      const multipliers = new Float64Array(count);
      philoxNoise(plan, count, multipliers);
      plan.multipliers = multipliers;
    } else {
      const keep = new Uint8Array(count);
      if (s.rng === 'torch') torchKeepMask(seed, s.offset, count, s.p, keep);
      else philoxNoise(plan, count, keep);
      plan.keep = keep;
    }
  }
  const mask = new Uint8Array(n);
  const kept = applyVariantRange(data, 0, n, plan, mask);
  const out =
    data instanceof Uint16Array
      ? Array.from(data, (b) => (dtype === 'float16' ? fromF16Bits(b) : fromBf16Bits(b)))
      : Array.from(data);
  return { values: out, mask, kept };
}

// ---------------------------------------------------------------------------------------------------------------
// Replies

/** A reply value from JSON text (number or "NaN"/"Infinity"/"-Infinity") as a dtype value; undefined if neither. */
export function jsonValue(dtype: Dtype, v: unknown): number | undefined {
  if (typeof v === 'number') return roundTo(dtype, v);
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/** Walks a JSON reply nested like `shape` (or flat, or bare for 0-d), yielding leaves in row-major order. */
export function flattenReply(value: unknown, shape: number[], nested: boolean, n: number): unknown[] | string {
  // A 0-d tensor is a bare value, as NumPy's and PyTorch's tolist() give it.
  if (shape.length === 0) return Array.isArray(value) ? 'an array for a 0-d tensor' : [value];
  if (!nested || shape.length <= 1) {
    if (!Array.isArray(value)) return 'not an array';
    if (value.length !== n) return `${value.length} values, expected ${n}`;
    if (value.some(Array.isArray)) return 'nested where a flat array was expected';
    return value;
  }
  const leaves: unknown[] = [];
  const walk = (v: unknown, depth: number): string | null => {
    if (!Array.isArray(v) || v.length !== shape[depth]) return `not nested as [${shape}] at depth ${depth}`;
    for (const item of v) {
      if (depth === shape.length - 1) {
        if (Array.isArray(item)) return 'too deep';
        leaves.push(item);
      } else {
        const error = walk(item, depth + 1);
        if (error) return error;
      }
    }
    return null;
  };
  return walk(value, 0) ?? leaves;
}

export function compareValues(dtype: Dtype, actual: readonly number[], expected: readonly number[]): string | null {
  if (actual.length !== expected.length) return `${actual.length} values, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    if (!sameValue(dtype, actual[i], expected[i])) return `value ${i} is ${actual[i]}, expected ${expected[i]}`;
  }
  return null;
}

/** The seed a reply reports: a decimal uint64 string. */
export function parseReplySeed(text: unknown): bigint | null {
  if (typeof text !== 'string' || !/^\d{1,20}$/.test(text)) return null;
  const seed = BigInt(text);
  return seed < 2n ** 64n ? seed : null;
}

export function normaliseSeed(seed: bigint): bigint {
  return seed < 0n ? seed + 2n ** 64n : seed;
}
