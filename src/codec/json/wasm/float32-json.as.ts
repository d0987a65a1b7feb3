/**
 * float32 tensor values as JSON text, as WebAssembly: the same bytes as JsonWriter.float32 (../writer.ts),
 * whose definition is shortestFloat32BySearch (../float-format.ts): for d = 1 … 8, v.toPrecision(d) (v rounded to d
 * significant digits, halves away from zero) if that decimal, read as a double and then rounded to float32, gives v
 * back; else v.toPrecision(9). Laid out as Number#toString lays out that decimal; negative zero as -0.0.
 *
 * The JS wrapper (../float32.ts) copies a run of values into IN, calls `format`, and copies the text from OUT.
 *
 * Why not Ryu's or Schubfach's answer as is: both pick the decimal nearest v among the shortest ones in v's rounding
 * interval, with halves to even, and test membership in that interval exactly. The definition instead only tries
 * the nearest d-digit decimal (halves away from zero), so at powers of two (lopsided interval) it can need a digit
 * more, and it reads the decimal as a double first, so a decimal within half a double ulp of the interval's edge
 * rounds as that double does. So the digits of v come from exact integer arithmetic (W below), the interval only
 * bounds from below which d to try first, and each try is the definition's own round trip: one correctly rounded
 * f64 multiply or divide by an exact power of ten and an f32 demote. Outside the range where that is one exact
 * operation (decimal exponents below −22: values under ~1e−14) an f64 estimate decides unless it is within its error
 * of the interval's edge; then exact big-integer comparisons do.
 * Compiled by `npm run build:wasm`; the .wasm is committed because the runtime image has no compiler.
 */

// Values per call; the wrapper asks for it. 24 bytes a value fit the longest text, "-0.00000123456789" and
// "-340282350000000000000" plus a comma.
const CHUNK: i32 = 16384;
const VALUE_BYTES: i32 = 24;
const IN: usize = memory.data(CHUNK << 2, 16);
const OUT: usize = memory.data(CHUNK * VALUE_BYTES + 32, 16);
const LIMBS: i32 = 12;
const BIG_A: usize = memory.data(LIMBS << 2, 16);
const BIG_B: usize = memory.data(LIMBS << 2, 16);

// 5^0 … 5^27: the largest powers of five in a u64.
const POW5: usize = memory.data<u64>([
  1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625, 48828125, 244140625, 1220703125, 6103515625,
  30517578125, 152587890625, 762939453125, 3814697265625, 19073486328125, 95367431640625, 476837158203125,
  2384185791015625, 11920928955078125, 59604644775390625, 298023223876953125, 1490116119384765625, 7450580596923828125,
]);
// 10^−29 … 10^54 as doubles: exact from 10^0 to 10^22, correctly rounded elsewhere.
const POW10: usize = memory.data<f64>([
  1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13,
  1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
  1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28,
  1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47,
  1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54,
]);
const PAIRS: usize = memory.data<u8>([
  48, 48, 48, 49, 48, 50, 48, 51, 48, 52, 48, 53, 48, 54, 48, 55, 48, 56, 48, 57, 49, 48, 49, 49, 49, 50, 49, 51, 49,
  52, 49, 53, 49, 54, 49, 55, 49, 56, 49, 57, 50, 48, 50, 49, 50, 50, 50, 51, 50, 52, 50, 53, 50, 54, 50, 55, 50, 56,
  50, 57, 51, 48, 51, 49, 51, 50, 51, 51, 51, 52, 51, 53, 51, 54, 51, 55, 51, 56, 51, 57, 52, 48, 52, 49, 52, 50, 52,
  51, 52, 52, 52, 53, 52, 54, 52, 55, 52, 56, 52, 57, 53, 48, 53, 49, 53, 50, 53, 51, 53, 52, 53, 53, 53, 54, 53, 55,
  53, 56, 53, 57, 54, 48, 54, 49, 54, 50, 54, 51, 54, 52, 54, 53, 54, 54, 54, 55, 54, 56, 54, 57, 55, 48, 55, 49, 55,
  50, 55, 51, 55, 52, 55, 53, 55, 54, 55, 55, 55, 56, 55, 57, 56, 48, 56, 49, 56, 50, 56, 51, 56, 52, 56, 53, 56, 54,
  56, 55, 56, 56, 56, 57, 57, 48, 57, 49, 57, 50, 57, 51, 57, 52, 57, 53, 57, 54, 57, 55, 57, 56, 57, 57,
]);
const NAN: usize = memory.data<u8>([34, 78, 97, 78, 34]);
const NEG_INF: usize = memory.data<u8>([34, 45, 73, 110, 102, 105, 110, 105, 116, 121, 34]);

