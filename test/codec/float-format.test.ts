import t from 'tap';
import { shortestFloat32BySearch } from '../../src/codec/json/float-format.js';
import { JsonWriter } from '../../src/codec/json/writer.js';

const decoder = new TextDecoder();
function written(v: number, dtype: 'float32' | 'float64' = 'float32'): string {
  const w = new JsonWriter(8);
  if (dtype === 'float32') w.float32(v);
  else w.float64(v);
  return decoder.decode(w.bytes());
}

t.test('float32 values print as NumPy prints them: the shortest decimal that reads back; -0 as -0.0', (t) => {
  const cases: Array<[number, string]> = [
    [0.1, '0.1'],
    [1 / 3, '0.33333334'],
    [16777216, '16777216'],
    [1e-45, '1e-45'],
    [3.4028234663852886e38, '3.4028235e+38'],
    [1e-7, '1e-7'],
    [1.5e-7, '1.5e-7'],
    [123456.789, '123456.79'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [-2.5, '-2.5'],
    [0, '0'],
    [-0, '-0.0'],
    [Number.NaN, '"NaN"'],
    [Number.NEGATIVE_INFINITY, '"-Infinity"'],
  ];
  for (const [value, text] of cases) t.equal(written(Math.fround(value)), text, String(value));
  t.end();
});

t.test('the fast path agrees with the toPrecision search on 300,000 float32 values of every kind', (t) => {
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  let state = 0x12345678;
  const next = () => {
    // xorshift32: a reproducible spread of values without Math.random.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  let mismatches = 0;
  for (let i = 0; i < 300_000; i++) {
    const kind = i % 4;
    if (kind === 0) bits[0] = next();
    else if (kind === 1) f[0] = ((next() / 2 ** 32 - 0.5) * 8) / 10 ** (next() % 12);
    else if (kind === 2) f[0] = 2 ** ((next() % 80) - 40) * (next() % 2 ? 1 : -1);
    else f[0] = (next() % 100000) / 10 ** (next() % 9);
    const v = f[0];
    if (!Number.isFinite(v) || v === 0) continue;
    const expected = String(shortestFloat32BySearch(v));
    const actual = written(v);
    if (actual !== expected && mismatches++ < 5) t.fail(`${v}: wrote ${actual}, expected ${expected}`);
    if (Math.fround(Number(actual)) !== v && mismatches++ < 5) t.fail(`${actual} does not read back as ${v}`);
  }
  t.equal(mismatches, 0);
  t.end();
});

t.test('float64 values use JavaScript shortest round-trip form; -0 as -0.0', (t) => {
  t.equal(written(0.1, 'float64'), '0.1');
  t.equal(written(5e-324, 'float64'), '5e-324');
  t.equal(written(-0, 'float64'), '-0.0');
  t.equal(written(Number.POSITIVE_INFINITY, 'float64'), '"Infinity"');
  t.end();
});
