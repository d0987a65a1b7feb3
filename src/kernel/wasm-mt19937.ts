/**
 * torchKeepMask (./mt19937.ts) on the WebAssembly SIMD module of ./wasm/mt19937.as.ts: the same signature and the
 * same bytes, several times the throughput. Pure like the JS kernels: no I/O beyond reading the module once, no
 * threads; each thread (main or worker) gets its own instance on first use. Callers check wasmMtSupported() and
 * fall back to torchKeepMask when it is false (torchKeepMaskFast in ./mt19937.ts does).
 */

import { wasmModule } from './wasm-module.js';

const TWO_53 = 2 ** 53;

interface MtExports {
  memory: { buffer: ArrayBuffer };
  outPtr(): number;
  outCapacity(): number;
  seed(s: number): void;
  skip(count: number): void;
  keepFill(n: number, k: number): number;
}

interface Kernel {
  exports: MtExports;
  out: Uint8Array;
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
  // The module never grows its memory, so this view over its buffer stays valid for the instance's life.
  kernel = { exports, out: new Uint8Array(exports.memory.buffer, exports.outPtr(), exports.outCapacity()) };
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