// Cross-check switch for scripts/float32-exhaustive.ts, which builds variants with it changed: 1 decides every
// candidate by the f64 round trip, 2 by the exact big-integer comparison. At 0 Binaryen drops the branches.
const CHECK: i32 = 0;

// Width of the margin, in units of the 10-digit scale below, that makes the interval used to bound d a superset of
// the true one despite the f64 rounding of its ends (~1e−6 there) and the double rounding (~1e−6 too).
const SLACK: f64 = 0.0625;
// Distance from the interval's ends beyond which a decimal on W's scale is inside or outside whatever the errors.
const MARGIN: f64 = 0.001;
const FIVE_13: u32 = 1220703125;

export function inputPtr(): usize {
  return IN;
}

export function outputPtr(): usize {
  return OUT;
}

export function capacity(): i32 {
  return CHUNK;
}

/** Writes the n float32 values at IN to OUT, comma-separated, and returns the number of bytes. */
export function format(n: i32): i32 {
  let out = OUT;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      store<u8>(out, 44);
      out++;
    }
    out = value(load<u32>(IN + ((<usize>i) << 2)), out);
  }
  return <i32>(out - OUT);
}

function value(bits: u32, out: usize): usize {
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return nonFinite(bits, out);
  // The sign without a branch: mixed signs would mispredict half the time.
  store<u8>(out, 45);
  out += <usize>(bits >>> 31);
  if (abs === 0) {
    // "0.0" stored, and kept whole only after a minus: readers such as Python's json take -0 for the integer 0.
    store<u32>(out, 0x302e30);
    return out + 1 + ((<usize>(bits >>> 31)) << 1);
  }
  return finite(abs, out);
}

function nonFinite(bits: u32, out: usize): usize {
  if ((bits & 0x7fffff) !== 0) return copy(out, NAN, 5);
  if (bits >> 31) return copy(out, NEG_INF, 11);
  store<u8>(out, 34);
  return copy(out + 1, NEG_INF + 2, 9);
}

function copy(out: usize, from: usize, n: i32): usize {
  for (let i = 0; i < n; i++) store<u8>(out + <usize>i, load<u8>(from + <usize>i));
  return out + <usize>n;
}

function pow10(k: i32): f64 {
  return load<f64>(POW10 + ((<usize>(k + 29)) << 3));
}

function pow2(k: i32): f64 {
  return reinterpret<f64>((<u64>(k + 1023)) << 52);
}

/** v = m · 2^e > 0, finite, given by its bits. */
function finite(bits: u32, out: usize): usize {
  const exp = bits >>> 23;
  const frac = bits & 0x7fffff;
  const m: u64 = exp === 0 ? <u64>frac : <u64>(frac | 0x800000);
  const e: i32 = exp === 0 ? -149 : <i32>exp - 150;
  // At a power of two (not the smallest normal) the float32 below is half as far as the one above.
  const narrow = frac === 0 && exp > 1;
  // floor(log10 v) is floor(log2 v · log10 2) or one more; 1233 / 2^12 gives floor(k · log10 2) for |k| < 160.
  let e10 = ((63 - <i32>clz(m) + e) * 1233) >> 12;
  let s = 9 - e10;
  // W = floor(v · 10^s), v's first ten digits: exact, so the rounding of v to d ≤ 9 digits is exact too (a half
  // away from zero needs only the first digit dropped).
  let w = scaled(m, e, s);
  if (w >= 10000000000) {
    w /= 10;
    e10++;
    s--;
  }
  const wf = <f64>w;
  // v's rounding interval on W's scale, in f64: x = v · 10^s and the ends are within 1e−5 of the true ones.
  const x = <f64>reinterpret<f32>(bits) * pow10(s);
  const half = pow2(e - 1) * pow10(s);
  const lower = x - (narrow ? half * 0.5 : half);
  const upper = x + half;
  // A d-digit decimal that reads back lies in the interval (give or take the double rounding, ~1e−6 here), and is
  // a multiple of 10^(10 − d) on W's scale; a multiple of 10^(j + 1) is one of 10^j, so the largest j with a
  // multiple in the interval widened by SLACK bounds d from below. v's interval is wider than 44 units, so
  // multiples of 10 are always there.
  const lowest = lower - SLACK;
  const highest = upper + SLACK;
  // The usual j are 2 to 4, as good as random for random data: tested without branches.
  const has2 = Math.floor(highest * 1e-2) * 1e2 >= lowest;
  const has3 = Math.floor(highest * 1e-3) * 1e3 >= lowest;
  const has4 = Math.floor(highest * 1e-4) * 1e4 >= lowest;
  let j = 2 + <i32>has2 + <i32>(has2 & has3) + <i32>(has2 & has3 & has4);
  while (j >= 5 && j <= 9 && Math.floor(highest * pow10(-j)) * pow10(j) >= lowest) j++;
  let d = 11 - j;
  let c: f64 = 0;
  while (true) {
    const unit = pow10(10 - d);
    // Exact: the quotient is at least 10^(d − 10) from the next integer, far more than its rounding error.
    c = Math.floor((wf + unit * 0.5) / unit);
    // Nine digits are not tried. Otherwise the decimal on W's scale (exact) clearly inside the interval is
    // accepted, clearly outside rejected; near an end the round trip itself decides.
    const k = c * unit;
    if (d === 9 || (CHECK === 0 && k > lower + MARGIN && k < upper - MARGIN)) break;
    if ((CHECK !== 0 || (k >= lower - MARGIN && k <= upper + MARGIN)) && roundTrips(c, e10 - d + 1, bits, m, e, narrow))
      break;
    d++;
  }
  return decimal(c, d, e10 - d + 1, out);
}

