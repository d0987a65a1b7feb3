/**
 * Dropout's keep-and-scale step for keep decisions drawn ahead of time (the torch stream's, ./mt19937.ts), on the
 * WebAssembly SIMD module of ./wasm/keep-scale.as.ts: the same bytes as the plain loop, several times the
 * throughput. Pure like the JS kernels: no I/O beyond reading the module once, no threads; each thread (main or
 * worker) gets its own instance on first use. Callers check wasmKeepScaleSupported() and use the general variant
 * loop (./variants.ts) when it is false.
 */

import { wasmModule } from './wasm-module.js';

interface KeepScaleExports {
  memory: { buffer: ArrayBuffer };
  dataPtr(): number;
  dataCapacityBytes(): number;
  keepPtr(): number;
  keepCapacity(): number;
  applyKeepScale(n: number, scale: number, wide: number, wantMask: number): number;
}

interface Kernel {
  exports: KeepScaleExports;
  keep: Uint8Array;
  f32: Float32Array;
  f64: Float64Array;
}

// Resolved against this file so the same code finds the module under tsx (src/) and after `npm run build` (dist/).
const module = wasmModule<KeepScaleExports>(new URL('./wasm/keep-scale.wasm', import.meta.url));
let kernel: Kernel | undefined;

/** Whether this runtime can run the SIMD module; when false, use the JS kernel. */
export function wasmKeepScaleSupported(): boolean {
  return module.supported();
}

// Synchronous instantiation keeps applyKeepScaleWasm a drop-in for the synchronous JS loop; the module is ~1 KB.
function instance(): Kernel {
  if (kernel) return kernel;
  const exports = module.exports();
  // The module never grows its memory, so these views over its buffers stay valid for the instance's life.
  const { buffer } = exports.memory;
  const data = exports.dataCapacityBytes();
  kernel = {
    exports,
    keep: new Uint8Array(buffer, exports.keepPtr(), exports.keepCapacity()),
    f32: new Float32Array(buffer, exports.dataPtr(), data / 4),
    f64: new Float64Array(buffer, exports.dataPtr(), data / 8),
  };
  return kernel;
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
  const chunk = Math.min(view.length, k.keep.length);
  const wantMask = mask ? 1 : 0;
  let kept = 0;
  for (let i = start; i < end; i += chunk) {
    const n = Math.min(chunk, end - i);
    const j = i - start + keepOffset;
    view.set(data.subarray(i, i + n));
    const src = keep.subarray(j, j + n);
    k.keep.set(src);
    // Past keep's end the JS loop reads undefined, which drops.
    if (src.length < n) k.keep.fill(0, src.length, n);
    kept += k.exports.applyKeepScale(n, scale, wide ? 1 : 0, wantMask);
    data.set(view.subarray(0, n), i);
    if (mask) mask.set(k.keep.subarray(0, n), i);
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
