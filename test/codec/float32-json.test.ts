import { readFile } from 'node:fs/promises';
import t, { type Test } from 'tap';
import { shortestFloat32BySearch } from '../../src/codec/json/float-format.js';
import { float32Json } from '../../src/codec/json/float32.js';
import type * as JsonReply from '../../src/codec/json/reply.js';
import { type ReplyEcho, writeDropoutReply } from '../../src/codec/json/reply.js';
import { JsonWriter } from '../../src/codec/json/writer.js';
import type * as V2Infer from '../../src/codec/v2-infer.js';
import { encodeInferHeader, type InferCall } from '../../src/codec/v2-infer.js';
import { xorshift } from '../reference.js';
import { checkCommittedWasm } from '../wasm-drift.js';

const ROOT = new URL('../..', import.meta.url);
const decoder = new TextDecoder();

/** The WebAssembly path: one float32Run. */
function viaRun(values: Float32Array, start = 0, count = values.length): string {
  const w = new JsonWriter(16);
  w.float32Run(values, start, count);
  return decoder.decode(w.bytes());
}

/** The JavaScript path: float32() value by value, the definition the run writer must match. */
function viaValues(values: Float32Array, start = 0, count = values.length): string {
  const w = new JsonWriter(16);
  for (let i = 0; i < count; i++) {
    if (i > 0) w.byte(44);
    w.float32(values[start + i]);
  }
  return decoder.decode(w.bytes());
}

/**
 * `module` imported afresh (tap's mockImport) where the WebAssembly formatter is unavailable, as on a runtime that
 * cannot run it: its JsonWriter writes float32 values one by one. Under tsx the formatter's module is the .ts file.
 * `asked()` counts the copy's calls for the formatter, to show that the mock took.
 */
async function valueByValue<T>(t: Test, module: string): Promise<{ copy: T; asked: () => number }> {
  let asked = 0;
  const float32Json = () => {
    asked++;
    return undefined;
  };
  const copy = await t.mockImport<T>(module, { '../../src/codec/json/float32.ts': { float32Json } });
  return { copy, asked: () => asked };
}

const bitsOf = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0];

/**
 * Bit patterns where formatting goes wrong if it does: every exponent with its extreme and middle fractions,
 * powers of two and their neighbours, subnormals, the float32 nearest each power of ten (and 2.5, 5 times it) with
 * neighbours, wider neighbourhoods of the layout and range boundaries (1e−7, 1e−6, 1e21; 1e−13 and 1e14 where the
 * JS fast path ends; 1e−14, 1e−18, 1e10, 1e22 where the WebAssembly one changes method), short decimals, integers
 * and halves, ±0, NaN payloads and ±Infinity. Both signs of each.
 */
function specialPatterns(): Uint32Array {
  const next = xorshift(0x9e3779b9);
  const out: number[] = [];
  const around = (bits: number, k: number) => {
    for (let d = -k; d <= k; d++) out.push((bits + d) >>> 0);
  };
  for (let exp = 0; exp < 256; exp++) {
    for (const frac of [0, 1, 2, 3, 0x400000, 0x3fffff, 0x400001, 0x7ffffe, 0x7fffff, 0x555555, 0x2aaaaa]) {
      out.push((exp << 23) | frac);
    }
    for (let i = 0; i < 16; i++) out.push((exp << 23) | (next() & 0x7fffff));
  }
  for (let m = 1; m <= 4096; m++) out.push(m, 0x7fffff - m + 1);
  for (let i = 0; i < 8192; i++) out.push(next() & 0x7fffff);
  for (let k = -45; k <= 38; k++) {
    for (const lead of [1, 2.5, 5, 9.999999]) {
      const v = Math.fround(lead * 10 ** k);
      if (v > 0 && Number.isFinite(v)) around(bitsOf(v), 16);
    }
  }
  for (const v of [1e-7, 1e-6, 1e21, 1e-13, 1e14, 1e-14, 1e-18, 1e10, 1e22, 1e-22, 1e-38, 3.4e38]) {
    around(bitsOf(Math.fround(v)), 2048);
  }
  for (let i = 0; i <= 20000; i++) out.push(bitsOf(i), bitsOf(i + 0.5), bitsOf(i / 1000), bitsOf(i * 1024));
  for (let i = 0; i < 4096; i++) out.push(bitsOf((next() % 1_000_000) / 10 ** (next() % 12)));
  out.push(0x7f800000, 0x7f800001, 0x7fc00000, 0x7fc01234, 0x7fffffff, 0x7f7fffff, 0x00800000, 0x007fffff);
  const positive = out.map((b) => b & 0x7fffffff);
  return new Uint32Array([...positive, ...positive.map((b) => (b | 0x80000000) >>> 0)]);
}