/** floor(m · 2^e · 10^s) for the s that makes it ten digits (or eleven). */
function scaled(m: u64, e: i32, s: i32): u64 {
  if (s < 0 || s > 27) return scaledSlow(m, e, s);
  // m · 5^s in two 32-bit halves of 5^s (each product < 2^56), then · 2^(e + s); the result is < 2^35.
  const p = load<u64>(POW5 + ((<usize>s) << 3));
  const a = m * (p & 0xffffffff);
  const b = m * (p >>> 32);
  const shift = e + s;
  if (shift >= 0) return ((b << 32) + a) << shift;
  const r = -shift;
  if (r >= 32) return (b + (a >>> 32)) >>> (r - 32);
  return (b << (32 - r)) + (a >>> r);
}

// Values under ~1e−18 (5^s needs more than 64 bits) and over ~1e10 (a division by 5^−s): big integers.
function scaledSlow(m: u64, e: i32, s: i32): u64 {
  bigSet(BIG_A, m);
  const shift = e + s;
  if (s >= 0) {
    bigMulPow5(BIG_A, s);
    if (shift >= 0) bigShl(BIG_A, shift);
    else bigShr(BIG_A, -shift);
  } else if (shift >= 0) {
    bigShl(BIG_A, shift);
    bigDivPow5(BIG_A, -s);
  } else {
    // floor(floor(x / a) / b) = floor(x / (a · b)) for positive integers a, b.
    bigDivPow5(BIG_A, -s);
    bigShr(BIG_A, -shift);
  }
  return ((<u64>load<u32>(BIG_A + 4)) << 32) | <u64>load<u32>(BIG_A);
}

/**
 * Whether c · 10^t, read as a double and then rounded to float32, is the float32 with these bits (m · 2^e). Where
 * |t| ≤ 22 the double is one correctly rounded operation on exact doubles, as a parser computes it; for t > 22,
 * c · 10^(t − 22) is still exact (c · 5^(t − 22) < 2^9 · 5^17 < 2^53), so again one rounding.
 */
function roundTrips(c: f64, t: i32, bits: u32, m: u64, e: i32, narrow: bool): bool {
  if (CHECK === 2) return exactRoundTrips(<u64>c, t, bits, m, e, narrow);
  let x: f64;
  if (t >= 0) x = t <= 22 ? c * pow10(t) : c * pow10(t - 22) * 1e22;
  else if (t >= -22) x = c / pow10(-t);
  else return tinyRoundTrips(c, t, bits, m, e, narrow);
  return reinterpret<u32>(<f32>x) === bits;
}

// t < −22: x is c · 10^t within three roundings (< 4e−16 relative); the float32 interval's ends lo and hi are exact
// doubles, and the double nearest c · 10^t is within 1.2e−16 of it, so a margin of 1e−15 decides unless c · 10^t
// is that close to an end.
function tinyRoundTrips(c: f64, t: i32, bits: u32, m: u64, e: i32, narrow: bool): bool {
  const k = -t - 22;
  let x = c / 1e22;
  x = k <= 22 ? x / pow10(k) : x / 1e22 / pow10(k - 22);
  const v = <f64>reinterpret<f32>(bits);
  const up = pow2(e - 1);
  const lo = v - (narrow ? up * 0.5 : up);
  const hi = v + up;
  const margin = x * 1e-15;
  if (x < lo - margin || x > hi + margin) return false;
  if (x > lo + margin && x < hi - margin) return true;
  return exactRoundTrips(<u64>c, t, bits, m, e, narrow);
}

