/**
 * The committed JSON number reader (src/codec/json/wasm/json-numbers.wasm): built from its source as `npm run build:wasm`
 * builds it, shipped by `npm run build`, and its 128-bit powers of five the ones Eisel-Lemire needs. Its results are
 * checked against JSON.parse in json-fast.test.ts.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { checkCommittedWasm } from '../wasm-drift.js';

const ROOT = new URL('../..', import.meta.url);
const SOURCE = 'src/codec/json/wasm/json-numbers.as.ts';

t.test('the powers of five are fast_float’s table, recomputed here with BigInt', async (t) => {
  const source = await readFile(new URL(SOURCE, ROOT), 'utf8');
  const literal = /const POW5: usize = memory\.data<u64>\(\[([^\]]*)\]\)/.exec(source)?.[1] ?? '';
  const words = literal.match(/0x[0-9a-f]+/g)?.map((h) => BigInt(h)) ?? [];
  const expected: bigint[] = [];
  const M128 = 1n << 128n;
  for (let q = -342; q <= 308; q++) {
    let c: bigint;
    if (q < 0) {
      // The reciprocal 2^b / 5^-q, rounded up, to 128 significant bits.
      const p5 = 5n ** BigInt(-q);
      // The least z with 2^z >= 5^-q: its bit length, as no power of five past 1 is a power of two.
      const z = BigInt(p5.toString(2).length);
      c = (1n << (q >= -27 ? z + 127n : 2n * z + 128n)) / p5 + 1n;
      while (c >= M128) c >>= 1n;
    } else {
      // 5^q truncated to its top 128 bits.
      c = 5n ** BigInt(q);
      while (c < 1n << 127n) c <<= 1n;
      while (c >= M128) c >>= 1n;
    }
    expected.push(c >> 64n, c & ((1n << 64n) - 1n));
  }
  t.equal(words.length, expected.length, '651 entries of two words');
  t.ok(
    words.every((w, i) => w === expected[i]),
    'every word matches',
  );
});

t.test('the committed json-numbers.wasm is what `npm run build:wasm` compiles (run it after editing the .as.ts)', (t) =>
  checkCommittedWasm(t, SOURCE, 'src/codec/json/wasm/json-numbers.wasm'),
);

t.test('`npm run build` ships the module next to the code that loads it', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8'));
  const build = pkg.scripts.build as string;
  // src/codec/json/numbers.ts loads ./wasm/json-numbers.wasm relative to itself, in src/ and in dist/ alike.
  t.match(build, /json-numbers\.wasm/, 'the build names the module');
  t.match(build, /dist\/codec\/json\/wasm/, 'and copies into dist/codec/json/wasm');
});
