/**
 * Kernel throughput in process, one thread: M elements/s of each dropout kernel over sizes 1K..16M, median of several
 * repetitions, beside a memcpy of the same size and, through bench/torch_dropout.py, PyTorch's F.dropout.
 */
import { resolve } from 'node:path';
import { type DropoutParams, dropoutRange } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { dropoutRangeWasm, wasmSimdSupported } from '../../src/kernel/wasm-dropout.js';
import { K, M } from './bodies.js';
import { BENCH_DIR, PYTHON } from './paths.js';
import { runCommand } from './processes.js';

export type KernelFn = typeof dropoutRange;

export interface Kernel {
  name: string;
  fn: KernelFn;
}

export const SIZES = [K, 4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M, 16 * M];

export function sizeLabel(n: number): string {
  return n >= M ? `${n / M}M` : `${n / K}K`;
}

/** The dtypes the kernels compute in. */
export type Dtype = 'float32' | 'float64';
type FloatArray = Float32Array | Float64Array;

function newArray(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

export function paramsFor(dtype: Dtype, offset = 0): DropoutParams {
  const [key0, key1] = philoxKey(1n);
  return { dtype, p: 0.5, key0, key1, offset };
}

export function sampleArray(dtype: Dtype, n: number): FloatArray {
  const data = newArray(dtype, n);
  for (let i = 0; i < n; i++) data[i] = (((Math.imul(i, 2654435761) + 12345) >>> 0) / 4294967296 - 0.5) * 8;
  return data;
}

/** The kernels this runtime runs, as the service picks them: the JS kernel, and WASM where it has SIMD. */
export function loadKernels(): { kernels: Kernel[]; notes: string[] } {
  const js: Kernel = { name: 'JS kernel', fn: dropoutRange };
  if (!wasmSimdSupported())
    return { kernels: [js], notes: ['WASM kernel: this runtime has no WebAssembly SIMD, skipped'] };
  return { kernels: [js, { name: 'WASM kernel', fn: dropoutRangeWasm }], notes: [] };
}

/**
 * Checks each kernel against the JS kernel on an odd-sized range with an offset, both dtypes, with a mask; returns
 * a note per kernel that differs. Run it after a float32 sweep: once a kernel has seen a Float64Array, V8 may run
 * polymorphic code for its float32 calls too.
 */
export function checkKernels(kernels: Kernel[]): string[] {
  const notes: string[] = [];
  for (const kernel of kernels) {
    if (kernel.fn === dropoutRange) continue;
    const mismatch = sameAsJs(kernel.fn);
    if (mismatch) notes.push(`${kernel.name}: DIFFERS from the JS kernel (${mismatch})`);
  }
  return notes;
}

function sameAsJs(fn: KernelFn): string | null {
  for (const dtype of ['float32', 'float64'] as const) {
    const n = 4099;
    const a = sampleArray(dtype, n);
    const b = sampleArray(dtype, n);
    const maskA = new Uint8Array(n);
    const maskB = new Uint8Array(n);
    const params = paramsFor(dtype, 7);
    const keptA = dropoutRange(a, 3, n - 2, params, maskA);
    const keptB = fn(b, 3, n - 2, params, maskB);
    if (keptA !== keptB) return `${dtype}: kept ${keptB}, JS kernel kept ${keptA}`;
    for (let i = 0; i < n; i++) {
      if (!Object.is(a[i], b[i]) || maskA[i] !== maskB[i]) return `${dtype}: element ${i} differs from the JS kernel`;
    }
  }
  return null;
}

/**
 * Median M elements/s of a workload of n elements. `run(k)` runs it k times back to back. k is first doubled (or
 * more) until one run of k lasts at least minMs, which also warms the JIT up; then `reps` runs of k are timed.
 */
export async function measure(
  run: (iterations: number) => void | Promise<void>,
  n: number,
  reps: number,
  minMs: number,
): Promise<number> {
  const timed = async (iterations: number) => {
    const start = performance.now();
    const pending = run(iterations);
    if (pending) await pending;
    return performance.now() - start;
  };
  let iterations = 1;
  for (;;) {
    const elapsed = await timed(iterations);
    if (elapsed >= minMs) break;
    iterations *= elapsed > 0 ? Math.min(16, Math.max(2, Math.ceil(minMs / elapsed))) : 16;
  }
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push((n * iterations) / ((await timed(iterations)) * 1000));
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** `run` for `measure` of a synchronous call, with no await per call: at 1K elements that would cost more than it. */
function repeat(call: () => void): (iterations: number) => void {
  return (iterations) => {
    for (let i = 0; i < iterations; i++) call();
  };
}

export interface SweepPoint {
  impl: string;
  dtype: Dtype;
  n: number;
  /** Median M elements/s. */
  mps: number;
}

export interface SweepOptions {
  dtypes: Dtype[];
  sizes?: number[];
  reps: number;
  minMs: number;
  kernels: Kernel[];
  onProgress?: (point: SweepPoint) => void;
}

/**
 * Each kernel at each size, then memcpy (Float32Array#set / Float64Array#set of the same size). dtype is the outer
 * loop, so float32 figures are taken before the kernel has seen a Float64Array.
 */
export async function kernelSweep(options: SweepOptions): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  const sizes = options.sizes ?? SIZES;
  const add = async (impl: string, dtype: Dtype, n: number, call: () => void) => {
    const point = { impl, dtype, n, mps: await measure(repeat(call), n, options.reps, options.minMs) };
    points.push(point);
    options.onProgress?.(point);
  };
  for (const dtype of options.dtypes) {
    const params = paramsFor(dtype);
    for (const kernel of options.kernels) {
      for (const n of sizes) {
        const data = sampleArray(dtype, n);
        const fn = kernel.fn;
        await add(kernel.name, dtype, n, () => fn(data, 0, n, params));
      }
    }
    for (const n of sizes) {
      const source = sampleArray(dtype, n);
      const target = newArray(dtype, n);
      await add('memcpy', dtype, n, () => target.set(source));
    }
  }
  return points;
}

export interface TorchSweep {
  version: string;
  threads: number;
  points: SweepPoint[];
}

/** PyTorch F.dropout (train, p=0.5, one thread) through bench/torch_dropout.py, or why it failed. */
export async function torchSweep(
  options: Omit<SweepOptions, 'kernels' | 'onProgress'>,
): Promise<TorchSweep | { error: string }> {
  const spec = JSON.stringify({
    sizes: options.sizes ?? SIZES,
    dtypes: options.dtypes,
    reps: options.reps,
    min_ms: options.minMs,
  });
  const { code, stdout, stderr } = await runCommand(PYTHON, [resolve(BENCH_DIR, 'torch_dropout.py'), spec], {
    timeoutMs: 300_000,
  });
  if (code !== 0) return { error: `torch_dropout.py exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}` };
  const out = JSON.parse(stdout) as {
    version: string;
    threads: number;
    results: Array<{ dtype: Dtype; n: number; mps: number }>;
  };
  return {
    version: out.version,
    threads: out.threads,
    points: out.results.map((r) => ({ impl: 'torch F.dropout', dtype: r.dtype, n: r.n, mps: r.mps })),
  };
}
