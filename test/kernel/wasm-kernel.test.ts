import t from 'tap';
import { type DropoutParams, dropoutRange, keepThreshold } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { dropoutRangeWasm, wasmSimdSupported } from '../../src/kernel/wasm-dropout.js';
import { drawU32, genInput, referenceDropout } from '../reference.js';
import { checkCommittedWasm } from '../wasm-drift.js';

type Dtype = 'float32' | 'float64';
const TWO_32 = 2 ** 32;

const params = (dtype: Dtype, p: number, seed: bigint, offset: number): DropoutParams => {
  const [key0, key1] = philoxKey(seed);
  return { dtype, p, key0, key1, offset };
};

// Values whose x·s or x·0 is easy to get wrong: NaN (with payloads and sign), ±Inf, ±0, subnormals, overflow.
function specials(dtype: Dtype): number[] {
  const nan = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
  const f32 = [1e-45, -1e-45, 1e-40, -1.1754942e-38, 3.4028235e38, -3.4e38];
  const f64 = [5e-324, -5e-324, 2.2e-310, -2.225073858507201e-308, 1.7976931348623157e308, -1.7e308];
  return [
    Number.NaN,
    -Number.NaN,
    nan(0x7fc01234),
    nan(0xffc00001),
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    0,
    1,
    -1,
    ...(dtype === 'float32' ? f32 : f64),
  ];
}

/** A tensor of n elements: the test-input formula with special values mixed in. */
function input(dtype: Dtype, n: number): Float32Array | Float64Array {
  const x = dtype === 'float32' ? new Float32Array(genInput(n)) : genInput(n);
  const s = specials(dtype);
  for (let i = 0; i < n; i += 3) x[i] = s[(i / 3) % s.length];
  return x;
}

const bytesOf = (a: Float32Array | Float64Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Runs both kernels on copies of x over [start, end); returns a description of any difference, or undefined. */
function diff(
  x: Float32Array | Float64Array,
  start: number,
  end: number,
  prm: DropoutParams,
  withMask: boolean,
): string | undefined {
  const a = x.slice();
  const b = x.slice();
  // Both masks start as 7 so that writes outside [start, end) would show up.
  const ma = withMask ? new Uint8Array(x.length).fill(7) : undefined;
  const mb = withMask ? new Uint8Array(x.length).fill(7) : undefined;
  const ka = dropoutRange(a, start, end, prm, ma);
  const kb = dropoutRangeWasm(b, start, end, prm, mb);
  const what = `${prm.dtype} p=${prm.p} key=${prm.key0},${prm.key1} offset=${prm.offset} [${start}, ${end}) mask=${withMask}`;
  if (ka !== kb) return `${what}: kept ${kb}, expected ${ka}`;
  const ba = bytesOf(a);
  const bb = bytesOf(b);
  if (!ba.equals(bb)) {
    const i = Math.floor(ba.findIndex((v, j) => v !== bb[j]) / a.BYTES_PER_ELEMENT);
    return `${what}: element ${i} (${x[i]}) is ${b[i]}, expected ${a[i]}`;
  }
  if (ma && mb && !bytesOf(ma).equals(bytesOf(mb))) return `${what}: mask differs`;
  return undefined;
}

const P = [0, 0.1, 0.5, 0.9, 1, 1e-9, 0.999999, 1e-17, 1 - 2 ** -40];
const SEEDS = [0n, 2n ** 32n + 5n, 2n ** 64n - 1n];
// 4·2^32 − 2: the block counter carries in the first block; 4·2^32 − 21: it carries in the middle of a SIMD group.
const OFFSETS = [0, 3, 2 ** 34 + 2, 4 * TWO_32 - 2, 4 * TWO_32 - 21];

t.test('the module validates on this runtime', async (t) => {
  t.equal(wasmSimdSupported(), true);
});

t.test('bit for bit dropoutRange: every size 0..100, unaligned starts, p, seeds, offsets, mask', async (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    const x = input(dtype, 120);
    for (const p of P) {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        for (const offset of OFFSETS) {
          const prm = params(dtype, p, seed, offset);
          for (let size = 0; size <= 100; size++) {
            const start = size % 7;
            const failure = diff(x, start, start + size, prm, size % 2 === 0);
            if (failure) failures.push(failure);
          }
        }
      }
      t.same(failures.slice(0, 5), [], `${dtype} p=${p}`);
    }
  }
});

