/**
 * Tensor values as JSON text: the shortest decimal that reads back to the same value in the tensor's dtype (as NumPy
 * prints them), signed zero kept, and the protobuf-JSON strings for non-finite values.
 */
import type { Dtype } from '../kernel/dtype.js';

export const NON_FINITE_IN: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

function nonFinite(v: number): string {
  if (Number.isNaN(v)) return '"NaN"';
  return v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** float64: JavaScript's own number-to-string is already the shortest round-trip form. */
export function formatFloat64(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (!Number.isFinite(v)) return nonFinite(v);
  return String(v);
}

/**
 * float32: the fewest significant digits (1 to 9) whose decimal rounds back to the same float32. Nine always
 * suffice, so the loop ends.
 */
export function formatFloat32(v: number): string {
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  if (!Number.isFinite(v)) return nonFinite(v);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return String(candidate);
  }
  return String(Number(v.toPrecision(9)));
}

export function formatterFor(dtype: Dtype): (v: number) => string {
  return dtype === 'float32' ? formatFloat32 : formatFloat64;
}