function firstDifferences(bits: Uint32Array, got: string, expected: string): string[] {
  const a = got.split(',');
  const b = expected.split(',');
  const found: string[] = [];
  for (let i = 0; i < bits.length && found.length < 5; i++) {
    if (a[i] !== b[i]) found.push(`0x${bits[i].toString(16)}: wrote ${a[i]}, expected ${b[i]}`);
  }
  return found;
}

t.test('the module runs on this runtime', async (t) => {
  t.ok(float32Json(), 'float32Json() gives the WebAssembly formatter');
});

t.test('byte for byte JsonWriter.float32 on boundary and special patterns, and those are the definition', async (t) => {
  const bits = specialPatterns();
  const values = new Float32Array(bits.buffer);
  const got = viaRun(values);
  const expected = viaValues(values);
  t.same(firstDifferences(bits, got, expected), [], `${bits.length} patterns`);
  t.equal(got, expected);
  // The JS path itself against shortestFloat32BySearch, on the finite non-zero ones.
  const texts = expected.split(',');
  const wrong: string[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v === 0) continue;
    const definition = String(shortestFloat32BySearch(v));
    if (texts[i] !== definition && wrong.length < 5)
      wrong.push(`0x${bits[i].toString(16)}: ${texts[i]} ≠ ${definition}`);
  }
  t.same(wrong, []);
});

t.test('byte for byte JsonWriter.float32 on 400,000 random bit patterns', async (t) => {
  const next = xorshift(0x12345678);
  const bits = new Uint32Array(400_000);
  for (let i = 0; i < bits.length; i++) bits[i] = next();
  const values = new Float32Array(bits.buffer);
  const got = viaRun(values);
  const expected = viaValues(values);
  t.same(firstDifferences(bits, got, expected), []);
  t.equal(got, expected);
});

t.test('runs: any start and count, across chunk boundaries, short runs, shared memory', async (t) => {
  const capacity = float32Json()?.capacity ?? 16384;
  const n = 2 * capacity + 37;
  const next = xorshift(42);
  // Typical tensor values with dropout's zeros: half of them 0 or -0.
  const sab = new SharedArrayBuffer((n + 3) * 4);
  const values = new Float32Array(sab, 12, n);
  for (let i = 0; i < n; i++) values[i] = next() % 2 ? 0 : ((next() / 2 ** 32 - 0.5) * 8) / (1 + (next() % 1000));
  values[5] = -0;
  for (const [start, count] of [
    [0, 0],
    [0, 1],
    [7, 3],
    [1, 15],
    [2, 16],
    [3, 17],
    [0, capacity],
    [1, capacity + 1],
    [capacity - 5, 10],
    [0, n],
    [11, n - 11],
  ]) {
    t.equal(viaRun(values, start, count), viaValues(values, start, count), `start ${start}, count ${count}`);
  }
  // Two runs in one writer are separate texts: no comma between them unless the caller writes one.
  const w = new JsonWriter(4);
  w.float32Run(values, 0, 2);
  w.byte(124);
  w.float32Run(values, 2, 2);
  t.equal(decoder.decode(w.bytes()), `${viaValues(values, 0, 2)}|${viaValues(values, 2, 2)}`);
});

const ECHO: ReplyEcho = {
  p: 0.5,
  mode: 'train',
  variant: 'standard',
  rng: 'philox',
  seed: '42',
  offset: 0,
  kept: 3,
};

/** The values of a row-major tensor nested by shape, as plain arrays (a 0-d tensor's one value bare). */
function nest(values: ArrayLike<unknown>, shape: number[]): unknown {
  let next = 0;
  const build = (depth: number): unknown =>
    depth === shape.length ? values[next++] : Array.from({ length: shape[depth] }, () => build(depth + 1));
  return build(0);
}