function exactRoundTrips(c: u64, t: i32, bits: u32, m: u64, e: i32, narrow: bool): bool {
  // A double exactly on lo or hi rounds to the float32 with the even significand: v's when its last bit is 0.
  const even = (bits & 1) === 0;
  const low = narrow ? doubleSide(c, t, (m << 2) - 1, e - 2) : doubleSide(c, t, (m << 1) - 1, e - 1);
  if (low < 0 || (low === 0 && !even)) return false;
  const high = doubleSide(c, t, (m << 1) + 1, e - 1);
  return high < 0 || (high === 0 && even);
}

/**
 * Where the double nearest c · 10^t lies relative to the double n · 2^p (0 < n < 2^27): −1 below it, 0 on it,
 * 1 above. It is on it when c · 10^t is within the half ulps either side, ties included (n · 2^p has an even double
 * significand). On the scale where n · 2^p is a 55-bit integer, a double ulp is 4 units, or 2 just below a power
 * of two (hi is one when v's significand is all ones).
 */
function doubleSide(c: u64, t: i32, n: u64, p: i32): i32 {
  const shift = 55 - (64 - <i32>clz(n));
  const scaledN = n << shift;
  const q = p - shift;
  if (compareDecimal(c, t, scaledN - ((n & (n - 1)) === 0 ? 1 : 2), q) < 0) return -1;
  if (compareDecimal(c, t, scaledN + 2, q) > 0) return 1;
  return 0;
}

