/**
 * Standard dropout (docs/semantics.md §1) as WebAssembly SIMD, bit for bit the same as dropoutRange in ../dropout.ts.
 *
 * The tensor lives in a JS (Shared)ArrayBuffer that wasm cannot address, so the JS wrapper (../wasm-dropout.ts)
 * copies one chunk at a time into DATA, calls `dropout`, and copies the chunk (and the mask in MASK) back out.
 *
 * Philox4x32-10 runs on four blocks per vector: lane j of the vectors x0..x3 holds word 0..3 of block b + j.
 * Compiled by `npm run build:wasm`; the .wasm is committed because the runtime image has no compiler.
 *
 * V8 lowers each i64x2.extmul to two unpacks and a pmuludq, so a round costs about ten vector instructions per
 * four blocks and, with two groups of four blocks in flight, the rounds saturate the vector units: what helps then
 * is fewer instructions (the constant folding of rounds 0-2 in run, the fused last round in `last`), not more
 * parallelism.
 */

// Room for one chunk of the widest dtype; the wrapper asks for the capacity instead of assuming it.
const CHUNK_BYTES: i32 = 64 * 1024;
const DATA: usize = memory.data(CHUNK_BYTES, 64);
const MASK: usize = memory.data(CHUNK_BYTES >> 2, 64);
// Ten rounds of (k0, k1) splatted, so the inner loop loads keys instead of rebuilding them every round.
const KEYS: usize = memory.data(20 * 16, 64);
// Loop-invariant vectors of one call. They are loaded inside the loops because V8 rebuilds a splat at every use
// instead of hoisting it.
const CONSTS: usize = memory.data(8 * 16, 64);
const ROUND1: usize = CONSTS; // round 1's word 2 term (see run)
const ROUND2: usize = CONSTS + 16; // round 2's word 2 term
const STEP: usize = CONSTS + 32; // 8·M0 in both i64 lanes
const LAST0: usize = CONSTS + 48; // round 9's keys with the sign bit flipped (see last)
const LAST1: usize = CONSTS + 64;
const SIGNS: usize = CONSTS + 80;
const LIMIT: usize = CONSTS + 96; // limit with the sign bit flipped
const SCALE: usize = CONSTS + 112;

const M0: u32 = 0xd2511f53;
const M1: u32 = 0xcd9e8d57;
// The multipliers splatted, as static data, loaded at the top of every loop iteration. As i32x4.splat constants
// V8 11 (Node 20) kept them in registers, but V8 14 (Node 26) rebuilds the constant at each of its uses in the loop
// (movabs, vmovq, vpunpcklqdq before every multiply), which halved the kernel there: 1,006 vs 561 M el/s, this same
// module on Node 20 and 26 side by side; loaded, 965 vs 1,018. Static data, not stored by `run`, so that no
// compiler can fold the load back into the constant.
const MULS: usize = memory.data<u32>([M0, M0, M0, M0, M1, M1, M1, M1], 16);
// 1 in each byte, for the mask bytes (the same reason).
const ONES: usize = memory.data<u32>([0x01010101, 0x01010101, 0x01010101, 0x01010101], 16);
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;
const SIGN: u32 = 0x80000000;

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

// High words of the 32×32→64 products, lane by lane: the odd i32 lanes of the extmul results. The low words come
// from i32x4.mul instead of a second narrowing shuffle of the same extmuls: ~4% faster overall on AMD Zen 4, where
// pmulld is one uop; on Intel cores it is two uops with 10-cycle latency, so there the shuffle may win.
// @ts-ignore: decorator
@inline
function mulhi(a: v128, m: v128): v128 {
  return i32x4.shuffle(i64x2.extmul_low_i32x4_u(a, m), i64x2.extmul_high_i32x4_u(a, m), 1, 3, 5, 7);
}

/**
 * Dropout of the `n` elements at DATA (float32 when !wide, float64 when wide) whose first element has draw index
 * `first` (an integer < 2^53). Kept when u <= limit (the wrapper passes T − 1 for the threshold T of API.md, and
 * calls `zero` instead when nothing can be kept). Kept elements become x·scale, dropped ones x·0 (a multiply, so
 * NaN/Inf stay NaN and negatives give -0, as in PyTorch). Writes 1/0 per element to MASK when `wantMask`.
 * Returns the number kept.
 */
