/**
 * dropoutRange (./dropout.ts) on the WebAssembly SIMD kernel of ./wasm/dropout.as.ts: the same signature and the
 * same bytes, several times the throughput. Pure like the JS kernel: no I/O beyond reading the module once, no
 * threads; each thread (main or worker) gets its own instance on first use. Callers check wasmSimdSupported() and
 * fall back to dropoutRange when it is false.
 */

import { copyBytes } from './copy-bytes.js';
import { type DropoutParams, keepScale, keepThreshold } from './dropout.js';
import type { FloatArray } from './dtype.js';

import { wasmModule } from './wasm-module.js';

const TWO_32 = 4294967296;

interface KernelExports {
  memory: { buffer: ArrayBuffer };
  dataPtr(): number;
  maskPtr(): number;
  capacityBytes(): number;
  dropout(
    n: number,
    first: number,
    key0: number,
    key1: number,
    limit: number,
    scale: number,
    wide: number,
    wantMask: number,
  ): number;
  zero(n: number, wide: number): void;
}

interface Kernel {
  exports: KernelExports;
  /** The chunk buffer as bytes, for copies to and from shared memory. */
  bytes: Buffer;
  f32: Float32Array;
  f64: Float64Array;
  mask: Uint8Array;
}

// Resolved against this file so the same code finds the module under tsx (src/) and after `npm run build` (dist/).
const module = wasmModule<KernelExports>(new URL('./wasm/dropout.wasm', import.meta.url));
let kernel: Kernel | undefined;

/** Whether this runtime can run the SIMD module; when false, use the JS kernel. */
export function wasmSimdSupported(): boolean {
  return module.supported();
}

// Synchronous instantiation keeps dropoutRangeWasm a drop-in for the synchronous dropoutRange; the module is ~4 KB.
function instance(): Kernel {
  if (kernel) return kernel;
  const exports = module.exports();
  // The module never grows its memory, so these views over its chunk buffers stay valid for the instance's life.
  const { buffer } = exports.memory;
  const capacity = exports.capacityBytes();
  kernel = {
    exports,
    bytes: Buffer.from(buffer, exports.dataPtr(), capacity),
    f32: new Float32Array(buffer, exports.dataPtr(), capacity / 4),
    f64: new Float64Array(buffer, exports.dataPtr(), capacity / 8),
    mask: new Uint8Array(buffer, exports.maskPtr(), capacity / 4),
  };
  return kernel;
}

/** data[i, i + n) into the kernel's chunk buffer; `bytes` is data's memory as bytes when it is shared. */
function load(k: Kernel, view: FloatArray, data: FloatArray, bytes: Buffer | null, i: number, n: number): void {
  const width = data.BYTES_PER_ELEMENT;
  if (bytes) copyBytes(k.bytes, 0, bytes.subarray(i * width, (i + n) * width));
  else view.set(data.subarray(i, i + n));
}

/** The chunk buffer's first n elements back to data[i, i + n). */
function store(k: Kernel, view: FloatArray, data: FloatArray, bytes: Buffer | null, i: number, n: number): void {
  const width = data.BYTES_PER_ELEMENT;
  if (bytes) copyBytes(bytes, i * width, k.bytes.subarray(0, n * width));
  // A whole chunk copies out from the view itself, without allocating a subarray for it.
  else data.set(n === view.length ? view : view.subarray(0, n), i);
}

/**
 * Applies dropout to data[start..end) in place, element i using draw index offset + i, and returns how many
 * elements were kept; with `mask`, mask[i] = 1 where kept, else 0. Bit for bit the same as dropoutRange.
 */
export function dropoutRangeWasm(
  data: FloatArray,
  start: number,
  end: number,
  params: DropoutParams,
  mask?: Uint8Array,
): number {
  const { p } = params;
  // The early paths of dropoutRange, kept identical (including its result for end < start).
  if (p === 0) {
    mask?.fill(1, start, end);
    return end - start;
  }
  const k = instance();
  const wide = data instanceof Float64Array;
  const view = wide ? k.f64 : k.f32;
  const chunk = view.length;
  // A draw u keeps its element when u < threshold. p = 1, and any p whose threshold is 0 or NaN (out of range),
  // keeps nothing: x·0 without drawing, the same bytes and count as drawing and dropping every element.
  const threshold = keepThreshold(p);
  // Shared memory is copied with a native memcpy (./copy-bytes.ts); plain memory's TypedArray#set already is one.
  const bytes =
    data.buffer instanceof SharedArrayBuffer ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : null;
  if (!(threshold > 0)) {
    for (let i = start; i < end; i += chunk) {
      const n = Math.min(chunk, end - i);
      load(k, view, data, bytes, i, n);
      k.exports.zero(n, wide ? 1 : 0);
      store(k, view, data, bytes, i, n);
    }
    mask?.fill(0, start, end);
    return 0;
  }
  // The kernel keeps u <= limit, so that the threshold 2^32 (1 − p rounds to 1: keep everything) fits a u32.
  const limit = Math.min(threshold, TWO_32) - 1;
  const scale = keepScale(params.dtype, p);
  const wantMask = mask ? 1 : 0;
  let kept = 0;
  // A short first chunk brings every later chunk onto a Philox block boundary, so only the first has a scalar head.
  let n = Math.min(chunk - ((params.offset + start) % 4), end - start);
  for (let i = start; i < end; i += n, n = Math.min(chunk, end - i)) {
    load(k, view, data, bytes, i, n);
    kept += k.exports.dropout(n, params.offset + i, params.key0, params.key1, limit, scale, wide ? 1 : 0, wantMask);
    store(k, view, data, bytes, i, n);
    if (mask) mask.set(k.mask.subarray(0, n), i);
  }
  return kept;
}
