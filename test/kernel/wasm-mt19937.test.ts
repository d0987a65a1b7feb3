import t from 'tap';
import { Mt19937, torchKeepMask, torchKeepMaskFast } from '../../src/kernel/mt19937.js';
import { wasmModule } from '../../src/kernel/wasm-module.js';
import { torchKeepMaskWasm, torchKeepThreshold, wasmMtSupported } from '../../src/kernel/wasm-mt19937.js';
import { checkCommittedWasm } from '../wasm-drift.js';

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;

const SEEDS = [0n, 1n, 42n, 2n ** 32n + 5n, 2n ** 64n - 1n];
const OFFSETS = [0, 1, 623, 624, 625, 100_003];
// p·2^53 is not an integer for 0.1, 0.3, 1e-9, 1e-17, 3·2^−55 and 2^−54 + 2^−60: the float64 rounding of 1 − p
// decides there (checked below).
const NON_INTEGER_P = [0.1, 0.3, 1e-9, 1e-17, 3 * 2 ** -55, 2 ** -54 + 2 ** -60, 0.2, 1 / 3];
const P = [0.5, ...NON_INTEGER_P, 1 - 2 ** -53, 0, 1, 0.9, 0.999999, 2 ** -53, 1 - 2 ** -40];
// Outside [0, 1], which torchKeepMask also answers: everything or nothing kept.
const ODD_P = [-0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 5e-324];

const bytes = (a: Uint8Array | Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

// The module's raw generator, which the service never needs (it asks for keep decisions): this test's own instance.
const generator = wasmModule<{ seed(s: number): void; skip(count: number): void; next(): number }>(
  new URL('../../src/kernel/wasm/mt19937.wasm', import.meta.url),
);

/** The first `count` 32-bit outputs of seed's MT19937 after skipping `skip` outputs, from the module. */
function mt19937OutputsWasm(seed: bigint, skip: number, count: number): Uint32Array {
  const exports = generator.exports();
  exports.seed(Number(BigInt.asUintN(32, seed)));
  if (skip > 0) exports.skip(skip);
  const result = new Uint32Array(count);
  for (let i = 0; i < count; i++) result[i] = exports.next();
  return result;
}

/** Both implementations on the same arguments; a description of any difference, or undefined. */
function diff(seed: bigint, offset: number, count: number, p: number): string | undefined {
  const a = new Uint8Array(count).fill(7);
  const b = new Uint8Array(count).fill(7);
  const ka = torchKeepMask(seed, offset, count, p, a);
  const kb = torchKeepMaskWasm(seed, offset, count, p, b);
  const what = `seed=${seed} offset=${offset} count=${count} p=${p}`;
  if (ka !== kb) return `${what}: kept ${kb}, expected ${ka}`;
  if (!bytes(a).equals(bytes(b))) return `${what}: first difference at ${a.findIndex((v, i) => v !== b[i])}`;
  return undefined;
}

/** The noise values X = (r1 & 0x1fffff)·2^32 + r2 of elements 0 .. count − 1 after `offset` elements. */
function noiseValues(seed: bigint, offset: number, count: number): number[] {
  const mt = new Mt19937(seed);
  mt.skip(2 * offset);
  return Array.from({ length: count }, () => (mt.next() & 0x1fffff) * TWO_32 + mt.next());
}

t.test('the module validates on this runtime, and torchKeepMaskFast uses it', async (t) => {
  t.equal(wasmMtSupported(), true);
  t.equal(torchKeepMaskFast, torchKeepMaskWasm);
});

t.test('MT19937 of seed 5489 gives the published reference outputs', async (t) => {
  const wasm = mt19937OutputsWasm(5489n, 0, 10_000);
  t.same([wasm[0], wasm[1], wasm[2]], [3499211612, 581869302, 3890346734]);
  t.equal(wasm[9999], 4123659995, 'the 10000th output');
  const mt = new Mt19937(5489n);
  const js = Uint32Array.from({ length: 10_000 }, () => mt.next());
  t.ok(bytes(js).equals(bytes(wasm)), 'the JS generator agrees on all 10000');
});

t.test('raw outputs equal the JS generator for every seed after skips across twists', async (t) => {
  for (const seed of [...SEEDS, 5489n, 2n ** 63n]) {
    for (const skip of [0, 1, 2, 396, 623, 624, 625, 1247, 1248, 200_006, 200_007]) {
      const mt = new Mt19937(seed);
      mt.skip(skip);
      const js = Uint32Array.from({ length: 1500 }, () => mt.next());
      t.ok(bytes(js).equals(bytes(mt19937OutputsWasm(seed, skip, 1500))), `seed=${seed} skip=${skip}`);
    }
  }
});

t.test('the integer threshold decides exactly as X·2^−53 < 1 − p in float64', async (t) => {
  for (const p of NON_INTEGER_P) t.notOk(Number.isInteger(p * TWO_53), `p·2^53 is not an integer for p=${p}`);
  // Many p: the lists, every power of two and its neighbours, and a fixed pseudo-random sample of all magnitudes.
  const ps = [...P, ...ODD_P];
  for (let e = -1074; e <= 1; e++) {
    const x = 2 ** e;
    ps.push(x, x * (1 + 2 ** -52), x * (1 - 2 ** -53), 1 - x, 1 + x);
  }
  let state = 12345;
  const rand = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / TWO_32;
  };
  for (let i = 0; i < 20_000; i++) ps.push(rand() * 2 ** -Math.floor(rand() * 70), rand());
  const failures: string[] = [];
  for (const p of ps) {
    const k = torchKeepThreshold(p);
    if (!Number.isInteger(k) || k < 0 || k > TWO_53) failures.push(`p=${p}: threshold ${k}`);
    // Every X where the answer could change, and the ends of the range.
    for (const x of [k - 2, k - 1, k, k + 1, 0, 1, TWO_53 - 1]) {
      if (x < 0 || x >= TWO_53) continue;
      if (x * 2 ** -53 < 1 - p !== x < k) failures.push(`p=${p}: X=${x} with threshold ${k}`);
    }
  }
  t.same(failures.slice(0, 5), [], `${ps.length} values of p`);
  t.equal(torchKeepThreshold(0.5), 2 ** 52);
  t.equal(torchKeepThreshold(1 - 2 ** -53), 1, 'only X = 0 is kept');
  t.equal(torchKeepThreshold(1e-9), (1 - 1e-9) * TWO_53);
});

