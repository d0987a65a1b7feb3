/** The tensor element types of API.md §1 and how each is held in memory. */
export const DTYPES = ['float32', 'float64'] as const;
export type Dtype = (typeof DTYPES)[number];
export type FloatArray = Float32Array | Float64Array;

export const BYTES_PER_ELEMENT: Record<Dtype, number> = { float32: 4, float64: 8 };

/** A typed-array view of `length` elements of `dtype` over `buffer` (shared memory included) at `byteOffset`. */
export function viewOf(dtype: Dtype, buffer: ArrayBufferLike, byteOffset: number, length: number): FloatArray {
  return dtype === 'float32'
    ? new Float32Array(buffer, byteOffset, length)
    : new Float64Array(buffer, byteOffset, length);
}

/** R(·) of API.md §1: round a float64 to the dtype, ties to even. */
export function roundTo(dtype: Dtype, x: number): number {
  return dtype === 'float32' ? Math.fround(x) : x;
}
