/**
 * float16 / bfloat16 / float32 bit conversions for the fuzz oracle, written independently of src/kernel/half.ts.
 * A number is rounded to a 16-bit type through float32 (as docs/semantics.md §1.3 and c10::Half(float) do), ties
 * to even.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function roundHalfEven(v: number): number {
  const r = Math.floor(v);
  const d = v - r;
  if (d > 0.5) return r + 1;
  if (d < 0.5) return r;
  return r % 2 === 0 ? r : r + 1;
}

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function f32FromBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** float16 bits of x (NaN → 0x7e00 with x's sign). */
export function toF16Bits(x: number): number {
  const f = Math.fround(x);
  const sign = f < 0 || Object.is(f, -0) || (Number.isNaN(f) && f32Bits(f) >>> 31 === 1) ? 0x8000 : 0;
  if (Number.isNaN(f)) return sign | 0x7e00;
  const a = Math.abs(f);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24); // subnormal (1024 carries into the smallest normal)
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const m = roundHalfEven(a * 2 ** (10 - e)); // 1024 … 2048
  const bits = ((e + 15) << 10) + (m - 1024);
  return sign | Math.min(bits, 0x7c00);
}

export function fromF16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bfloat16 bits of x (NaN → 0x7fc0). */
export function toBf16Bits(x: number): number {
  const bits = f32Bits(x);
  if (Number.isNaN(Math.fround(x))) return 0x7fc0;
  let upper = bits >>> 16;
  const lower = bits & 0xffff;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper++;
  return upper & 0xffff;
}

export function fromBf16Bits(bits: number): number {
  return f32FromBits((bits & 0xffff) << 16);
}