t.test('bit for bit torchKeepMask: seeds × offsets × counts around a twist × p', async (t) => {
  for (const p of [...P, ...ODD_P]) {
    const failures: string[] = [];
    for (const seed of SEEDS) {
      for (const offset of OFFSETS) {
        for (const count of [0, 1, 2, 7, 8, 9, 15, 16, 17, 311, 312, 313, 624, 1000]) {
          const failure = diff(seed, offset, count, p);
          if (failure) failures.push(failure);
        }
      }
    }
    t.same(failures.slice(0, 5), [], `p=${p}`);
  }
});

t.test('bit for bit torchKeepMask on 1e6 elements (several output chunks)', async (t) => {
  let i = 0;
  for (const seed of SEEDS) {
    for (const offset of OFFSETS) {
      const p = P[i++ % P.length];
      t.equal(diff(seed, offset, 1_000_000, p), undefined, `seed=${seed} offset=${offset} p=${p}`);
    }
  }
  for (const p of P) t.equal(diff(42n, 625, 1_000_000, p), undefined, `seed=42 offset=625 p=${p}`);
});

t.test('thresholds right at a drawn value decide that element as the JS kernel does', async (t) => {
  // Elements 0..999 from offset 0 (all on the 16- and 8-element vector paths) and from offset 3 (scalar tails too).
  for (const offset of [0, 3]) {
    const xs = noiseValues(7n, offset, 1000);
    let checked = 0;
    for (let j = 0; j < xs.length; j += 7) {
      const x = xs[j];
      // For X ≥ 2^52, 1 − X·2^−53 is exact and so is 1 − p: the threshold lands on X, X ± 1.
      if (x < 2 ** 52) continue;
      for (const k of [x - 1, x, x + 1]) {
        const p = 1 - k * 2 ** -53;
        t.equal(torchKeepThreshold(p), k);
        const keep = new Uint8Array(1000);
        torchKeepMaskWasm(7n, offset, 1000, p, keep);
        if (keep[j] !== (x < k ? 1 : 0)) t.fail(`offset=${offset} element ${j}: X=${x} threshold ${k}`);
        t.equal(diff(7n, offset, 1000, p), undefined);
        checked++;
      }
    }
    t.ok(checked > 100, `${checked} thresholds at drawn values`);
  }
});

t.test('calls with consecutive offsets give the whole; shared memory, short keep arrays', async (t) => {
  const whole = new Uint8Array(100_000);
  const wholeKept = torchKeepMask(99n, 5, whole.length, 0.3, whole);
  const sab = new SharedArrayBuffer(whole.length + 16);
  const parts = new Uint8Array(sab, 16, whole.length);
  let kept = 0;
  for (const [a, b] of [
    [0, 1],
    [1, 312],
    [312, 70_001],
    [70_001, 100_000],
  ]) {
    kept += torchKeepMaskWasm(99n, 5 + a, b - a, 0.3, parts.subarray(a, b));
  }
  t.ok(bytes(parts).equals(bytes(whole)));
  t.equal(kept, wholeKept);
  // Writes past keep's end are dropped but still drawn and counted, as in torchKeepMask.
  for (const [length, count] of [
    [10, 100],
    [0, 5],
    [70_000, 70_001],
  ]) {
    const a = new Uint8Array(length);
    const b = new Uint8Array(length);
    t.equal(torchKeepMaskWasm(3n, 1, count, 0.5, b), torchKeepMask(3n, 1, count, 0.5, a));
    t.ok(bytes(a).equals(bytes(b)), `keep of ${length} for ${count}`);
  }
});

t.test('the committed mt19937.wasm is what `npm run build:wasm` compiles (run it after editing the .as.ts)', (t) =>
  checkCommittedWasm(t, 'src/kernel/wasm/mt19937.as.ts', 'src/kernel/wasm/mt19937.wasm'),
);
