/**
 * float16 and bfloat16, stored as uint16 bit patterns, converted as PyTorch's c10::Half and c10::BFloat16 convert:
 * from float32 with round to nearest, ties to even; NaN becomes a quiet NaN (float16 keeps the sign, bfloat16 is
 * 0x7fc0 as PyTorch writes it). Every value of either type is exactly a float32, so decoding is exact.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits → value. */
export function bf16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0];
}

/** A float64 → bfloat16 bits, through float32 (as torch.tensor(x, dtype=torch.bfloat16) does). */
export function numberToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float16 bits → value. */
export function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/** A float64 → float16 bits, through float32 (as c10::Half(float) does), rounding to nearest even. */
export function numberToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;
  if (abs >= 0x47800000) {
    // ≥ 65536 rounds to infinity; so does anything from 65520 (the midpoint above the largest float16) up.
    return sign | 0x7c00;
  }
  const a = Math.abs(f32[0]);
  if (a >= 65520) return sign | 0x7c00;
  // Scale so that one unit in the last place of the target is 1, then round half to even on an exact double.
  const exponent = Math.max(Math.floor(Math.log2(a)), -14);
  const scaled = a * 2 ** (10 - exponent);
  let units = Math.round(scaled);
  if (units - scaled === 0.5 && units % 2 === 1) units -= 1;
  // units counts 2^(exponent−10); the rounded value can carry into the next binade, which the formula absorbs.
  if (a === 0) return sign;
  const value = units * 2 ** (exponent - 10);
  if (value >= 65520) return sign | 0x7c00;
  if (value < 2 ** -14) return sign | Math.round(value * 2 ** 24);
  const e = Math.floor(Math.log2(value));
  return sign | ((e + 15) << 10) | (value * 2 ** (10 - e) - 1024);
}