export function dropout(
  n: i32,
  first: f64,
  key0: u32,
  key1: u32,
  limit: u32,
  scale: f64,
  wide: bool,
  wantMask: bool,
): i32 {
  return wide
    ? run<f64>(n, first, key0, key1, limit, scale, wantMask)
    : run<f32>(n, first, key0, key1, limit, scale, wantMask);
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
function scalarStep<T>(i: i32, u: u32, limit: u32, scale: T, wantMask: bool): i32 {
  const keep = u <= limit;
  const ptr = DATA + (<usize>i << alignof<T>());
  store<T>(ptr, load<T>(ptr) * (keep ? scale : <T>0));
  if (wantMask) store<u8>(MASK + <usize>i, keep ? 1 : 0);
  return keep ? 1 : 0;
}

function run<T>(n: i32, first: f64, key0: u32, key1: u32, limit: u32, scaleIn: f64, wantMask: bool): i32 {
  const scale = <T>scaleIn;
  const draw = <u64>first;
  let block = draw >>> 2;
  let lane = <i32>(draw & 3);
  let i = 0;
  let kept = 0;

  if (lane != 0) {
    philoxScalar(block, key0, key1);
    for (; lane < 4 && i < n; lane++, i++) kept += scalarStep<T>(i, word(lane), limit, scale, wantMask);
    block++;
  }

  if (n - i >= 16) {
    const simdStart = i;
    let k0 = key0;
    let k1 = key1;
    for (let r = 0; r < 10; r++) {
      v128.store(KEYS + r * 32, i32x4.splat(k0));
      v128.store(KEYS + r * 32 + 16, i32x4.splat(k1));
      k0 += W0;
      k1 += W1;
    }
    v128.store(LAST0, i32x4.splat((key0 + 9 * W0) ^ SIGN));
    v128.store(LAST1, i32x4.splat((key1 + 9 * W1) ^ SIGN));
    v128.store(SIGNS, i32x4.splat(SIGN));
    v128.store(LIMIT, i32x4.splat(limit ^ SIGN));
    if (sizeof<T>() == 4) v128.store(SCALE, f32x4.splat(<f32>scale));
    else v128.store(SCALE, f64x2.splat(<f64>scale));
    // The drop masks summed lane by lane (-1 per dropped element).
    let count = i32x4.splat(0);

    // While the low word of the block counter does not wrap inside this call, its high word is the same in every
    // lane. Then round 0's word 0 (high word ^ k0) is a constant, and so is round 1's product of it, which leaves
    // round 1 one product instead of two and round 2's word 3 a constant; and round 0's only product, counter · M0,
    // steps by 8·M0 from one iteration to the next instead of being multiplied out.
    const blocks = <u64>((n - i) >> 5) << 3;
    if (blocks > 0 && (block & 0xffffffff) + blocks <= 0x100000000) {
      const a = <u64>((<u32>(block >>> 32)) ^ key0) * <u64>M0;
      v128.store(ROUND1, i32x4.splat((<u32>(a >>> 32)) ^ (key1 + W1)));
      v128.store(ROUND2, i32x4.splat((<u32>a) ^ (key1 + 2 * W1)));
      v128.store(STEP, i64x2.splat(8 * <u64>M0));
      // The i64 lanes of pa, qa, pb, qb: (low word of block + j) · M0 for j = 0 .. 7.
      const base = (block & 0xffffffff) * <u64>M0;
      let pa = i64x2.replace_lane(i64x2.splat(base), 1, base + M0);
      let qa = i64x2.replace_lane(i64x2.splat(base + 2 * <u64>M0), 1, base + 3 * <u64>M0);
      let pb = i64x2.replace_lane(i64x2.splat(base + 4 * <u64>M0), 1, base + 5 * <u64>M0);
      let qb = i64x2.replace_lane(i64x2.splat(base + 6 * <u64>M0), 1, base + 7 * <u64>M0);
      // Two independent groups of four blocks per iteration (a and b): one group alone leaves the multiplier idle
      // while each round waits on the previous one; three run out of registers.
      for (; n - i >= 32; i += 32, block += 8) {
        const m0 = v128.load(MULS);
        const m1 = v128.load(MULS + 16);
        const k1r0 = v128.load(KEYS + 16);
        const k0r1 = v128.load(KEYS + 32);
        const k0r2 = v128.load(KEYS + 64);
        const c1 = v128.load(ROUND1);
        const c2 = v128.load(ROUND2);
        const step = v128.load(STEP);
        // Round 0: words 2 and 3 from the counter products (word 1 is 0 after it).
        let a2 = v128.xor(i32x4.shuffle(pa, qa, 1, 3, 5, 7), k1r0);
        let a3 = i32x4.shuffle(pa, qa, 0, 2, 4, 6);
        let b2 = v128.xor(i32x4.shuffle(pb, qb, 1, 3, 5, 7), k1r0);
        let b3 = i32x4.shuffle(pb, qb, 0, 2, 4, 6);
        pa = i64x2.add(pa, step);
        qa = i64x2.add(qa, step);
        pb = i64x2.add(pb, step);
        qb = i64x2.add(qb, step);
        // Round 1.
        let a0 = v128.xor(mulhi(a2, m1), k0r1);
        let a1 = i32x4.mul(a2, m1);
        a2 = v128.xor(a3, c1);
        let b0 = v128.xor(mulhi(b2, m1), k0r1);
        let b1 = i32x4.mul(b2, m1);
        b2 = v128.xor(b3, c1);
        // Round 2. Each key is XORed into the other operand first (x1 ^ k), off the multiply's critical path.
        a3 = i32x4.mul(a0, m0);
        b3 = i32x4.mul(b0, m0);
        {
          const ah0 = mulhi(a0, m0);
          const ah1 = mulhi(a2, m1);
          const al1 = i32x4.mul(a2, m1);
          const bh0 = mulhi(b0, m0);
          const bh1 = mulhi(b2, m1);
          const bl1 = i32x4.mul(b2, m1);
          a0 = v128.xor(ah1, v128.xor(a1, k0r2));
          a1 = al1;
          a2 = v128.xor(ah0, c2);
          b0 = v128.xor(bh1, v128.xor(b1, k0r2));
          b1 = bl1;
          b2 = v128.xor(bh0, c2);
        }
        // Rounds 3 .. 8. Left as a loop: V8 unrolls it by two itself, and a fully unrolled body measured slower.
        for (let r: usize = 3; r < 9; r++) {
          const k0 = v128.load(KEYS + r * 32);
          const k1 = v128.load(KEYS + r * 32 + 16);
          const ah0 = mulhi(a0, m0);
          const al0 = i32x4.mul(a0, m0);
          const ah1 = mulhi(a2, m1);
          const al1 = i32x4.mul(a2, m1);
          const bh0 = mulhi(b0, m0);
          const bl0 = i32x4.mul(b0, m0);
          const bh1 = mulhi(b2, m1);
          const bl1 = i32x4.mul(b2, m1);
          a0 = v128.xor(ah1, v128.xor(a1, k0));
          a1 = al1;
          a2 = v128.xor(ah0, v128.xor(a3, k1));
          a3 = al0;
          b0 = v128.xor(bh1, v128.xor(b1, k0));
          b1 = bl1;
          b2 = v128.xor(bh0, v128.xor(b3, k1));
          b3 = bl0;
        }
        count = i32x4.add(count, last<T>(i, a0, a1, a2, a3, m0, m1, wantMask));
        count = i32x4.add(count, last<T>(i + 16, b0, b1, b2, b3, m0, m1, wantMask));
      }
    }
    // The rest, and every block of a call whose counter's low word wraps: four blocks at a time, all ten rounds.
    for (; n - i >= 16; i += 16, block += 4) {
      const m0 = v128.load(MULS);
      const m1 = v128.load(MULS + 16);
      const iota = i32x4(0, 1, 2, 3);
      let x0 = i32x4.add(i32x4.splat(<i32>block), iota);
      // A lane that wrapped past 2^32 - 1 carries into its high word (ge_u gives -1 where it did not).
      let x1 = i32x4.add(i32x4.splat(<i32>(block >>> 32) + 1), i32x4.ge_u(x0, iota));
      let x2 = i32x4.splat(0);
      let x3 = i32x4.splat(0);
      for (let r: usize = 0; r < 9; r++) {
        const hi0 = mulhi(x0, m0);
        const lo0 = i32x4.mul(x0, m0);
        const hi1 = mulhi(x2, m1);
        const lo1 = i32x4.mul(x2, m1);
        x0 = v128.xor(hi1, v128.xor(x1, v128.load(KEYS + r * 32)));
        x1 = lo1;
        x2 = v128.xor(hi0, v128.xor(x3, v128.load(KEYS + r * 32 + 16)));
        x3 = lo0;
      }
      count = i32x4.add(count, last<T>(i, x0, x1, x2, x3, m0, m1, wantMask));
    }
    const dropped = i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1);
    kept += i - simdStart + dropped + i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  }

  while (i < n) {
    philoxScalar(block, key0, key1);
    for (lane = 0; lane < 4 && i < n; lane++, i++) kept += scalarStep<T>(i, word(lane), limit, scale, wantMask);
    block++;
  }
  return kept;
}

