/**
 * Tensor values as JSON text: the shortest decimal that reads back as the same float32 (float32, float16 and bfloat16
 * values, all exact float32s) or float64 (float64 values), negative zero as -0.0, and the protobuf-JSON strings for
 * non-finite values.
 *
 * Why float32 for the 16-bit dtypes: clients such as tritonclient read FP16/BF16 JSON data into float32 (or float64),
 * so a decimal that reads back only as the 16-bit value (bfloat16's -0.547 for -0.546875) comes back off by up to half
 * a 16-bit step there, while the float32 one reads back exactly into either. Why -0.0: Python's json, rapidjson and
 * orjson read the token -0 as the integer 0, which loses the sign; -0.0 is a float to all of them.
 *
 * float32 needs its own shortest-digits search (JavaScript only has float64's). Trying toPrecision(1..9) costs ~1.5 µs
 * a value; instead the candidates are computed with exact float64 scaling by powers of ten up to 10^22, which covers
 * every float32 from 1e-13 to 1e14; outside that range the toPrecision search is the fallback.
 */

export const NON_FINITE_IN: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

/** Powers of ten that are exact doubles: 10^0 … 10^22. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Negative zero with a fraction, so that readers with an integer type see a float and keep the sign. */
export const NEGATIVE_ZERO = '-0.0';

function nonFinite(v: number): string {
  if (Number.isNaN(v)) return '"NaN"';
  return v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** float64: JavaScript's own number-to-string is already the shortest round-trip form. */
export function formatFloat64(v: number): string {
  if (v === 0) return Object.is(v, -0) ? NEGATIVE_ZERO : '0';
  if (!Number.isFinite(v)) return nonFinite(v);
  return String(v);
}

/** Reference search, used outside the fast path's range and by the tests as the definition. */
export function shortestFloat32BySearch(v: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

/** Digits r and scale k of the shortest decimal r · 10^−k that rounds to the float32 a (finite, > 0). */
export interface DecimalParts {
  digits: number;
  scale: number;
}

/**
 * Fills `out` with the shortest decimal for the float32 a (finite, > 0), or returns false when a is outside the
 * range where the float64 scaling is exact (the caller then uses the toPrecision search).
 */
export function shortestFloat32Parts(a: number, out: DecimalParts): boolean {
  let e10 = Math.floor(Math.log10(a));
  if (e10 > 13 || e10 < -13) return false;
  // log10 can be off by one next to powers of ten: make 10^e10 ≤ a < 10^(e10+1) exact.
  if (e10 >= 0 ? a < POW10[e10] : a * POW10[-e10] < 1) e10--;
  else if (e10 + 1 >= 0 ? a >= POW10[e10 + 1] : a * POW10[-(e10 + 1)] >= 1) e10++;
  // Where a's rounding interval is symmetric (a not a power of two), if d digits round-trip so do d + 1: the
  // nearest (d+1)-digit decimal is at least as close. So the fewest digits can be found by bisection over 1..9
  // (9 always round-trip); at powers of two the interval is lopsided and the search is linear.
  f32[0] = a;
  let digits: number;
  if ((u32[0] & 0x7fffff) === 0) {
    digits = 1;
    while (digits < 9 && !roundTrips(a, digits - 1 - e10)) digits++;
  } else {
    let low = 1;
    digits = 9;
    while (low < digits) {
      const mid = (low + digits) >> 1;
      if (roundTrips(a, mid - 1 - e10)) digits = mid;
      else low = mid + 1;
    }
  }
  let scale = digits - 1 - e10;
  let r = scale >= 0 ? Math.round(a * POW10[scale]) : Math.round(a / POW10[-scale]);
  if (!roundTrips(a, scale)) return false;
  while (r % 10 === 0) {
    r /= 10;
    scale--;
  }
  out.digits = r;
  out.scale = scale;
  return true;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Whether round(a · 10^k) · 10^−k reads back as a. Each step is one correctly rounded operation on exact doubles,
 * so the candidate is the double nearest the decimal, as a parser would read it.
 */
function roundTrips(a: number, k: number): boolean {
  const candidate = k >= 0 ? Math.round(a * POW10[k]) / POW10[k] : Math.round(a / POW10[-k]) * POW10[-k];
  return Math.fround(candidate) === a;
}
