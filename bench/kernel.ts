/**
 * Kernel micro-benchmark (`npm run bench:kernel`): M elements/s of each dropout kernel available, in process, one
 * thread, over sizes 1K..16M, float32 and float64, median of several repetitions, beside a memcpy of the same size.
 *
 *   tsx bench/kernel.ts [--quick] [--torch] [--dtype float32|float64]
 *
 * The JS kernel is `dropoutRange` (src/kernel/dropout.ts); the WASM kernel `dropoutRangeWasm`
 * (src/kernel/wasm-dropout.ts) is measured when that module exists. `--torch` adds PyTorch F.dropout (one thread)
 * through bench/torch_dropout.py. The main harness (bench/run.ts) calls the exports below for its plot.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type DropoutParams, dropoutRange } from '../src/kernel/dropout.js';
import { philoxKey } from '../src/kernel/philox.js';
import { OffloadPool } from '../src/offload/pool.js';
import { BENCH_DIR, fmt, PYTHON, runCommand, textTable } from './common.js';

export type KernelFn = typeof dropoutRange;

export interface Kernel {
  name: string;
  fn: KernelFn;
}

const K = 1024;
const M = 1024 * 1024;
export const SIZES = [K, 4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M, 16 * M];

export function sizeLabel(n: number): string {
  return n >= M ? `${n / M}M` : `${n / K}K`;
}

const WASM_MODULE = new URL('../src/kernel/wasm-dropout.ts', import.meta.url);

/** The dtypes the kernels compute in. */
export type Dtype = 'float32' | 'float64';
type FloatArray = Float32Array | Float64Array;