t.test('bit for bit dropoutRange on ~1e6 elements, across chunk boundaries, with and without mask', async (t) => {
  const n = 1_000_003;
  for (const dtype of ['float32', 'float64'] as const) {
    const x = input(dtype, n);
    for (const [p, seed, offset] of [
      [0.5, 0n, 0],
      [0.1, 2n ** 64n - 1n, 3],
      [0.9, 2n ** 32n + 5n, 2 ** 34 + 2],
      [0.999999, 42n, 4 * TWO_32 - 4 * 300_000 - 1],
      [1e-9, 7n, 1],
    ] as const) {
      const prm = params(dtype, p, seed, offset);
      t.equal(diff(x, 0, n, prm, true), undefined, `${dtype} p=${p} whole, mask`);
      t.equal(diff(x, 5, n - 2, prm, false), undefined, `${dtype} p=${p} unaligned range`);
    }
  }
});

t.test('a tensor computed in uneven ranges equals the whole, and data in shared memory works', async (t) => {
  const n = 70_001;
  for (const dtype of ['float32', 'float64'] as const) {
    const x = input(dtype, n);
    const prm = params(dtype, 0.3, 99n, 4 * TWO_32 - 9);
    const whole = x.slice();
    const wholeKept = dropoutRange(whole, 0, n, prm);
    // A view that starts 8 elements into a SharedArrayBuffer, as a worker sees its slice of a request.
    const size = dtype === 'float32' ? 4 : 8;
    const sab = new SharedArrayBuffer((n + 8) * size);
    const shared = dtype === 'float32' ? new Float32Array(sab, 8 * size, n) : new Float64Array(sab, 8 * size, n);
    shared.set(x);
    let kept = 0;
    for (const [a, b] of [
      [0, 1],
      [1, 18_000],
      [18_000, 18_003],
      [18_003, n],
    ]) {
      kept += dropoutRangeWasm(shared, a, b, prm);
    }
    t.ok(bytesOf(shared).equals(bytesOf(whole)), `${dtype}: ranges give the whole`);
    t.equal(kept, wholeKept);
  }
});

t.test('a draw equal to the threshold is dropped and one below it kept, in every code path', async (t) => {
  // [1, 121) from draw offset 0: a scalar head, 32-element iterations, a 16-element group and a scalar tail; from
  // 4·2^32 − 20 the block counter's low word also wraps inside the range.
  const seed = 12345n;
  for (const dtype of ['float32', 'float64'] as const) {
    const x = input(dtype, 121);
    for (const offset of [0, 2 ** 34 + 2, 4 * TWO_32 - 20]) {
      for (const i of [2, 37, 70, 105, 119]) {
        const u = drawU32(seed, BigInt(offset + i));
        for (const threshold of [u, u + 1]) {
          const p = 1 - threshold / TWO_32;
          const prm = params(dtype, p, seed, offset);
          const what = `${dtype} offset=${offset} element ${i}: u=${u}, threshold ${threshold}`;
          t.equal(keepThreshold(p), threshold, `${what}: p gives that threshold`);
          t.equal(diff(x, 1, 121, prm, true), undefined, what);
          const mask = new Uint8Array(121);
          dropoutRangeWasm(x.slice(), 1, 121, prm, mask);
          t.equal(mask[i], threshold > u ? 1 : 0, `${what}: kept is u < threshold`);
        }
      }
    }
  }
});

t.test('matches the naive BigInt reference', async (t) => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [p, seed, offset, size] of [
      [0.5, 0n, 0, 64],
      [0.1, 2n ** 32n + 5n, 3, 37],
      [0.9, 2n ** 64n - 1n, 2 ** 34 + 2, 50],
      [0.5, 7n, 4 * TWO_32 - 21, 45],
      [1, 1n, 0, 9],
      [0, 1n, 0, 9],
    ] as const) {
      const x = input(dtype, size);
      const expected = referenceDropout(x, p, seed, BigInt(offset));
      const out = x.slice();
      const kept = dropoutRangeWasm(out, 0, size, params(dtype, p, seed, offset));
      t.ok(bytesOf(out).equals(bytesOf(expected.out)), `${dtype} p=${p} seed=${seed} offset=${offset}`);
      t.equal(kept, expected.kept);
    }
  }
});

t.test('the committed dropout.wasm is what `npm run build:wasm` compiles (run it after editing the .as.ts)', (t) =>
  checkCommittedWasm(t, 'src/kernel/wasm/dropout.as.ts', 'src/kernel/wasm/dropout.wasm'),
);
