/**
 * The worker pool (piscina) that runs the kernel. A tensor is split into element ranges that workers compute in
 * place in shared memory; small tensors run on the calling thread, where a worker hop would cost more than the work.
 * The result never depends on the split: every element's draw is fixed by its index (counter-based Philox), or
 * the noise was drawn before the split (the serial torch stream).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Rng } from '../dropout/choices.js';
import type { DropoutParams } from '../kernel/dropout.js';
import type { FloatArray, TensorData } from '../kernel/dtype.js';
import type { VariantPlan } from '../kernel/variants.js';
import type { MaybePromise } from '../maybe-promise.js';
import type { DecodeInferResult, DecodeInferTask, EncodeInferTask } from './infer-tasks.js';
import type { EncodeJsonTask, ParseJsonResult, ParseJsonTask } from './json-tasks.js';
import { drawNoise } from './noise-task.js';
import { CONTROL, type NoiseTask, type RangeKernel, type RangeTask, runRange } from './range-task.js';

export interface PoolOptions {
  workers: number;
  /**
   * A large tensor is cut into blocks of about this many elements, which the workers claim one at a time: small
   * enough that threads running at different speeds finish together, and that an abandoned request stops soon.
   */
  chunkElements: number;
  /** Tensors up to this size run on the calling thread. */
  inlineMaxElements: number;
  /** Scheduling niceness of the worker threads (0: same as the event loop). */
  workerNice: number;
  /**
   * A thread failing outside any task (it could not start, say, when descriptors ran out). Piscina emits these as
   * 'error' events, which would end the process with nobody listening; the pool replaces the thread either way.
   */
  onError: (error: Error) => void;
  /**
   * The module the threads load (a file URL); ./worker by default. Another module must export the same tasks: tests
   * wrap ./worker in one that fails on command, to see what a broken worker costs.
   */
  workerFile?: string;
}

export interface KernelResult {
  kept: number;
  /** 1 where the element was kept; present when asked for. */
  mask?: Uint8Array;
}

