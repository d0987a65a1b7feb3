/**
 * Standard dropout (API.md §1) as WebAssembly SIMD, bit for bit the same as dropoutRange in ../dropout.ts.
 *
 * The tensor lives in a JS (Shared)ArrayBuffer that wasm cannot address, so the JS wrapper (../wasm-dropout.ts)
 * copies one chunk at a time into DATA, calls `dropout`, and copies the chunk (and the mask in MASK) back out.
 *
 * Philox4x32-10 runs on four blocks per vector: lane j of the vectors x0..x3 holds word 0..3 of block b + j.
 * Compiled by `npm run build:wasm`; the .wasm is committed because the runtime image has no compiler.
 */

// Room for one chunk of the widest dtype; the wrapper asks for the capacity instead of assuming it.
const CHUNK_BYTES: i32 = 64 * 1024;
const DATA: usize = memory.data(CHUNK_BYTES, 64);
const MASK: usize = memory.data(CHUNK_BYTES >> 2, 64);
// Ten rounds of (k0, k1) splatted, so the inner loop loads keys instead of rebuilding them every round.
const KEYS: usize = memory.data(20 * 16, 64);

const M0: u32 = 0xd2511f53;
const M1: u32 = 0xcd9e8d57;
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;

export function dataPtr(): usize {
  return DATA;
}

export function maskPtr(): usize {
  return MASK;
}

export function capacityBytes(): i32 {
  return CHUNK_BYTES;
}

// Words of the last scalar block, for the unaligned head and the tail of a chunk.
let w0: u32 = 0;
let w1: u32 = 0;
let w2: u32 = 0;
let w3: u32 = 0;

function philoxScalar(block: u64, key0: u32, key1: u32): void {
  let x0 = <u32>block;
  let x1 = <u32>(block >>> 32);
  let x2: u32 = 0;
  let x3: u32 = 0;
  let k0 = key0;
  let k1 = key1;
  for (let r = 0; r < 10; r++) {
    const p0 = <u64>x0 * <u64>M0;
    const p1 = <u64>x2 * <u64>M1;
    x0 = (<u32>(p1 >>> 32)) ^ x1 ^ k0;
    x1 = <u32>p1;
    x2 = (<u32>(p0 >>> 32)) ^ x3 ^ k1;
    x3 = <u32>p0;
    k0 += W0;
    k1 += W1;
  }
  w0 = x0;
  w1 = x1;
  w2 = x2;
  w3 = x3;
}

// @ts-ignore: decorator
@inline
function word(lane: i32): u32 {
  return lane == 0 ? w0 : lane == 1 ? w1 : lane == 2 ? w2 : w3;
}

// High words of the 32×32→64 products, lane by lane: the even i32 lanes of extmul are the low words.
// @ts-ignore: decorator
@inline
function mulhi(a: v128, m: v128): v128 {
  return i32x4.shuffle(i64x2.extmul_low_i32x4_u(a, m), i64x2.extmul_high_i32x4_u(a, m), 1, 3, 5, 7);
}

// The low words come from the same products (Binaryen shares the extmuls with mulhi) rather than i32x4.mul, which
// is two uops with 10-cycle latency on Intel cores; on AMD Zen 4 the two measure within a few percent.
// @ts-ignore: decorator
@inline
function mullo(a: v128, m: v128): v128 {
  return i32x4.shuffle(i64x2.extmul_low_i32x4_u(a, m), i64x2.extmul_high_i32x4_u(a, m), 0, 2, 4, 6);
}

/**
 * Dropout of the `n` elements at DATA (float32 when !wide, float64 when wide) whose first element has draw index
 * `first` (an integer < 2^53). Kept when u < t, or always when `all` (t = 2^32 does not fit a u32). Kept elements
 * become x·scale, dropped ones x·0 (a multiply, so NaN/Inf stay NaN and negatives give -0, as in PyTorch).
 * Writes 1/0 per element to MASK when `wantMask`. Returns the number kept.
 */
export function dropout(
  n: i32,
  first: f64,
  key0: u32,
  key1: u32,
  t: u32,
  all: bool,
  scale: f64,
  wide: bool,
  wantMask: bool,
): i32 {
  return wide
    ? run<f64>(n, first, key0, key1, t, all, scale, wantMask)
    : run<f32>(n, first, key0, key1, t, all, scale, wantMask);
}

