/** The tensor element types of docs/semantics.md §1 and how each is held in memory. */
import { numberToBf16, numberToF16 } from './half.js';

export const DTYPES = ['float32', 'float64', 'float16', 'bfloat16'] as const;
export type Dtype = (typeof DTYPES)[number];
/** The dtypes JavaScript computes in natively, which the fast (WASM) kernel serves. */
export type FloatDtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;
/** 16-bit dtypes are held as their bit patterns. */
export type TensorData = FloatArray | Uint16Array;

export const BYTES_PER_ELEMENT: Record<Dtype, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 };

export function isFloatDtype(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'float32' || dtype === 'float64';
}

/** A typed-array view of `length` elements of `dtype` over `buffer` (shared memory included) at `byteOffset`. */
export function viewOf(dtype: Dtype, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float64':
      return new Float64Array(buffer, byteOffset, length);
    default:
      return new Uint16Array(buffer, byteOffset, length);
  }
}

/** R(·) of docs/semantics.md §1 for the native dtypes: round a float64 to the dtype, ties to even. */
export function roundTo(dtype: FloatDtype, x: number): number {
  return dtype === 'float32' ? Math.fround(x) : x;
}

/** How a number is stored into the dtype's array (float arrays round on assignment; 16-bit types are encoded). */
export function encoderFor(dtype: Dtype): (x: number) => number {
  if (dtype === 'float16') return numberToF16;
  if (dtype === 'bfloat16') return numberToBf16;
  return (x) => x;
}