// Under tsx (tests, dev) this module is .ts and so is its worker; in dist both are .js.
const WORKER_FILE = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
// The /v2 tasks' own file, which a worker loads on its first /v2 task: its schemas (TypeBox, Ajv) would otherwise
// slow the start of every worker.
const INFER_FILE = new URL(`./infer-tasks${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

export class OffloadPool {
  readonly #piscina: Piscina;
  readonly #options: PoolOptions;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#piscina = new Piscina({
      filename: options.workerFile ?? WORKER_FILE,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData: { nice: options.workerNice },
    });
    this.#piscina.on('error', options.onError);
  }

  /** Runs a task; an abort rethrows the signal's reason (deadline, hang-up) rather than piscina's AbortError. */
  async #run<T>(name: string, task: object, signal?: AbortSignal, filename?: string): Promise<T> {
    try {
      return (await this.#piscina.run(task, { name, signal, filename })) as T;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  }

  get workers(): number {
    return this.#options.workers;
  }

  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  get utilization(): number {
    return this.#piscina.utilization;
  }

  /**
   * Applies the fused standard kernel to `data` in place and reports what was kept: here and now when small (or not
   * in shared memory), else on the workers.
   */
  run(data: FloatArray, params: DropoutParams, wantMask: boolean, signal?: AbortSignal): MaybePromise<KernelResult> {
    return this.#inPlace(data, { kind: 'standard', params }, wantMask, signal);
  }

  /** Applies the general variant kernel to `data` in place and reports what was kept (here when small, as `run`). */
  runVariant(data: TensorData, plan: VariantPlan, wantMask: boolean, signal?: AbortSignal): MaybePromise<KernelResult> {
    return this.#inPlace(data, { kind: 'variant', plan }, wantMask, signal);
  }

  #inPlace(data: TensorData, kernel: RangeKernel, wantMask: boolean, signal?: AbortSignal): MaybePromise<KernelResult> {
    const n = data.length;
    const { buffer } = data;
    if (n <= this.#options.inlineMaxElements || !(buffer instanceof SharedArrayBuffer)) {
      const mask = wantMask ? new Uint8Array(n) : undefined;
      return { kept: runRange(kernel, data, 0, n, mask), mask };
    }
    return this.#onWorkers(data, buffer, kernel, wantMask, signal);
  }

  async #onWorkers(
    data: TensorData,
    buffer: SharedArrayBuffer,
    kernel: RangeKernel,
    wantMask: boolean,
    signal?: AbortSignal,
  ): Promise<KernelResult> {
    const n = data.length;
    if (signal?.aborted) throw signal.reason;
    const maskBuffer = wantMask ? new SharedArrayBuffer(n) : undefined;
    const dtype = kernel.kind === 'standard' ? kernel.params.dtype : kernel.plan.dtype;
    // Blocks are whole Philox blocks of 4 draws. One task per worker (fewer for a small tensor), each claiming blocks
    // from a shared counter until none is left: no thread waits on the event loop between blocks, and a thread that
    // runs faster, or starts sooner, takes more of them.
    const block = Math.max(4, Math.ceil(this.#options.chunkElements / 4) * 4);
    const tasks = Math.min(this.#options.workers, Math.ceil(n / block));
    // These tasks write the request's own memory, so an abort must never leave one running once the request has ended
    // and its memory is recycled: piscina aborts a running task by terminating its thread, which finishes
    // asynchronously. So on abort the cancel flag is raised first, and only tasks that have not marked themselves
    // started are aborted in piscina (dropped from its queue); a started one finishes the block it holds (at most
    // CHUNK_ELEMENTS) and claims no other, and one about to start sees the flag and returns without writing.
    const control = new Int32Array(new SharedArrayBuffer(4 * (CONTROL.started + tasks)));
    const controllers = Array.from({ length: tasks }, () => new AbortController());
    const cancel = () => {
      Atomics.store(control, CONTROL.cancel, 1);
      controllers.forEach((controller, i) => {
        if (Atomics.load(control, CONTROL.started + i) === 0) controller.abort(signal?.reason);
      });
    };
    signal?.addEventListener('abort', cancel, { once: true });
    // allSettled, not all: every task must be done with the memory before the request can end and recycle it.
    const settled = await Promise.allSettled(
      controllers.map((controller, index) => {
        const task: RangeTask = {
          kernel,
          dtype,
          buffer,
          byteOffset: data.byteOffset,
          length: n,
          block,
          mask: maskBuffer,
          control,
          index,
        };
        return this.#run<number>('range', task, controller.signal);
      }),
    );
    signal?.removeEventListener('abort', cancel);
    if (signal?.aborted) throw signal.reason;
    let kept = 0;
    for (const outcome of settled) {
      if (outcome.status === 'rejected') throw outcome.reason;
      kept += outcome.value;
    }
    return { kept, mask: maskBuffer ? new Uint8Array(maskBuffer) : undefined };
  }

  /**
   * Draws a plan's noise into shared memory (plan.keep, or plan.multipliers for gaussian): on a worker when large,
   * since the torch stream is serial and would otherwise hold the event loop.
   */
  drawNoise(plan: VariantPlan, rng: Rng, seed: bigint, count: number, signal?: AbortSignal): MaybePromise<void> {
    const bytes = plan.variant === 'gaussian' ? count * 8 : count;
    const shared = new SharedArrayBuffer(bytes);
    const out = plan.variant === 'gaussian' ? new Float64Array(shared) : new Uint8Array(shared);
    const task: NoiseTask = { plan, rng, seed, count, out };
    const store = () => {
      if (out instanceof Float64Array) plan.multipliers = out;
      else plan.keep = out;
    };
    if (count > this.#options.inlineMaxElements) return this.#run<void>('noise', task, signal).then(store);
    drawNoise(task);
    store();
  }

  /** Parses and decodes a large JSON request body on a worker. */
  parseJson(task: ParseJsonTask, signal?: AbortSignal): Promise<ParseJsonResult> {
    return this.#run<ParseJsonResult>('parseJson', task, signal);
  }

  /** Serialises a large JSON reply on a worker; the bytes come back transferred. */
  encodeJson(task: EncodeJsonTask, signal?: AbortSignal): Promise<Uint8Array> {
    return this.#run<Uint8Array>('encodeJson', task, signal);
  }

  /** Parses, validates and decodes a large inference request (/v2) on a worker. */
  decodeInfer(task: DecodeInferTask, signal?: AbortSignal): Promise<DecodeInferResult> {
    return this.#runInfer<DecodeInferResult>('decodeInfer', task, signal);
  }

  /** Writes a large inference reply's JSON header (/v2) on a worker; the bytes come back transferred. */
  encodeInfer(task: EncodeInferTask, signal?: AbortSignal): Promise<Uint8Array> {
    return this.#runInfer<Uint8Array>('encodeInfer', task, signal);
  }

  /**
   * A /v2 task is never aborted through piscina, which would terminate the thread running it and with it the module
   * the thread loaded for it (a replacement thread loads it again on its next /v2 task, and under a short deadline
   * might never finish). An abort answers at once instead: the task returns as soon as it starts if it has not, and
   * a running one finishes and its result is dropped. The tasks only read the request's memory.
   */
  async #runInfer<T>(name: string, task: object, signal?: AbortSignal): Promise<T> {
    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const run = this.#run<T>(name, { ...task, cancel }, undefined, INFER_FILE);
    if (!signal) return run;
    let onAbort = () => {};
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => {
        Atomics.store(cancel, 0, 1);
        reject(signal.reason);
      };
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([run, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Settled or not, the task's outcome is nobody's once the request has been answered.
      run.catch(() => {});
    }
  }

  close(): Promise<void> {
    return this.#piscina.close();
  }
}
