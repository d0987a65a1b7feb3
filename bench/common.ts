/** The harness's shared machinery, re-exported from bench/lib/ under the path its scripts import. */
export { float32Body, sampleValues } from './lib/bodies.js';
export { fmt, textTable } from './lib/format.js';
export { chooseLoader, type Loader, type LoaderName, type LoadResult, type LoadSpec, runLoad } from './lib/load.js';
export { BENCH_DIR, PYTHON, ROOT } from './lib/paths.js';
export { foreignCpuMeter } from './lib/proc.js';
export { type Child, runCommand, spawnChild, stopAllChildren, stopChild } from './lib/processes.js';
export { freePort, waitReady } from './lib/servers.js';
export { parseWrkOutput } from './lib/wrk.js';