/** The sign of c · 10^t − n · 2^p, exactly. */
function compareDecimal(c: u64, t: i32, n: u64, p: i32): i32 {
  bigSet(BIG_A, c);
  bigSet(BIG_B, n);
  // c · 5^t · 2^t against n · 2^p, or for t < 0, c against n · 5^−t · 2^(p − t).
  let a = 0;
  let b = p;
  if (t >= 0) {
    bigMulPow5(BIG_A, t);
    a = t;
  } else {
    bigMulPow5(BIG_B, -t);
    b = p - t;
  }
  if (a > b) bigShl(BIG_A, a - b);
  else bigShl(BIG_B, b - a);
  for (let i = LIMBS - 1; i >= 0; i--) {
    const x = load<u32>(BIG_A + ((<usize>i) << 2));
    const y = load<u32>(BIG_B + ((<usize>i) << 2));
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

// Big integers: LIMBS little-endian u32 limbs, enough for every value above (< 2^200).
function bigSet(big: usize, x: u64): void {
  store<u32>(big, <u32>x);
  store<u32>(big + 4, <u32>(x >>> 32));
  for (let i = 2; i < LIMBS; i++) store<u32>(big + ((<usize>i) << 2), 0);
}

function bigMul(big: usize, k: u32): void {
  let carry: u64 = 0;
  for (let i = 0; i < LIMBS; i++) {
    const at = big + ((<usize>i) << 2);
    const x = <u64>load<u32>(at) * <u64>k + carry;
    store<u32>(at, <u32>x);
    carry = x >>> 32;
  }
}

function bigMulPow5(big: usize, k: i32): void {
  for (; k >= 13; k -= 13) bigMul(big, FIVE_13);
  if (k > 0) bigMul(big, <u32>load<u64>(POW5 + ((<usize>k) << 3)));
}

function bigDiv(big: usize, k: u32): void {
  let rest: u64 = 0;
  for (let i = LIMBS - 1; i >= 0; i--) {
    const at = big + ((<usize>i) << 2);
    const x = (rest << 32) | <u64>load<u32>(at);
    store<u32>(at, <u32>(x / <u64>k));
    rest = x % <u64>k;
  }
}

function bigDivPow5(big: usize, k: i32): void {
  for (; k >= 13; k -= 13) bigDiv(big, FIVE_13);
  if (k > 0) bigDiv(big, <u32>load<u64>(POW5 + ((<usize>k) << 3)));
}

function bigShl(big: usize, bits: i32): void {
  const words = bits >> 5;
  const r = bits & 31;
  for (let i = LIMBS - 1; i >= 0; i--) {
    const from = i - words;
    let x: u32 = 0;
    if (from >= 0) {
      x = load<u32>(big + ((<usize>from) << 2)) << r;
      if (r !== 0 && from > 0) x |= load<u32>(big + ((<usize>(from - 1)) << 2)) >>> (32 - r);
    }
    store<u32>(big + ((<usize>i) << 2), x);
  }
}

function bigShr(big: usize, bits: i32): void {
  const words = bits >> 5;
  const r = bits & 31;
  for (let i = 0; i < LIMBS; i++) {
    const from = i + words;
    let x: u32 = 0;
    if (from < LIMBS) {
      x = load<u32>(big + ((<usize>from) << 2)) >>> r;
      if (r !== 0 && from + 1 < LIMBS) x |= load<u32>(big + ((<usize>(from + 1)) << 2)) << (32 - r);
    }
    store<u32>(big + ((<usize>i) << 2), x);
  }
}

/**
 * c · 10^t (c has d digits, or is 10^d after rounding up) as Number#toString writes it, trailing zeros dropped:
 * fixed from 1e−6 to 1e21, exponential otherwise. The digits are made eight at a time in a register and written
 * with 8-byte stores, some of which run past the text: later values overwrite those bytes, and OUT has room for
 * them after the last.
 */
function decimal(cf: f64, d: i32, t: i32, out: usize): usize {
  let c = <u32>cf;
  let count = d;
  if (cf >= pow10(d)) {
    c = 1;
    count = 1;
    t += d;
  }
  // `rest`: the last eight digits (or all, if fewer), one a byte, the first in the lowest byte; `lead`: the first
  // of nine digits, else 0 and unused.
  let lead: u32 = 0;
  let rest: u64;
  let restCount = count;
  if (count === 9) {
    lead = c / 100000000;
    rest = eightDigits(c - lead * 100000000);
    restCount = 8;
  } else rest = eightDigits(c) >>> ((<u64>(8 - count)) << 3);
  // Trailing zeros (rest is never 0 unless nine digits end in eight zeros) are not written.
  const zeros = rest === 0 ? 8 : (<i32>clz(rest) >> 3) - (8 - restCount);
  const n = count - zeros;
  // Digits before the decimal point; the same with or without the trailing zeros.
  const point = count + t;
  rest |= 0x3030303030303030;
  if (point > 0 && point <= 21) {
    let at = out;
    let restPoint = point;
    if (count === 9) {
      store<u8>(at, 48 + lead);
      at++;
      restPoint--;
    }
    store<u64>(at, rest);
    if (point >= n) {
      // An integer: zeros up to the point, overwriting the digits' trailing zeros too.
      for (let i = n; i < point; i += 8) store<u64>(out + <usize>i, 0x3030303030303030);
      return out + <usize>point;
    }
    store<u8>(at + <usize>restPoint, 46);
    store<u64>(at + <usize>restPoint + 1, rest >>> ((<u64>restPoint) << 3));
    return out + <usize>n + 1;
  }
  if (point > -6 && point <= 0) {
    // "0.", up to five zeros, the digits.
    store<u16>(out, 0x2e30);
    store<u64>(out + 2, 0x3030303030303030);
    let at = out + 2 - <usize>point;
    if (count === 9) {
      store<u8>(at, 48 + lead);
      at++;
    }
    store<u64>(at, rest);
    return out + 2 - <usize>point + <usize>n;
  }
  // d.ddde±x
  if (count === 9) store<u8>(out, 48 + lead);
  else {
    store<u8>(out, <u8>rest);
    rest >>>= 8;
  }
  let at = out + 1;
  if (n > 1) {
    store<u8>(at, 46);
    store<u64>(at + 1, rest);
    at += <usize>n;
  }
  let x = point - 1;
  store<u8>(at, 101);
  store<u8>(at + 1, x < 0 ? 45 : 43);
  if (x < 0) x = -x;
  if (x >= 10) {
    store<u16>(at + 2, load<u16>(PAIRS + ((<usize>x) << 1)));
    return at + 4;
  }
  store<u8>(at + 2, <u8>(48 + x));
  return at + 3;
}

/**
 * The eight decimal digits of c < 10^8 (leading zeros included), one a byte, most significant in the lowest:
 * halves of four digits in 32-bit lanes, then pairs in 16-bit lanes, then digits, each split by a multiply and shift
 * that divides exactly in its range (by 100 below 43,699, by 10 below 179).
 */
function eightDigits(c: u32): u64 {
  const high = c / 10000;
  let v: u64 = <u64>high | ((<u64>(c - high * 10000)) << 32);
  let q = ((v * 10486) >>> 20) & 0x0000007f0000007f;
  v = ((v - q * 100) << 16) | q;
  q = ((v * 103) >>> 10) & 0x000f000f000f000f;
  return ((v - q * 10) << 8) | q;
}
