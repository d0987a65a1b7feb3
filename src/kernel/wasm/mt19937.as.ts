/**
 * PyTorch's CPU random stream (docs/semantics.md §1 rng "torch") as WebAssembly SIMD: MT19937 seeded like Mt19937 in
 * ../mt19937.ts, and the keep decisions of torchKeepMask, bit for bit the same, several times the throughput.
 *
 * The keep array lives in a JS (Shared)ArrayBuffer that wasm cannot address, so the JS wrapper (../wasm-mt19937.ts)
 * has `keepFill` write one chunk of keep bytes at OUT and copies it out. Applying them to a tensor is
 * keep-scale.as.ts's.
 *
 * The twist runs on four words per vector: word i depends on words i + 1 and i + M (old) or i + M − N (new, 227
 * words back), so four adjacent words never depend on each other. Tempering is lane-wise.
 * Compiled by `npm run build:wasm`; the .wasm is committed because the runtime image has no compiler.
 */

const N: i32 = 624;
const M: i32 = 397;
const UPPER: u32 = 0x80000000;
const LOWER: u32 = 0x7fffffff;
const MATRIX_A: u32 = 0x9908b0df;
const TEMPER_B: u32 = 0x9d2c5680;
const TEMPER_C: u32 = 0xefc60000;

// The loops' vector constants as static data, loaded where they are used: V8 14 (Node 26) rebuilds an i32x4.splat
// constant at every use inside a loop (a movabs, a vmovq and a shuffle each), which cost this module ~40 % of its
// speed there (keep mask: ~780 M/s on Node 20, ~490 on Node 26, the same module). See dropout.as.ts.
const VECTORS: usize = memory.data<u32>(
  [
    UPPER, UPPER, UPPER, UPPER,
    LOWER, LOWER, LOWER, LOWER,
    MATRIX_A, MATRIX_A, MATRIX_A, MATRIX_A,
    TEMPER_B, TEMPER_B, TEMPER_B, TEMPER_B,
    TEMPER_C, TEMPER_C, TEMPER_C, TEMPER_C,
    0xffffffff, 0x1fffff, 0xffffffff, 0x1fffff, // the low 53 bits of each i64 lane
    0x01010101, 0x01010101, 0x01010101, 0x01010101, // 1 in each byte
  ],
  16,
);
const V_UPPER: usize = VECTORS;
const V_LOWER: usize = VECTORS + 16;
const V_MATRIX: usize = VECTORS + 32;
const V_TEMPER_B: usize = VECTORS + 48;
const V_TEMPER_C: usize = VECTORS + 64;
const V_LOW53: usize = VECTORS + 80;
const V_ONES: usize = VECTORS + 96;

// Keep bytes of one chunk, written by keepFill.
const OUT_BYTES: i32 = 64 * 1024;
const OUT: usize = memory.data(OUT_BYTES, 64);
// The state, with room for the vector loads of words i + 1 .. i + 4 at i = 620.
const STATE: usize = memory.data(N * 4 + 16, 64);

// Index of the next output word in STATE; N means the state must be twisted first.
let index: i32 = N;

export function outPtr(): usize {
  return OUT;
}

export function outCapacity(): i32 {
  return OUT_BYTES;
}

// @ts-ignore: decorator
@inline
function word(i: i32): u32 {
  return load<u32>(STATE + (<usize>i << 2));
}

/** init_genrand: the seed's low 32 bits (the wrapper reduces it), then the Knuth recurrence. */
export function seed(s: u32): void {
  store<u32>(STATE, s);
  let prev = s;
  for (let i = 1; i < N; i++) {
    prev = 1812433253 * (prev ^ (prev >>> 30)) + <u32>i;
    store<u32>(STATE + (<usize>i << 2), prev);
  }
  index = N;
}

// @ts-ignore: decorator
@inline
function twistScalar(i: i32, next: i32, src: i32): void {
  const y = (word(i) & UPPER) | (word(next) & LOWER);
  store<u32>(STATE + (<usize>i << 2), word(src) ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0));
}

// Words i .. i + 3 from words i .. i + 4 and src .. src + 3.
// @ts-ignore: decorator
@inline
function twistVector(i: i32, src: i32): void {
  const p = STATE + (<usize>i << 2);
  const y = v128.or(v128.and(v128.load(p), v128.load(V_UPPER)), v128.and(v128.load(p + 4), v128.load(V_LOWER)));
  // All ones where y is odd, so that `and` picks MATRIX_A.
  const odd = i32x4.shr_s(i32x4.shl(y, 31), 31);
  const mixed = v128.xor(v128.load(STATE + (<usize>src << 2)), i32x4.shr_u(y, 1));
  v128.store(p, v128.xor(mixed, v128.and(odd, v128.load(V_MATRIX))));
}

/** The next N words in place, exactly as the reference in-place loop (Mt19937.#twist) computes them. */
function twist(): void {
  let i = 0;
  // Words 0 .. 223 read old words only (i + M ≤ 623).
  for (; i + 4 <= N - M - 3; i += 4) twistVector(i, i + M);
  // Words 224 .. 226: the last three with i + M < N (a vector here would need word 0's new value in lane 3).
  for (; i < N - M; i++) twistScalar(i, i + 1, i + M);
  // Words 227 .. 622: each reads the new word i + M − N, written at least 227 words earlier, and the old words
  // i + 1 .. i + 4 (word 623 is still old when i = 619).
  for (; i + 4 <= N - 1; i += 4) twistVector(i, i + M - N);
  // Word 623 reads the new word 0.
  twistScalar(N - 1, 0, M - 1);
  index = 0;
}

