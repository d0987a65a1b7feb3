/**
 * A thread for the host-scaling measurement (bench/cases/pool.ts `threadScaling`). On a message `k` it runs the WASM
 * kernel's compute (dropout.wasm's `dropout` export, the same call the service makes per chunk) k times over its own
 * cache-resident chunk and answers. No pool, no shared memory, no copies: only what the host's cores give two
 * threads computing at once. Plain JavaScript, so it is a Worker entry under tsx as well (a .ts entry is not).
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { n } = workerData;
const bytes = readFileSync(new URL('../src/kernel/wasm/dropout.wasm', import.meta.url));
const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort() {} } });
const data = new Float32Array(exports.memory.buffer, exports.dataPtr(), n);
for (let i = 0; i < n; i++) data[i] = i / n - 0.5;
// p = 0.5: keep below 2^31, scale 2; key and first draw arbitrary but fixed.
const run = () => exports.dropout(n, 0, 0x12345678, 0x9abcdef0, 2 ** 31, 2, 0, 0);
run();
parentPort.on('message', (iterations) => {
  for (let i = 0; i < iterations; i++) run();
  parentPort.postMessage('done');
});
parentPort.postMessage('ready');