/** x·0 for every element, without drawing: the p = 1 path. */
export function zero(n: i32, wide: bool): void {
  const bytes = n << (wide ? 3 : 2);
  const z = f64x2.splat(0);
  let i = 0;
  if (wide) {
    for (; i + 16 <= bytes; i += 16) v128.store(DATA + i, f64x2.mul(v128.load(DATA + i), z));
    for (; i < bytes; i += 8) store<f64>(DATA + i, load<f64>(DATA + i) * 0.0);
  } else {
    for (; i + 16 <= bytes; i += 16) v128.store(DATA + i, f32x4.mul(v128.load(DATA + i), z));
    for (; i < bytes; i += 4) store<f32>(DATA + i, load<f32>(DATA + i) * <f32>0.0);
  }
}

// @ts-ignore: decorator
@inline
function scalarStep<T>(i: i32, u: u32, t: u32, all: bool, scale: T, wantMask: bool): i32 {
  const keep = all || u < t;
  const ptr = DATA + (<usize>i << alignof<T>());
  store<T>(ptr, load<T>(ptr) * (keep ? scale : <T>0));
  if (wantMask) store<u8>(MASK + <usize>i, keep ? 1 : 0);
  return keep ? 1 : 0;
}

function run<T>(n: i32, first: f64, key0: u32, key1: u32, t: u32, all: bool, scaleIn: f64, wantMask: bool): i32 {
  const scale = <T>scaleIn;
  const draw = <u64>first;
  let block = draw >>> 2;
  let lane = <i32>(draw & 3);
  let i = 0;
  let kept = 0;

  if (lane != 0) {
    philoxScalar(block, key0, key1);
    for (; lane < 4 && i < n; lane++, i++) kept += scalarStep<T>(i, word(lane), t, all, scale, wantMask);
    block++;
  }

  if (n - i >= 16) {
    let k0 = key0;
    let k1 = key1;
    for (let r = 0; r < 10; r++) {
      v128.store(KEYS + r * 32, i32x4.splat(k0));
      v128.store(KEYS + r * 32 + 16, i32x4.splat(k1));
      k0 += W0;
      k1 += W1;
    }
    const m0 = i32x4.splat(M0);
    const m1 = i32x4.splat(M1);
    const iota = i32x4(0, 1, 2, 3);
    const tv = i32x4.splat(t);
    const allv = i32x4.splat(all ? -1 : 0);
    const zero = i32x4.splat(0);
    // Minus the number kept, lane by lane (a kept lane's compare result is -1).
    let count = i32x4.splat(0);
    let sv: v128;
    if (sizeof<T>() == 4) sv = f32x4.splat(<f32>scale);
    else sv = f64x2.splat(<f64>scale);

    // Two independent groups of four blocks per iteration: one group alone leaves the multiplier idle while each
    // round waits on the previous one.
    for (; n - i >= 32; i += 32, block += 8) {
      let a0 = i32x4.add(i32x4.splat(<i32>block), iota);
      // A lane that wrapped past 2^32 - 1 carries into its high word (lt_u gives -1 there, so subtract).
      let a1 = i32x4.sub(i32x4.splat(<i32>(block >>> 32)), i32x4.lt_u(a0, iota));
      let b0 = i32x4.add(i32x4.splat(<i32>(block + 4)), iota);
      let b1 = i32x4.sub(i32x4.splat(<i32>((block + 4) >>> 32)), i32x4.lt_u(b0, iota));
      let a2 = zero;
      let a3 = zero;
      let b2 = zero;
      let b3 = zero;
      for (let r: usize = 0; r < 10; r++) {
        const k0 = v128.load(KEYS + r * 32);
        const k1 = v128.load(KEYS + r * 32 + 16);
        const ahi0 = mulhi(a0, m0);
        const alo0 = mullo(a0, m0);
        const ahi1 = mulhi(a2, m1);
        const alo1 = mullo(a2, m1);
        const bhi0 = mulhi(b0, m0);
        const blo0 = mullo(b0, m0);
        const bhi1 = mulhi(b2, m1);
        const blo1 = mullo(b2, m1);
        a0 = v128.xor(v128.xor(ahi1, a1), k0);
        a1 = alo1;
        a2 = v128.xor(v128.xor(ahi0, a3), k1);
        a3 = alo0;
        b0 = v128.xor(v128.xor(bhi1, b1), k0);
        b1 = blo1;
        b2 = v128.xor(v128.xor(bhi0, b3), k1);
        b3 = blo0;
      }
      count = i32x4.add(count, apply<T>(i, a0, a1, a2, a3, tv, allv, sv, wantMask));
      count = i32x4.add(count, apply<T>(i + 16, b0, b1, b2, b3, tv, allv, sv, wantMask));
    }
    for (; n - i >= 16; i += 16, block += 4) {
      let x0 = i32x4.add(i32x4.splat(<i32>block), iota);
      let x1 = i32x4.sub(i32x4.splat(<i32>(block >>> 32)), i32x4.lt_u(x0, iota));
      let x2 = zero;
      let x3 = zero;
      for (let r: usize = 0; r < 10; r++) {
        const hi0 = mulhi(x0, m0);
        const lo0 = mullo(x0, m0);
        const hi1 = mulhi(x2, m1);
        const lo1 = mullo(x2, m1);
        x0 = v128.xor(v128.xor(hi1, x1), v128.load(KEYS + r * 32));
        x1 = lo1;
        x2 = v128.xor(v128.xor(hi0, x3), v128.load(KEYS + r * 32 + 16));
        x3 = lo0;
      }
      count = i32x4.add(count, apply<T>(i, x0, x1, x2, x3, tv, allv, sv, wantMask));
    }
    kept -= i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1);
    kept -= i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  }

  while (i < n) {
    philoxScalar(block, key0, key1);
    for (lane = 0; lane < 4 && i < n; lane++, i++) kept += scalarStep<T>(i, word(lane), t, all, scale, wantMask);
    block++;
  }
  return kept;
}

