/**
 * [kernel] rows of scaling: the service's worker pool on 16M float32 in shared memory, 2 workers vs 1, read against
 * what the host gives a second thread at all in the same rounds (the kernel on cache-resident data per thread, no
 * pool): the pool cannot scale better than the cores under it, and on a shared VM they do not always scale, so the
 * pool row's ratio is its scaling over the host's.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { loadConfig } from '../../src/config.js';
import { OffloadPool } from '../../src/offload/pool.js';
import { M } from '../lib/bodies.js';
import { fmt } from '../lib/format.js';
import { measure, paramsFor, sampleArray } from '../lib/kernel-sweep.js';
import { SETTINGS } from '../lib/options.js';
import { foreignCpuMeter } from '../lib/proc.js';
import { addRow, atLeast, errorRow, failed, log } from '../lib/report.js';
import { alternate, median, perRound } from '../lib/rounds.js';

const section = 'kernel';
/** The pool's 2-vs-1 scaling as a share of the host's own, measured in the same rounds. */
const POOL_TARGET = atLeast(0.92);

/**
 * The pool (and the kernel it runs) on one tensor of n float32 in shared memory, no inline path, with the service's
 * CHUNK_ELEMENTS (its default unless set in the environment): M elements/s.
 */
async function poolThroughput(workers: number, n: number, reps: number, minMs: number): Promise<number> {
  const pool = new OffloadPool({
    workers,
    chunkElements: loadConfig({ CHUNK_ELEMENTS: process.env.CHUNK_ELEMENTS }).chunkElements,
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
    const run = async (iterations: number) => {
      for (let i = 0; i < iterations; i++) await pool.run(data, params, false);
    };
    return await measure(run, n, reps, minMs);
  } finally {
    await pool.close();
  }
}

/**
 * The WASM kernel on a cache-resident 16K-element tensor per thread (bench/scaling-worker.mjs), `threads` at once:
 * M elements/s in total.
 */
async function threadScaling(threads: number, reps: number, minMs: number): Promise<number> {
  const n = 16 * 1024;
  const workers = await Promise.all(
    Array.from({ length: threads }, async () => {
      const worker = new Worker(new URL('../scaling-worker.mjs', import.meta.url), { workerData: { n } });
      await once(worker, 'message');
      return worker;
    }),
  );
  const run = async (iterations: number) => {
    await Promise.all(
      workers.map((worker) => {
        const done = once(worker, 'message');
        worker.postMessage(iterations);
        return done;
      }),
    );
  };
  try {
    return (await measure(run, n, reps, minMs)) * threads;
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

export async function poolRows(): Promise<void> {
  const name = "pool 16M float32 (its kernel, in shared memory): 2 workers vs 1, over the host's 2 threads vs 1";
  const { rounds, reps: allReps, poolMinMs } = SETTINGS;
  try {
    log(`pool: 16M float32, 1 worker then 2 workers, and the host's 2-thread scaling, ${rounds} alternating rounds`);
    const meter = foreignCpuMeter();
    const reps = Math.max(2, Math.ceil(allReps / rounds));
    const [ones, twos, hostOnes, hostTwos] = await alternate(rounds, [
      () => poolThroughput(1, 16 * M, reps, poolMinMs),
      () => poolThroughput(2, 16 * M, reps, poolMinMs),
      () => threadScaling(1, reps, poolMinMs),
      () => threadScaling(2, reps, poolMinMs),
    ]);
    const foreignCores = meter();
    const poolScaling = twos.map((t, i) => t / ones[i]);
    const hostScaling = hostTwos.map((t, i) => t / hostOnes[i]);
    addRow({
      section,
      case: 'host: 2 threads vs 1, the WASM kernel on cache-resident data, no pool (reference for the pool row)',
      figure: median(hostTwos),
      figureText: `${fmt(median(hostTwos))} M el/s (rounds: ${perRound(hostScaling)})`,
      baseline: median(hostOnes),
      baselineText: `${fmt(median(hostOnes))} M el/s`,
      target: null,
      foreignCores,
    });
    // Scaling over scaling, each side's 2-vs-1 as median over median of its own alternating rounds (as the host row's
    // ratio), so the machine's drift between rounds reaches both alike.
    const pool2v1 = median(twos) / median(ones);
    const host2v1 = median(hostTwos) / median(hostOnes);
    addRow({
      section,
      case: name,
      figure: pool2v1,
      figureText: `${fmt(median(twos))} / ${fmt(median(ones))} M el/s = ${fmt(pool2v1)}x (rounds: ${perRound(poolScaling)})`,
      baseline: host2v1,
      baselineText: `host ${fmt(host2v1)}x`,
      target: POOL_TARGET,
      foreignCores,
      detail: { ones, twos, hostOnes, hostTwos },
    });
  } catch (e) {
    errorRow(section, name, failed('pool', e), POOL_TARGET);
  }
}
