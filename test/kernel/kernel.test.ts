import t from 'tap';
import { dropoutRange, keepScale, keepThreshold } from '../../src/kernel/dropout.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { genInput, referenceDropout } from '../reference.js';

const params = (dtype: 'float32' | 'float64', p: number, seed: bigint, offset = 0) => {
  const [key0, key1] = philoxKey(seed);
  return { dtype, p, key0, key1, offset };
};

t.test('kept fraction is binomial(n, 1 − p) within 5σ, and kept values are exactly R(x·s)', (t) => {
  const n = 1 << 20;
  for (const p of [0.1, 0.5, 0.9]) {
    const x = new Float32Array(genInput(n));
    const out = x.slice();
    const mask = new Uint8Array(n);
    const kept = dropoutRange(out, 0, n, params('float32', p, 1234n), mask);
    const mean = n * (1 - p);
    const sigma = Math.sqrt(n * p * (1 - p));
    t.ok(
      Math.abs(kept - mean) < 5 * sigma,
      `p=${p}: kept ${kept}, expected ${mean.toFixed(0)} ± ${(5 * sigma).toFixed(0)}`,
    );
    const s = keepScale('float32', p);
    t.equal(s, Math.fround(1 / Math.fround(1 - p)));
    let bad = 0;
    let counted = 0;
    for (let i = 0; i < n; i++) {
      const expected = mask[i] ? Math.fround(x[i] * s) : x[i] * 0;
      if (!Object.is(out[i], expected)) bad++;
      counted += mask[i];
    }
    t.equal(bad, 0, `p=${p}: every element is R(x·s) or x·0`);
    t.equal(counted, kept, 'the mask agrees with the kept count');
  }
  t.end();
});

t.test('the kernel matches the naive reference bit for bit (float32 and float64, seeds, offsets, ranges)', (t) => {
  const cases: Array<[number, bigint, number]> = [
    [0.5, 0n, 0],
    [0.1, 42n, 3],
    [0.9, 2n ** 64n - 1n, 1_000_001],
    [0.3, 2n ** 32n + 5n, 2 ** 34 + 2],
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [p, seed, offset] of cases) {
      const x64 = genInput(999);
      const x = dtype === 'float32' ? new Float32Array(x64) : x64;
      const expected = referenceDropout(x, p, seed, BigInt(offset));
      const out = x.slice();
      // Computed in three uneven ranges to prove a range computes exactly its slice of the whole.
      let kept = 0;
      for (const [a, b] of [
        [0, 5],
        [5, 502],
        [502, 999],
      ]) {
        kept += dropoutRange(out, a, b, params(dtype, p, seed, offset));
      }
      t.same(
        Buffer.from(out.buffer),
        Buffer.from(expected.out.buffer),
        `${dtype} p=${p} seed=${seed} offset=${offset}`,
      );
      t.equal(kept, expected.kept);
    }
  }
  t.end();
});

t.test('the block counter carries into its high word', (t) => {
  // offset just below a multiple of 4·2^32: the draws straddle counter (2^32 − 1, 0) → (0, 1).
  const offset = 4 * 2 ** 32 - 2;
  const x = new Float64Array(8).fill(1);
  const expected = referenceDropout(x, 0.5, 7n, BigInt(offset));
  dropoutRange(x, 0, 8, params('float64', 0.5, 7n, offset));
  t.same(Array.from(x), Array.from(expected.out));
  t.end();
});

t.test('p = 0 is identity bit for bit; p = 1 is x·0', (t) => {
  const bits = new Uint32Array([
    0x00000000, 0x80000000, 0x7fc00001, 0xffc12345, 0x00000001, 0x807fffff, 0x7f800000, 0x3f800000,
  ]);
  const x = new Float32Array(bits.buffer.slice(0));
  t.equal(dropoutRange(x, 0, x.length, params('float32', 0, 9n)), x.length);
  t.same(new Uint32Array(x.buffer), bits, 'p = 0 keeps every bit, NaN payloads and −0 included');
  t.equal(dropoutRange(x, 0, x.length, params('float32', 1, 9n)), 0);
  const expected = Array.from(new Float32Array(bits.buffer.slice(0)), (v) => v * 0);
  t.ok(
    Array.from(x).every((v, i) => Object.is(v, expected[i])),
    'p = 1 gives x·0 (−0 for negatives, NaN for ±Inf/NaN)',
  );
  t.end();
});

t.test('the keep threshold is floor((1 − p)·2^32)', (t) => {
  t.equal(keepThreshold(0.5), 2 ** 31);
  t.equal(keepThreshold(0.1), Math.floor(0.9 * 2 ** 32));
  t.equal(keepThreshold(0), 2 ** 32);
  t.end();
});
