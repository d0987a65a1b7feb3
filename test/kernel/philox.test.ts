import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { philox4x32, philoxKey } from '../../src/kernel/philox.js';
import { SHARED_DIR } from '../helpers.js';

const kat = readFileSync(join(SHARED_DIR, 'vectors/philox4x32-10.kat'), 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('philox4x32 10 '));

t.test('Philox4x32-10 reproduces every known-answer vector', (t) => {
  t.ok(kat.length >= 50, `read ${kat.length} vectors`);
  const out = new Uint32Array(4);
  for (const line of kat) {
    const words = line
      .trim()
      .split(/\s+/)
      .slice(2)
      .map((h) => Number.parseInt(h, 16));
    const [c0, c1, c2, c3, k0, k1, ...expected] = words;
    philox4x32(c0, c1, c2, c3, k0, k1, out);
    t.same(Array.from(out), expected, line);
  }
  t.end();
});

t.test('philoxKey splits a 64-bit seed into (low, high) words', (t) => {
  t.same(philoxKey(42n), [42, 0]);
  t.same(philoxKey(2n ** 32n + 5n), [5, 1]);
  t.same(philoxKey(2n ** 64n - 1n), [0xffffffff, 0xffffffff]);
  t.end();
});
