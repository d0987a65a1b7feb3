/**
 * Dropout's keep-and-scale step as WebAssembly SIMD, for keep decisions drawn ahead of time (the torch stream's,
 * from mt19937.as.ts): x · (keep ? scale : 0), bit for bit the JS loop of ../wasm-keep-scale.ts.
 *
 * The tensor and its keep bytes live in JS (Shared)ArrayBuffers that wasm cannot address, so the JS wrapper
 * (../wasm-keep-scale.ts) copies a chunk of data into DATA and its keep bytes into KEEP, calls `applyKeepScale`,
 * and copies the data (and the mask, rewritten in KEEP) back out.
 * Compiled by `npm run build:wasm`; the .wasm is committed because the runtime image has no compiler.
 */

// 1 in each byte, loaded where it is used: V8 14 (Node 26) rebuilds an i32x4.splat constant at every use inside a
// loop. See dropout.as.ts.
const ONES: usize = memory.data<u32>([0x01010101, 0x01010101, 0x01010101, 0x01010101], 16);

// One chunk of data: 16 K float32 or 8 K float64 elements.
const DATA_BYTES: i32 = 64 * 1024;
const DATA: usize = memory.data(DATA_BYTES, 64);
// One keep byte per element of the largest chunk (float32); rewritten as 1/0 when the caller wants the mask.
const KEEP_BYTES: i32 = DATA_BYTES >> 2;
const KEEP: usize = memory.data(KEEP_BYTES, 64);

export function dataPtr(): usize {
  return DATA;
}

export function dataCapacityBytes(): i32 {
  return DATA_BYTES;
}

export function keepPtr(): usize {
  return KEEP;
}

export function keepCapacity(): i32 {
  return KEEP_BYTES;
}

/**
 * data[i] = data[i] · (keep[i] ? scale : 0) for the `n` elements at DATA (float32 when !wide, float64 when wide)
 * with keep bytes at KEEP: a multiply, so NaN stays NaN and −x gives −0. Float32 multiplies by <f32>scale, which is
 * the float64 product rounded to float32 when scale is a float32 value (the wrapper checks). With `wantMask`,
 * rewrites KEEP as 1/0. Returns the number of nonzero keep bytes.
 */
export function applyKeepScale(n: i32, scale: f64, wide: bool, wantMask: bool): i32 {
  const zero = i32x4.splat(0);
  let count = i32x4.splat(0);
  let tail = 0;
  let i = 0;
  if (wide) {
    const sv = f64x2.splat(scale);
    for (; i + 16 <= n; i += 16) {
      const kb = i8x16.ne(v128.load(KEEP + <usize>i), zero);
      if (wantMask) v128.store(KEEP + <usize>i, v128.and(kb, v128.load(ONES)));
      const lo = i16x8.extend_low_i8x16_s(kb);
      const hi = i16x8.extend_high_i8x16_s(kb);
      const q0 = i32x4.extend_low_i16x8_s(lo);
      const q1 = i32x4.extend_high_i16x8_s(lo);
      const q2 = i32x4.extend_low_i16x8_s(hi);
      const q3 = i32x4.extend_high_i16x8_s(hi);
      count = i32x4.add(count, i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)));
      const p = DATA + (<usize>i << 3);
      wideStep(p, q0, sv);
      wideStep(p + 32, q1, sv);
      wideStep(p + 64, q2, sv);
      wideStep(p + 96, q3, sv);
    }
    for (; i < n; i++) {
      const kept = load<u8>(KEEP + <usize>i) != 0;
      if (wantMask) store<u8>(KEEP + <usize>i, kept ? 1 : 0);
      const p = DATA + (<usize>i << 3);
      store<f64>(p, load<f64>(p) * (kept ? scale : 0.0));
      tail += kept ? 1 : 0;
    }
  } else {
    const s = <f32>scale;
    const sv = f32x4.splat(s);
    for (; i + 16 <= n; i += 16) {
      const kb = i8x16.ne(v128.load(KEEP + <usize>i), zero);
      if (wantMask) v128.store(KEEP + <usize>i, v128.and(kb, v128.load(ONES)));
      const lo = i16x8.extend_low_i8x16_s(kb);
      const hi = i16x8.extend_high_i8x16_s(kb);
      const q0 = i32x4.extend_low_i16x8_s(lo);
      const q1 = i32x4.extend_high_i16x8_s(lo);
      const q2 = i32x4.extend_low_i16x8_s(hi);
      const q3 = i32x4.extend_high_i16x8_s(hi);
      count = i32x4.add(count, i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)));
      const p = DATA + (<usize>i << 2);
      v128.store(p, f32x4.mul(v128.load(p), v128.bitselect(sv, zero, q0)));
      v128.store(p + 16, f32x4.mul(v128.load(p + 16), v128.bitselect(sv, zero, q1)));
      v128.store(p + 32, f32x4.mul(v128.load(p + 32), v128.bitselect(sv, zero, q2)));
      v128.store(p + 48, f32x4.mul(v128.load(p + 48), v128.bitselect(sv, zero, q3)));
    }
    for (; i < n; i++) {
      const kept = load<u8>(KEEP + <usize>i) != 0;
      if (wantMask) store<u8>(KEEP + <usize>i, kept ? 1 : 0);
      const p = DATA + (<usize>i << 2);
      store<f32>(p, load<f32>(p) * (kept ? s : <f32>0));
      tail += kept ? 1 : 0;
    }
  }
  tail -= i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1);
  tail -= i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  return tail;
}

// @ts-ignore: decorator
@inline
function wideStep(p: usize, keep: v128, sv: v128): void {
  const z = f64x2.splat(0);
  v128.store(p, f64x2.mul(v128.load(p), v128.bitselect(sv, z, i64x2.extend_low_i32x4_s(keep))));
  v128.store(p + 16, f64x2.mul(v128.load(p + 16), v128.bitselect(sv, z, i64x2.extend_high_i32x4_s(keep))));
}