t.test('writeDropoutReply: float32 runs give the same bytes as before, flat and nested, with the mask', async (t) => {
  const { copy: jsOnly, asked } = await valueByValue<typeof JsonReply>(t, '../../src/codec/json/reply.js');
  const next = xorshift(7);
  const shapes = [[], [0], [1], [7], [3, 4], [2, 3, 4], [2, 0, 3], [5, 1], [1, 5], [3, 1, 2, 1], [40_000], [2, 20_000]];
  for (const shape of shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = next() % 2 ? 0 : (next() / 2 ** 32 - 0.5) * 4;
    const mask = Uint8Array.from(data, (v) => (v === 0 ? 0 : 1));
    for (const nested of [false, true]) {
      const tensor = { data, shape, dtype: 'float32' as const, nested };
      const before = decoder.decode(jsOnly.writeDropoutReply(tensor, ECHO, mask));
      const after = decoder.decode(writeDropoutReply(tensor, ECHO, mask));
      t.equal(after, before, `shape ${JSON.stringify(shape)} nested=${nested}`);
      const parsed = JSON.parse(after) as { output: unknown; mask: unknown };
      const layout = nested || shape.length === 0 ? shape : [size];
      t.same(
        parsed.mask,
        nest(
          Array.from(mask, (m) => m === 1),
          layout,
        ),
        'mask layout',
      );
      t.same(
        parsed.output,
        nest(
          Array.from(data, (v) => Number(String(shortestFloat32BySearch(v)))),
          layout,
        ),
      );
    }
  }
  t.ok(asked() > 0, 'the value-by-value copy ran without the formatter');
});

t.test('writeDropoutReply: the other dtypes keep their value-by-value path and layout', async (t) => {
  const data = Float64Array.from({ length: 24 }, (_, i) => (i - 11.5) / 3);
  for (const nested of [false, true]) {
    const bytes = writeDropoutReply({ data, shape: [2, 3, 4], dtype: 'float64', nested }, ECHO);
    const output = (JSON.parse(decoder.decode(bytes)) as { output: unknown }).output;
    t.same(output, nest(Array.from(data), nested ? [2, 3, 4] : [24]));
  }
});

t.test('encodeInferHeader (V2 JSON outputs): float32 data gives the same bytes as value by value', async (t) => {
  const { copy: jsOnly, asked } = await valueByValue<typeof V2Infer>(t, '../../src/codec/v2-infer.js');
  const next = xorshift(11);
  const specials = specialPatterns();
  for (const size of [0, 1, 5, 3000, 40_000]) {
    const data = new Float32Array(size);
    const bits = new Uint32Array(data.buffer);
    for (let i = 0; i < size; i++) {
      if (i % 3 === 0) bits[i] = specials[next() % specials.length];
      else data[i] = next() % 2 ? 0 : (next() / 2 ** 32 - 0.5) * 4;
    }
    const call: InferCall = {
      tensor: { data, shape: [size], dtype: 'float32' },
      raw: {},
      outputs: [
        { name: 'output', binary: false },
        { name: 'mask', binary: false },
      ],
    };
    const result = {
      tensor: call.tensor,
      mask: Uint8Array.from(data, (v) => (v === 0 ? 0 : 1)),
      seed: '1',
      offset: 0,
      kept: 0,
    };
    const before = decoder.decode(jsOnly.encodeInferHeader(call, result, '1'));
    const after = decoder.decode(encodeInferHeader(call, result, '1'));
    t.equal(after, before, `${size} values`);
    const outputs = (JSON.parse(after) as { outputs: Array<{ data: unknown[] }> }).outputs;
    t.same(
      outputs[0].data,
      Array.from(data, (v) => (Number.isFinite(v) ? Number(String(shortestFloat32BySearch(v))) : String(v))),
    );
    t.same(
      outputs[1].data,
      Array.from(data, (v) => v !== 0),
    );
  }
  t.ok(asked() > 0, 'the value-by-value copy ran without the formatter');
});

t.test(
  'the committed float32-json.wasm is what `npm run build:wasm` compiles (run it after editing the .as.ts)',
  async (t) => {
    await checkCommittedWasm(t, 'src/codec/json/wasm/float32-json.as.ts', 'src/codec/json/wasm/float32-json.wasm');
    const pkg = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8'));
    t.match(pkg.scripts.build, /float32-json\.wasm/, 'npm run build copies it into dist');
  },
);