/**
 * Applies the four Philox blocks in x0..x3 (lane j: block b + j) to elements i .. i + 15. Returns the keep masks
 * summed lane by lane (-1 per kept element).
 */
// @ts-ignore: decorator
@inline
function apply<T>(i: i32, x0: v128, x1: v128, x2: v128, x3: v128, tv: v128, allv: v128, sv: v128, wantMask: bool): v128 {
  // Transpose so that vector j holds the four words of block b + j, i.e. elements i + 4j .. i + 4j + 3.
  const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
  const keep0 = v128.or(i32x4.lt_u(i64x2.shuffle(t0, t1, 0, 2), tv), allv);
  const keep1 = v128.or(i32x4.lt_u(i64x2.shuffle(t0, t1, 1, 3), tv), allv);
  const keep2 = v128.or(i32x4.lt_u(i64x2.shuffle(t2, t3, 0, 2), tv), allv);
  const keep3 = v128.or(i32x4.lt_u(i64x2.shuffle(t2, t3, 1, 3), tv), allv);
  const zero = i32x4.splat(0);
  if (sizeof<T>() == 4) {
    const p = DATA + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), v128.bitselect(sv, zero, keep0)));
    v128.store(p + 16, f32x4.mul(v128.load(p + 16), v128.bitselect(sv, zero, keep1)));
    v128.store(p + 32, f32x4.mul(v128.load(p + 32), v128.bitselect(sv, zero, keep2)));
    v128.store(p + 48, f32x4.mul(v128.load(p + 48), v128.bitselect(sv, zero, keep3)));
  } else {
    const p = DATA + (<usize>i << 3);
    wideStep(p, keep0, sv);
    wideStep(p + 32, keep1, sv);
    wideStep(p + 64, keep2, sv);
    wideStep(p + 96, keep3, sv);
  }
  if (wantMask) {
    const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(keep0, keep1), i16x8.narrow_i32x4_s(keep2, keep3));
    v128.store(MASK + <usize>i, v128.and(bytes, i8x16.splat(1)));
  }
  return i32x4.add(i32x4.add(keep0, keep1), i32x4.add(keep2, keep3));
}

// @ts-ignore: decorator
@inline
function wideStep(p: usize, keep: v128, sv: v128): void {
  const z = f64x2.splat(0);
  v128.store(p, f64x2.mul(v128.load(p), v128.bitselect(sv, z, i64x2.extend_low_i32x4_s(keep))));
  v128.store(p + 16, f64x2.mul(v128.load(p + 16), v128.bitselect(sv, z, i64x2.extend_high_i32x4_s(keep))));
}
