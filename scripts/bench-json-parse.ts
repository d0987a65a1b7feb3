/**
 * `npx tsx scripts/bench-json-parse.ts [rounds]`: the worker's JSON parse, the JSON.parse path (parseJsonWhole)
 * against parseJsonRequest (the WebAssembly fast path), side by side in one process on bodies like a Python
 * client's (json.dumps of random doubles: 16-17 significant digits), interleaved round by round so that a noisy
 * machine slows both alike; prints medians. Checks first that both give the same tensor bytes.
 */
import { parseJsonRequest, parseJsonWhole } from '../src/offload/json-tasks.js';

const rounds = Number(process.argv[2] ?? 15);

function body(shape: number[], dtype: string) {
  let seed = 0x9e3779b9;
  const next = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
  const nest = (depth: number): string =>
    depth === shape.length
      ? String(next() * 2 - 1)
      : `[${Array.from({ length: shape[depth] }, () => nest(depth + 1)).join(', ')}]`;
  const bytes = Buffer.from(`{"input": ${nest(0)}, "p": 0.5, "seed": 1, "dtype": "${dtype}"}`);
  const buffer = new SharedArrayBuffer(bytes.length);
  new Uint8Array(buffer).set(bytes);
  return {
    body: { buffer, byteOffset: 0, byteLength: bytes.length },
    limits: { maxElements: 16 << 20, maxRank: 32, inlineMaxElements: -1 },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

for (const [name, shape, dtype] of [
  ['64K float32', [65536], 'float32'],
  ['64K float32 [256, 256]', [256, 256], 'float32'],
  ['1M float32', [1 << 20], 'float32'],
  ['1M float64', [1 << 20], 'float64'],
] as const) {
  const task = body([...shape], dtype);
  const a = parseJsonWhole(task);
  const b = parseJsonRequest(task);
  if (!a.ok || !b.ok || !a.tensor || !b.tensor) throw new Error(`${name}: not a tensor`);
  if (!Buffer.from(new Uint8Array(a.tensor.buffer)).equals(Buffer.from(new Uint8Array(b.tensor.buffer)))) {
    throw new Error(`${name}: the paths disagree`);
  }
  const times = { whole: [] as number[], fast: [] as number[] };
  const n = shape.reduce((x, y) => x * y, 1) > 100_000 ? Math.max(5, rounds >> 1) : rounds;
  for (let r = 0; r < n + 2; r++) {
    let t0 = performance.now();
    parseJsonWhole(task);
    const whole = performance.now() - t0;
    t0 = performance.now();
    parseJsonRequest(task);
    const fast = performance.now() - t0;
    // The first two rounds warm up (tier-up of the JS and of the WebAssembly).
    if (r >= 2) {
      times.whole.push(whole);
      times.fast.push(fast);
    }
  }
  const [w, f] = [median(times.whole), median(times.fast)];
  console.log(
    `${name.padEnd(24)} ${(task.body.byteLength / 2 ** 20).toFixed(1).padStart(5)} MB  JSON.parse path ${w.toFixed(2).padStart(7)} ms  fast path ${f.toFixed(2).padStart(6)} ms  ${(w / f).toFixed(1)}x  (median of ${n})`,
  );
}