function newArray(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

function paramsFor(dtype: Dtype, offset = 0): DropoutParams {
  const [key0, key1] = philoxKey(1n);
  return { dtype, p: 0.5, key0, key1, offset };
}

function sampleArray(dtype: Dtype, n: number): FloatArray {
  const data = newArray(dtype, n);
  for (let i = 0; i < n; i++) data[i] = (((Math.imul(i, 2654435761) + 12345) >>> 0) / 4294967296 - 0.5) * 8;
  return data;
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

/** The kernels present now: always the JS kernel; the WASM kernel when its module exists and loads. */
export async function loadKernels(): Promise<{ kernels: Kernel[]; notes: string[] }> {
  const kernels: Kernel[] = [{ name: 'JS kernel', fn: dropoutRange }];
  const notes: string[] = [];
  if (!existsSync(fileURLToPath(WASM_MODULE))) {
    notes.push('WASM kernel: src/kernel/wasm-dropout.ts not present, skipped');
    return { kernels, notes };
  }
  try {
    const mod = (await import(WASM_MODULE.href)) as Record<string, unknown>;
    // Tolerate an explicit initialisation step, whichever of these names the module uses.
    for (const name of ['ready', 'wasmReady']) {
      if (mod[name] && typeof (mod[name] as Promise<unknown>).then === 'function') await mod[name];
    }
    for (const name of ['init', 'initWasm']) {
      if (typeof mod[name] === 'function') await (mod[name] as () => unknown)();
    }
    const fn = mod.dropoutRangeWasm;
    if (typeof fn !== 'function') {
      notes.push('WASM kernel: src/kernel/wasm-dropout.ts has no dropoutRangeWasm export, skipped');
      return { kernels, notes };
    }
    // The service itself runs the JS kernel where the runtime has no WebAssembly SIMD; so does the bench.
    if (typeof mod.wasmSimdSupported === 'function' && !mod.wasmSimdSupported()) {
      notes.push('WASM kernel: this runtime has no WebAssembly SIMD, skipped');
      return { kernels, notes };
    }
    kernels.push({ name: 'WASM kernel', fn: fn as KernelFn });
  } catch (error) {
    notes.push(`WASM kernel: failed to load (${error instanceof Error ? error.message : String(error)}), skipped`);
  }
  return { kernels, notes };
}

/**
 * Median M elements/s of a workload of n elements. `timed(k)` runs it k times back to back and returns the elapsed
 * milliseconds. k is first doubled (or more) until one run of k lasts at least minMs, which also warms the JIT up;
 * then `reps` runs of k are timed.
 */
export async function measure(
  timed: (iterations: number) => number | Promise<number>,
  n: number,
  reps: number,
  minMs: number,
): Promise<number> {
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

/** `timed` for a synchronous call (no await per call: at 1K elements that would cost more than the kernel). */
function timedSync(run: () => void): (iterations: number) => number {
  return (iterations) => {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    return performance.now() - start;
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
  const add = (point: SweepPoint) => {
    points.push(point);
    options.onProgress?.(point);
  };
  for (const dtype of options.dtypes) {
    const params = paramsFor(dtype);
    for (const kernel of options.kernels) {
      for (const n of sizes) {
        const data = sampleArray(dtype, n);
        const fn = kernel.fn;
        add({
          impl: kernel.name,
          dtype,
          n,
          mps: await measure(
            timedSync(() => fn(data, 0, n, params)),
            n,
            options.reps,
            options.minMs,
          ),
        });
      }
    }
    for (const n of sizes) {
      const source = sampleArray(dtype, n);
      const target = newArray(dtype, n);
      const mps = await measure(
        timedSync(() => target.set(source)),
        n,
        options.reps,
        options.minMs,
      );
      add({ impl: 'memcpy', dtype, n, mps });
    }
  }
  return points;
}

export interface TorchSweep {
  version: string;
  threads: number;
  points: SweepPoint[];
}

/** PyTorch F.dropout (train, p=0.5, one thread) through bench/torch_dropout.py; null with the reason if it fails. */
export async function torchSweep(options: {
  dtypes: Dtype[];
  sizes?: number[];
  reps: number;
  minMs: number;
}): Promise<TorchSweep | { error: string }> {
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

/**
 * The service's worker pool (and the kernel it runs) on one tensor of n float32 elements in shared memory, no inline
 * path, with `workers` threads: median M elements/s, as `measure` takes it.
 */
export async function poolThroughput(workers: number, n: number, reps: number, minMs: number): Promise<number> {
  const pool = new OffloadPool({
    workers,
    chunkElements: 4 * M,
    inlineMaxElements: 0,
    workerNice: 0,
    onError: (error) => {
      throw error;
    },
  });
  try {
    const data = new Float32Array(new SharedArrayBuffer(n * 4));
    data.set(sampleArray('float32', n));
    const params = paramsFor('float32');
    return await measure(
      async (iterations) => {
        const start = performance.now();
        for (let i = 0; i < iterations; i++) await pool.run(data, params, false);
        return performance.now() - start;
      },
      n,
      reps,
      minMs,
    );
  } finally {
    await pool.close();
  }
}

/**
 * What the host gives a second thread: the WASM kernel on a cache-resident 16K-element tensor per thread, `threads`
 * at once, in total M elements/s (median, as `measure` takes it). The pool row is read against this: the pool cannot
 * scale better than the cores under it, and on a shared VM they do not always scale.
 */
export async function threadScaling(threads: number, reps: number, minMs: number): Promise<number> {
  const n = 16 * 1024;
  const workers = await Promise.all(
    Array.from({ length: threads }, async () => {
      const worker = new Worker(new URL('./scaling-worker.mjs', import.meta.url), { workerData: { n } });
      await once(worker, 'message');
      return worker;
    }),
  );
  try {
    const total = await measure(
      async (iterations) => {
        const start = performance.now();
        await Promise.all(
          workers.map((worker) => {
            const done = once(worker, 'message');
            worker.postMessage(iterations);
            return done;
          }),
        );
        return performance.now() - start;
      },
      n,
      reps,
      minMs,
    );
    return total * threads;
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** Rows of sizes, a column per implementation. */
export function sweepTable(points: SweepPoint[], dtype: Dtype): string {
  const rows = points.filter((p) => p.dtype === dtype);
  const impls = [...new Set(rows.map((p) => p.impl))];
  const sizes = [...new Set(rows.map((p) => p.n))].sort((a, b) => a - b);
  const body = sizes.map((n) => [
    sizeLabel(n),
    ...impls.map((impl) => fmt(rows.find((p) => p.impl === impl && p.n === n)?.mps)),
  ]);
  return textTable([`${dtype} (M el/s)`, ...impls], body);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const dtypeArg = args.indexOf('--dtype');
  const dtypes: Dtype[] = dtypeArg >= 0 ? [args[dtypeArg + 1] as Dtype] : ['float32', 'float64'];
  const reps = quick ? 3 : 7;
  const minMs = quick ? 30 : 100;
  const { kernels, notes } = await loadKernels();
  for (const note of notes) console.log(note);
  console.log(
    `kernels: ${kernels.map((k) => k.name).join(', ')}, memcpy; median of ${reps} repetitions of >= ${minMs} ms`,
  );
  const points = await kernelSweep({
    dtypes,
    reps,
    minMs,
    kernels,
    onProgress: (p) => process.stderr.write(`  ${p.dtype} ${p.impl} ${sizeLabel(p.n)}: ${fmt(p.mps)} M el/s\n`),
  });
  for (const note of checkKernels(kernels)) console.log(note);
  if (args.includes('--torch')) {
    const torch = await torchSweep({ dtypes, reps, minMs });
    if ('error' in torch) console.log(`torch: skipped (${torch.error})`);
    else {
      console.log(`torch ${torch.version}, ${torch.threads} thread`);
      points.push(...torch.points);
    }
  }
  for (const dtype of dtypes) console.log(`\n${sweepTable(points, dtype)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