/**
 * Round 9 of the four Philox blocks whose round-8 words are x0..x3 (lane j: block b + j), applied to elements
 * i .. i + 15. Returns the drop masks summed lane by lane (-1 per dropped element).
 *
 * The round's products are not narrowed back to word vectors: each i64 lane of an extmul result already holds
 * (low, high) = (word 1, word 0 before its XOR) or (word 3, word 2 before its XOR) of one block, so after the
 * XORs one shufps per block puts its four words in element order, which replaces both the narrowing and the
 * 4×4 transpose. Every word gets its sign bit flipped on the way at no cost (words 0 and 2 through the round's
 * keys, words 1 and 3 through the fill of the XOR operand), so that u <= limit is one signed compare: V8 has no
 * single instruction for an unsigned one.
 */
// @ts-ignore: decorator
@inline
function last<T>(i: i32, x0: v128, x1: v128, x2: v128, x3: v128, m0: v128, m1: v128, wantMask: bool): v128 {
  const signs = v128.load(SIGNS);
  const y1 = v128.xor(x1, v128.load(LAST0));
  const y3 = v128.xor(x3, v128.load(LAST1));
  // p10: (word 1, word 0) of blocks 0, 1; p11: of blocks 2, 3; p30, p31: (word 3, word 2) likewise.
  const p10 = v128.xor(i64x2.extmul_low_i32x4_u(x2, m1), i32x4.shuffle(signs, y1, 0, 4, 1, 5));
  const p11 = v128.xor(i64x2.extmul_high_i32x4_u(x2, m1), i32x4.shuffle(signs, y1, 2, 6, 3, 7));
  const p30 = v128.xor(i64x2.extmul_low_i32x4_u(x0, m0), i32x4.shuffle(signs, y3, 0, 4, 1, 5));
  const p31 = v128.xor(i64x2.extmul_high_i32x4_u(x0, m0), i32x4.shuffle(signs, y3, 2, 6, 3, 7));
  const limit = v128.load(LIMIT);
  const drop0 = i32x4.gt_s(i32x4.shuffle(p10, p30, 1, 0, 5, 4), limit);
  const drop1 = i32x4.gt_s(i32x4.shuffle(p10, p30, 3, 2, 7, 6), limit);
  const drop2 = i32x4.gt_s(i32x4.shuffle(p11, p31, 1, 0, 5, 4), limit);
  const drop3 = i32x4.gt_s(i32x4.shuffle(p11, p31, 3, 2, 7, 6), limit);
  const sv = v128.load(SCALE);
  if (sizeof<T>() == 4) {
    const p = DATA + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), v128.andnot(sv, drop0)));
    v128.store(p + 16, f32x4.mul(v128.load(p + 16), v128.andnot(sv, drop1)));
    v128.store(p + 32, f32x4.mul(v128.load(p + 32), v128.andnot(sv, drop2)));
    v128.store(p + 48, f32x4.mul(v128.load(p + 48), v128.andnot(sv, drop3)));
  } else {
    const p = DATA + (<usize>i << 3);
    wideStep(p, drop0, sv);
    wideStep(p + 32, drop1, sv);
    wideStep(p + 64, drop2, sv);
    wideStep(p + 96, drop3, sv);
  }
  if (wantMask) {
    const bytes = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(drop0, drop1), i16x8.narrow_i32x4_s(drop2, drop3));
    v128.store(MASK + <usize>i, i8x16.add(bytes, v128.load(ONES)));
  }
  return i32x4.add(i32x4.add(drop0, drop1), i32x4.add(drop2, drop3));
}

// @ts-ignore: decorator
@inline
function wideStep(p: usize, drop: v128, sv: v128): void {
  v128.store(p, f64x2.mul(v128.load(p), v128.andnot(sv, i64x2.extend_low_i32x4_s(drop))));
  v128.store(p + 16, f64x2.mul(v128.load(p + 16), v128.andnot(sv, i64x2.extend_high_i32x4_s(drop))));
}
