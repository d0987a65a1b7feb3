/**
 * torchKeepMask (./mt19937.ts) on the WebAssembly SIMD module of ./wasm/mt19937.as.ts: the same signature and the
 * same bytes, several times the throughput; and applyKeepScaleWasm, the multiply of standard dropout by precomputed
 * keep bytes. Pure like the JS kernels: no I/O beyond reading the module once, no threads; each thread (main or
 * worker) gets its own instance on first use. Callers check wasmMtSupported() and fall back to the JS functions
 * when it is false (torchKeepMaskFast in ./mt19937.ts does).
 */

import { wasmModule } from './wasm-module.js';

const TWO_53 = 2 ** 53;

interface MtExports {
  memory: { buffer: ArrayBuffer };
  outPtr(): number;
  outCapacity(): number;
  dataPtr(): number;
  dataCapacityBytes(): number;
  seed(s: number): void;
  next(): number;
  skip(count: number): void;
  keepFill(n: number, k: number): number;
  applyKeepScale(n: number, scale: number, wide: number, wantMask: number): number;
}

interface Kernel {
  exports: MtExports;
  out: Uint8Array;
  f32: Float32Array;
  f64: Float64Array;
}

// Resolved against this file so the same code finds the module under tsx (src/) and after `npm run build` (dist/).
const module = wasmModule<MtExports>(new URL('./wasm/mt19937.wasm', import.meta.url));
let kernel: Kernel | undefined;

/** Whether this runtime can run the SIMD module; when false, use the JS kernel. */
export function wasmMtSupported(): boolean {
  return module.supported();
}

// Synchronous instantiation keeps torchKeepMaskWasm a drop-in for the synchronous torchKeepMask; the module is ~4 KB.
function instance(): Kernel {
  if (kernel) return kernel;
  const exports = module.exports();
  // The module never grows its memory, so these views over its buffers stay valid for the instance's life.
  const { buffer } = exports.memory;
  const data = exports.dataCapacityBytes();
  kernel = {
    exports,
    out: new Uint8Array(buffer, exports.outPtr(), exports.outCapacity()),
    f32: new Float32Array(buffer, exports.dataPtr(), data / 4),
    f64: new Float64Array(buffer, exports.dataPtr(), data / 8),
  };
  return kernel;
}

/**
 * The integer K with X < K exactly when X·2^−53 < 1 − p (float64, as torchKeepMask compares), for every integer X
 * in [0, 2^53). X·2^−53 is exact, and so is q·2^53 for the float64 q = 1 − p (a power-of-two scaling, which can
 * only overflow to +Infinity), so the test is X < q·2^53 on reals; for an integer X that is X < ⌈q·2^53⌉.
 * Clamping to [0, 2^53] changes nothing for X in range; NaN (from a NaN p) keeps nothing, as `u < NaN` does.
 */
export function torchKeepThreshold(p: number): number {
  const q = 1 - p;
  if (!(q > 0)) return 0;
  return Math.min(Math.ceil(q * TWO_53), TWO_53);
}

/**
 * Keep decisions of torch.bernoulli_(1 − p) on the default CPU path for noise elements offset .. offset + count − 1
 * of seed's stream into keep[0 .. count): the same bytes and return value (the number kept) as torchKeepMask.
 * `offset` is a non-negative integer; the stream is skipped by generating, 2·offset outputs.
 */
export function torchKeepMaskWasm(seed: bigint, offset: number, count: number, p: number, keep: Uint8Array): number {
  const k = instance();
  const { exports, out } = k;
  exports.seed(Number(BigInt.asUintN(32, seed)));
  if (offset > 0) exports.skip(2 * offset);
  const threshold = torchKeepThreshold(p);
  const chunk = out.length;
  let kept = 0;
  // torchKeepMask's loop runs for i < count; writes past keep's end are dropped (typed-array stores), draws counted.
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, Math.ceil(count - i));
    kept += exports.keepFill(n, threshold);
    const room = keep.length - i;
    if (room > 0) keep.set(room >= n ? out.subarray(0, n) : out.subarray(0, room), i);
  }
  return kept;
}

/** The first `count` 32-bit outputs of seed's MT19937 after skipping `skip` outputs (for tests and diagnostics). */
export function mt19937OutputsWasm(seed: bigint, skip: number, count: number): Uint32Array {
  const { exports } = instance();
  exports.seed(Number(BigInt.asUintN(32, seed)));
  if (skip > 0) exports.skip(skip);
  const result = new Uint32Array(count);
  for (let i = 0; i < count; i++) result[i] = exports.next();
  return result;
}

/**
 * data[i] = data[i] · (keep[i − start + keepOffset] ? scale : 0) for i in [start, end), in place: a multiply, never
 * a store of 0, so NaN·0 = NaN and −x·0 = −0. With `mask`, mask[i] = 1 where kept, else 0. Returns the number of
 * elements kept. The same bytes as that loop in JS (float32 data rounds each float64 product to float32; the module
 * multiplies in float32, the same thing when scale is a float32 value, and other scales take the JS loop).
 */
export function applyKeepScaleWasm(
  data: Float32Array | Float64Array,
  start: number,
  end: number,
  keep: Uint8Array,
  keepOffset: number,
  scale: number,
  mask?: Uint8Array,
): number {
  const wide = data instanceof Float64Array;
  if (!wide && Math.fround(scale) !== scale) {
    return applyKeepScaleJs(data, start, end, keep, keepOffset, scale, mask);
  }
  const k = instance();
  const view = wide ? k.f64 : k.f32;
  const chunk = Math.min(view.length, k.out.length);
  const wantMask = mask ? 1 : 0;
  let kept = 0;
  for (let i = start; i < end; i += chunk) {
    const n = Math.min(chunk, end - i);
    const j = i - start + keepOffset;
    view.set(data.subarray(i, i + n));
    const src = keep.subarray(j, j + n);
    k.out.set(src);
    // Past keep's end the JS loop reads undefined, which drops.
    if (src.length < n) k.out.fill(0, src.length, n);
    kept += k.exports.applyKeepScale(n, scale, wide ? 1 : 0, wantMask);
    data.set(view.subarray(0, n), i);
    if (mask) mask.set(k.out.subarray(0, n), i);
  }
  return kept;
}

function applyKeepScaleJs(
  data: Float32Array | Float64Array,
  start: number,
  end: number,
  keep: Uint8Array,
  keepOffset: number,
  scale: number,
  mask?: Uint8Array,
): number {
  let kept = 0;
  for (let i = start; i < end; i++) {
    const k = keep[i - start + keepOffset] ? 1 : 0;
    data[i] = data[i] * (k ? scale : 0);
    kept += k;
    if (mask) mask[i] = k;
  }
  return kept;
}