// @ts-ignore: decorator
@inline
function temper(x: u32): u32 {
  let y = x;
  y ^= y >>> 11;
  y ^= (y << 7) & TEMPER_B;
  y ^= (y << 15) & TEMPER_C;
  y ^= y >>> 18;
  return y;
}

// @ts-ignore: decorator
@inline
function temperVector(x: v128): v128 {
  let y = v128.xor(x, i32x4.shr_u(x, 11));
  y = v128.xor(y, v128.and(i32x4.shl(y, 7), v128.load(V_TEMPER_B)));
  y = v128.xor(y, v128.and(i32x4.shl(y, 15), v128.load(V_TEMPER_C)));
  return v128.xor(y, i32x4.shr_u(y, 18));
}

/** The next 32-bit output (the tests compare it with the published reference). */
export function next(): u32 {
  if (index >= N) twist();
  return temper(word(index++));
}

/** Skips `count` outputs (an integer < 2^53); there is no jump-ahead cheaper than twisting. */
export function skip(count: f64): void {
  let left = count;
  while (left > 0) {
    if (index >= N) twist();
    const step = min(left, <f64>(N - index));
    index += <i32>step;
    left -= step;
  }
}

// keep iff X < k, X = (r1 & 0x1fffff)·2^32 + r2 (see the wrapper's torchKeepThreshold for why that is u < 1 − p).
// @ts-ignore: decorator
@inline
function keepScalar(k: u64): i32 {
  const r1 = next();
  const r2 = next();
  const x = ((<u64>(r1 & 0x1fffff)) << 32) | <u64>r2;
  return x < k ? 1 : 0;
}

// The keep decisions (i32 lanes, −1 kept) of the four elements in the eight tempered words at w.
// @ts-ignore: decorator
@inline
function keep4(w: usize, kv: v128, low53: v128): v128 {
  // Lanes (r1, r2, r1', r2'); swapping each pair makes the i64 lanes r1·2^32 + r2.
  const ta = temperVector(v128.load(w));
  const tb = temperVector(v128.load(w + 16));
  const a = v128.and(i32x4.shuffle(ta, ta, 1, 0, 3, 2), low53);
  const b = v128.and(i32x4.shuffle(tb, tb, 1, 0, 3, 2), low53);
  // X and k are below 2^63, so the signed compare is the unsigned one.
  return i32x4.shuffle(i64x2.lt_s(a, kv), i64x2.lt_s(b, kv), 0, 2, 4, 6);
}

/**
 * Writes the keep bytes (1/0) of the next `n` noise elements (n ≤ outCapacity()) to OUT, two outputs each, kept
 * when X < k (k an integer in [0, 2^53]). Returns the number kept.
 */
export function keepFill(n: i32, kf: f64): i32 {
  const k = <u64>kf;
  let kept = 0;
  let o = 0;
  // An odd index (only after skipping an odd count, which the wrapper never does) would split pairs across
  // twists: draw those one output at a time.
  if (index & 1) {
    for (; o < n; o++) {
      const keep = keepScalar(k);
      store<u8>(OUT + <usize>o, keep);
      kept += keep;
    }
    return kept;
  }
  const kv = i64x2.splat(<i64>k);
  // Minus the number kept, lane by lane.
  let count = i32x4.splat(0);
  while (o < n) {
    if (index >= N) twist();
    // N is even and so is index: a block holds whole pairs.
    const take = min((N - index) >> 1, n - o);
    let w = STATE + (<usize>index << 2);
    let j = 0;
    for (; j + 16 <= take; j += 16, w += 128) {
      const low53 = v128.load(V_LOW53);
      const k0 = keep4(w, kv, low53);
      const k1 = keep4(w + 32, kv, low53);
      const k2 = keep4(w + 64, kv, low53);
      const k3 = keep4(w + 96, kv, low53);
      count = i32x4.add(count, i32x4.add(i32x4.add(k0, k1), i32x4.add(k2, k3)));
      const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(k0, k1), i16x8.narrow_i32x4_s(k2, k3));
      v128.store(OUT + <usize>(o + j), v128.and(bytes, v128.load(V_ONES)));
    }
    for (; j + 8 <= take; j += 8, w += 64) {
      const low53 = v128.load(V_LOW53);
      const k0 = keep4(w, kv, low53);
      const k1 = keep4(w + 32, kv, low53);
      count = i32x4.add(count, i32x4.add(k0, k1));
      const half = i16x8.narrow_i32x4_s(k0, k1);
      v128.store64_lane(OUT + <usize>(o + j), v128.and(i8x16.narrow_i16x8_s(half, half), v128.load(V_ONES)), 0);
    }
    index += j << 1;
    for (; j < take; j++) {
      const keep = keepScalar(k);
      store<u8>(OUT + <usize>(o + j), keep);
      kept += keep;
    }
    o += take;
  }
  kept -= i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1);
  kept -= i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  return kept;
}
