/**
 * The worker's fast JSON path (src/codec/json/fast.ts, src/codec/json/wasm/json-numbers.as.ts) against the JSON.parse
 * path it stands in for: whenever the fast path returns a result it must be the one parseJsonWhole returns (same
 * fields, same tensor bytes, same errors), and parseJsonRequest must always equal parseJsonWhole. The numbers cover
 * the whole double range, subnormals, overflow, long digit strings and near-halfway decimals; the bodies cover
 * the grammar, the shapes and the member-level corner cases (duplicate and escaped keys, strings that look like
 * structure). JSON_FAST_SEED replays another random draw.
 */
import { isDeepStrictEqual } from 'node:util';
import t, { type Test } from 'tap';
import type { TensorLimits } from '../../src/dropout/tensor.js';
import {
  type ParseJsonResult,
  type ParseJsonTask,
  parseJsonFast,
  parseJsonRequest,
  parseJsonWhole,
} from '../../src/offload/json-tasks.js';

const SEED = Number(process.env.JSON_FAST_SEED ?? 20240611);
const LIMITS: TensorLimits = { maxElements: 1 << 24, maxRank: 32, inlineMaxElements: -1 };

/** mulberry32: reproducible draws (the seed is in the test name). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}
const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const digitString = (n: number) => Array.from({ length: n }, () => String(int(10))).join('');

/** The body at an offset inside a larger shared buffer, with junk around it that a reader must not touch. */
function task(body: string | Uint8Array, limits: TensorLimits = LIMITS): ParseJsonTask {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const offset = 1 + int(7);
  const buffer = new SharedArrayBuffer(bytes.length + offset + 5);
  const view = new Uint8Array(buffer);
  view.fill(0x5b); // '[': junk that would change the parse if read
  view.set(bytes, offset);
  return { body: { buffer, byteOffset: offset, byteLength: bytes.length }, limits };
}

const bytesOf = (b: ArrayBufferLike) => Buffer.from(new Uint8Array(b));

/** Why two results differ, or undefined when they are the same result. */
function difference(a: ParseJsonResult, b: ParseJsonResult): string | undefined {
  if (a.ok !== b.ok) return `ok ${a.ok} vs ${b.ok}`;
  if (!a.ok || !b.ok) {
    if (!isDeepStrictEqual(a, b)) return `errors ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
    return undefined;
  }
  // isDeepStrictEqual tells -0 from 0; the JSON text adds key order.
  if (!isDeepStrictEqual(a.fields, b.fields) || JSON.stringify(a.fields) !== JSON.stringify(b.fields)) {
    return `fields ${JSON.stringify(a.fields)} vs ${JSON.stringify(b.fields)}`;
  }
  if ((a.tensor === null) !== (b.tensor === null)) return `tensor ${a.tensor === null} vs ${b.tensor === null}`;
  if (a.tensor && b.tensor) {
    const [x, y] = [a.tensor, b.tensor];
    if (!isDeepStrictEqual(x.shape, y.shape)) return `shape ${x.shape} vs ${y.shape}`;
    if (x.nested !== y.nested || x.dtype !== y.dtype)
      return `nested/dtype ${x.nested}/${x.dtype} vs ${y.nested}/${y.dtype}`;
    if (x.buffer.constructor !== y.buffer.constructor) return 'buffer kind';
    if (!bytesOf(x.buffer).equals(bytesOf(y.buffer))) return 'tensor bytes';
    const aliased = (r: typeof a) => r.fields.shape === r.tensor?.shape;
    if (aliased(a) !== aliased(b)) return 'shape aliasing';
  }
  return undefined;
}

interface Tally {
  fast: number;
  declined: number;
  failures: string[];
}

/** Compares both paths on one body (at the given test chunk sizes); returns whether the fast path took it. */
function compare(
  tally: Tally,
  body: string | Uint8Array,
  limits = LIMITS,
  chunks: Array<number | undefined> = [undefined],
) {
  const label = () => (typeof body === 'string' ? body : Buffer.from(body).toString('latin1')).slice(0, 200);
  const whole = parseJsonWhole(task(body, limits));
  const full = parseJsonRequest(task(body, limits));
  const why = difference(full, whole);
  if (why) tally.failures.push(`parseJsonRequest: ${why}: ${label()}`);
  let taken = false;
  for (const chunkBytes of chunks) {
    const fast = parseJsonFast(task(body, limits), chunkBytes);
    if (fast === undefined) {
      tally.declined++;
      continue;
    }
    taken = true;
    tally.fast++;
    const d = difference(fast, whole);
    if (d) tally.failures.push(`chunk ${chunkBytes}: ${d}: ${label()}`);
  }
  return taken;
}

const newTally = (): Tally => ({ fast: 0, declined: 0, failures: [] });
function report(t: Test, tally: Tally, what: string) {
  t.same(tally.failures.slice(0, 10), [], `${what}: ${tally.fast} fast, ${tally.declined} declined`);
}

// ---- numbers

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** A finite double from random bits: every exponent equally likely, subnormals included. */
function randomDouble(): number {
  for (;;) {
    u32[0] = int(2 ** 32);
    u32[1] = int(2 ** 32);
    if (Number.isFinite(f64[0])) return f64[0];
  }
}

/** The double's integer mantissa and the exponent of its last bit: x = m * 2^e. */
function decompose(x: number): { m: bigint; e: number } {
  f64[0] = Math.abs(x);
  const biased = (u32[1] >>> 20) & 0x7ff;
  const m = (BigInt(u32[1] & 0xfffff) << 32n) | BigInt(u32[0]);
  return biased === 0 ? { m, e: -1074 } : { m: m | (1n << 52n), e: biased - 1075 };
}

/** (digits, exponent) as exact JSON text of digits * 2^e2 (digits odd or any). */
function exactDecimal(mantissa: bigint, e2: number): { digits: string; exp10: number } {
  if (e2 >= 0) return { digits: (mantissa << BigInt(e2)).toString(), exp10: 0 };
  return { digits: (mantissa * 5n ** BigInt(-e2)).toString(), exp10: e2 };
}

/** The exact midpoint between a double and the next one up, and decimal cuts of it just below and above. */
function nearHalfway(): string[] {
  const x = Math.abs(randomDouble());
  const { m, e } = decompose(x);
  const { digits, exp10 } = exactDecimal(2n * m + 1n, e - 1);
  const sign = rand() < 0.5 ? '-' : '';
  const out = [`${sign}${digits}e${exp10}`];
  for (const k of [16, 17, 18, 19, 20, 25, 40]) {
    if (k >= digits.length) continue;
    const cut = digits.slice(0, k);
    const shift = exp10 + digits.length - k;
    out.push(`${sign}${cut}e${shift}`, `${sign}${BigInt(cut) + 1n}e${shift}`);
    // The same value written with a decimal point.
    out.push(`${sign}${cut[0]}.${cut.slice(1)}e${shift + k - 1}`);
  }
  return out;
}

/** Exact halfway points with at most 19 digits (the round-to-even branch): integers in [2^53, 2^64). */
function shortHalfway(): string {
  const x = 2 ** (53 + int(11)) * (1 + rand());
  const { m, e } = decompose(x);
  const mid = ((2n * m + 1n) << BigInt(e)) >> 1n;
  const text = mid.toString();
  const at = int(4);
  // Also as d.ddd...eN and with the point inside: the same value, other exponents in the algorithm.
  if (at === 1) return `${text[0]}.${text.slice(1)}e${text.length - 1}`;
  if (at === 2) return `${text.slice(0, 10)}.${text.slice(10)}`;
  // A trailing zero past the 19th digit is dropped without making the value inexact.
  if (at === 3) return `${text}0E-1`;
  return text;
}

function randomNumberText(): string {
  const sign = rand() < 0.5 ? '-' : '';
  switch (int(12)) {
    case 0:
      return String(randomDouble()).replace('e+', pick(['e+', 'e', 'E+', 'E']));
    case 1:
      return randomDouble().toPrecision(1 + int(21));
    case 2:
      return randomDouble().toExponential(int(25));
    case 3:
      // Exact long digit strings (up to 100 significant digits).
      return randomDouble().toPrecision(22 + int(79));
    case 4: {
      // Python-style floats: repr of a uniform draw, 16-17 significant digits.
      return String((rand() * 2 - 1) * 10 ** (int(9) - 4));
    }
    case 5: {
      // Subnormals and the range just above them.
      const x = randomDouble() * 2 ** -(1000 + int(80));
      return rand() < 0.5 ? String(x) : x.toPrecision(1 + int(25));
    }
    case 6: {
      // Around the top of the range: some round to the largest double, some overflow to Infinity.
      const lead = pick(['1.7976931348623157', '1.7976931348623158', '1.797693134862315807', '1.7976931348623159']);
      return `${sign}${lead}${digitString(int(6))}e${pick(['308', '+308', '307', '309', '400', '99999999999'])}`;
    }
    case 7: {
      const body = [
        `${int(10) || 1}${digitString(int(25))}`,
        `0.${'0'.repeat(int(30))}${int(9) + 1}${digitString(int(30))}`,
        `${int(9) + 1}${digitString(int(5))}.${digitString(1 + int(25))}`,
      ];
      const exponent = rand() < 0.5 ? '' : `${pick(['e', 'E'])}${pick(['', '+', '-'])}${'0'.repeat(int(3))}${int(400)}`;
      return `${sign}${pick(body)}${exponent}`;
    }
    case 8:
      return pick([...nearHalfway()]);
    case 9:
      return shortHalfway();
    case 10:
      // Integers, long and short, and zeros in their spellings.
      return pick([
        `${sign}${int(10) || 1}${digitString(int(30))}`,
        `${sign}${int(2 ** 31)}`,
        `${sign}0`,
        `${sign}0.0`,
        `${sign}0e${int(999)}`,
        `${sign}0.${'0'.repeat(1 + int(40))}e-${int(999)}`,
        `${sign}${int(9) + 1}${'0'.repeat(300 + int(40))}`,
        `${sign}0.${'0'.repeat(300 + int(40))}${int(9) + 1}`,
      ]);
    default:
      return String(randomDouble());
  }
}

/** Literature cases: strtod's classic hard inputs, and the edges of the range. */
const HARD_NUMBERS = [
  '2.2250738585072011e-308',
  '2.2250738585072012e-308',
  '2.2250738585072014e-308',
  '2.225073858507201136057409796709131975934819546351645648e-308',
  '4.9406564584124654e-324',
  '2.4703282292062327e-324',
  '2.4703282292062328e-324',
  '2e-324',
  '3e-324',
  '5e-324',
  '1e-323',
  '1.7976931348623157e308',
  '1.7976931348623158e308',
  '1.7976931348623159e308',
  '1.7976931348623158079e308',
  '1e308',
  '1e309',
  '-1e309',
  '1e-400',
  '-1e-400',
  '9007199254740992',
  '9007199254740993',
  '9007199254740994',
  '9007199254740995',
  '9007199254740993.0000000001',
  '18446744073709551615',
  '18446744073709551616',
  '9999999999999999999',
  '10000000000000000000',
  '1e23',
  '8.98846567431158e307',
  '7.038531e-26',
  '0.1',
  '0.2',
  '0.3',
  '0.30000000000000004',
  '1.00000000000000011102230246251565404236316680908203125',
  '1.00000000000000011102230246251565404236316680908203124',
  '1.00000000000000011102230246251565404236316680908203126',
  '-0',
  '-0.0',
  '-0e-5',
  '0e1000000000000',
  '123456789012345678901234567890e-10',
  '4503599627370496.5',
  '4503599627370497.5',
  '9007199254740993e-3',
  '1.448997445238699',
  '3.4028235677973366e38',
  '1.1754943508222875e-38',
  '65504',
  '65520',
  '1e22',
  '1e-22',
  '123456789e-30',
  `1${'0'.repeat(400)}`,
  `0.${'0'.repeat(400)}1e400`,
];

t.test(`numbers: the fast path gives exactly JSON.parse's double (JSON_FAST_SEED=${SEED})`, (t) => {
  const texts = [...HARD_NUMBERS, ...Array.from({ length: 12000 }, randomNumberText)];
  let fast = 0;
  const declined: string[] = [];
  const failures: string[] = [];
  const got = new Float64Array(1);
  for (const text of texts) {
    const expected = JSON.parse(text) as number;
    const result = parseJsonFast(task(`{"input":[${text}],"dtype":"float64"}`));
    if (result === undefined) {
      declined.push(text);
      continue;
    }
    fast++;
    if (!result.ok || !result.tensor) {
      failures.push(`${text}: ${JSON.stringify(result)}`);
      continue;
    }
    got.set(new Float64Array(result.tensor.buffer));
    if (!Object.is(got[0], expected)) failures.push(`${text}: ${got[0]} instead of ${expected}`);
  }
  t.same(failures.slice(0, 10), [], `${fast} numbers parsed exactly`);
  // A number is declined only when its first 19 significant digits cannot settle the rounding.
  const significant = (s: string) =>
    s
      .replace(/[eE].*$/, '')
      .replace(/[-.]/g, '')
      .replace(/^0+/, '').length;
  t.same(
    declined.filter((s) => significant(s) <= 19),
    [],
    `declined only long digit strings (${declined.length} of ${texts.length})`,
  );
  t.ok(declined.length < texts.length / 4, 'most long digit strings are decided too');
  t.end();
});

t.test('numbers in bulk: big bodies across chunk boundaries, every dtype', (t) => {
  const tally = newTally();
  for (const dtype of ['float32', 'float64', 'float16', 'bfloat16']) {
    for (let k = 0; k < 3; k++) {
      const values = Array.from({ length: 600 }, () => {
        const s = randomNumberText();
        // An undecidable number declines the whole body, and a token longer than a chunk does: keep the bulk
        // bodies to numbers that always decide and fit the smallest test chunk.
        const significant = s
          .replace(/[eE].*$/, '')
          .replace(/[-.]/g, '')
          .replace(/^0+/, '').length;
        return significant > 19 || s.length > 60 ? String(randomDouble()) : s;
      });
      values.push('"NaN"', '"Infinity"', '"-Infinity"', '-0', '65520', '3.4028235677973366e38');
      const body = `{"dtype":"${dtype}","p":0.5,"input":[${values.join(pick([',', ', ', ' ,\n', '\t,\r\n ']))}]}`;
      const before = tally.declined;
      compare(tally, body, LIMITS, [undefined, 64, 65, 100, 333, 4096]);
      if (tally.declined !== before) tally.failures.push(`bulk ${dtype} body declined`);
    }
  }
  // Bodies bigger than the module's 128 KiB buffer, so real chunks end inside tokens.
  for (const [rank, n] of [
    [1, 40000],
    [2, 200],
    [3, 40],
  ]) {
    const shape = rank === 1 ? [n] : rank === 2 ? [n, 150] : [n, 30, 30];
    const nest = (depth: number): string =>
      depth === shape.length
        ? String(randomDouble())
        : `[${Array.from({ length: shape[depth] }, () => nest(depth + 1)).join(', ')}]`;
    const body = `{"input": ${nest(0)}, "seed": 7, "dtype": "${pick(['float32', 'float64'])}"}`;
    t.ok(body.length > 300_000, `rank ${rank}: ${body.length} bytes`);
    const before = tally.declined;
    compare(tally, body, LIMITS, [undefined, 1000]);
    if (tally.declined !== before) tally.failures.push(`big rank-${rank} body declined`);
  }
  report(t, tally, 'bulk bodies');
  t.end();
});

// ---- bodies

/** A random rectangular nesting of values with random whitespace. */
function nestedText(shape: number[], value: () => string, space: () => string): string {
  const go = (depth: number): string => {
    if (depth === shape.length) return value();
    const items = Array.from({ length: shape[depth] }, () => `${space()}${go(depth + 1)}${space()}`);
    return `[${space()}${items.join(',')}${space()}]`;
  };
  return go(0);
}

const SPACES = ['', '', '', ' ', '\n', '\t', '\r\n', '  \t '];
const someSpace = () => pick(SPACES);
const someValue = () =>
  rand() < 0.1 ? pick(['"NaN"', '"Infinity"', '"-Infinity"', '-0', '0']) : String(randomDouble() / 2 ** int(1000));

t.test('random shapes, ranks 1-5, whitespace, dtypes, shape fields', (t) => {
  const tally = newTally();
  let taken = 0;
  for (let k = 0; k < 400; k++) {
    const rank = 1 + int(5);
    const shape = Array.from({ length: rank }, () => (rand() < 0.08 ? 0 : 1 + int(rank > 3 ? 3 : 5)));
    const input = nestedText(shape, someValue, someSpace);
    const members = [`"input"${someSpace()}:${someSpace()}${input}`];
    if (rand() < 0.7)
      members.push(`"dtype":${pick(['"float32"', '"float64"', '"float16"', '"bfloat16"', '"int8"', '1'])}`);
    if (rand() < 0.3) {
      const claimed = rand() < 0.5 ? shape : [shape.reduce((a, b) => a * b, 1)];
      members.push(`"shape":${JSON.stringify(rand() < 0.9 ? claimed : [...claimed, 1])}`);
    }
    if (rand() < 0.5) members.push(`"p":${pick(['0.5', '0', '1', '-1', '"x"'])}`, `"seed":${int(100)}`);
    members.sort(() => rand() - 0.5);
    const body = `${someSpace()}{${someSpace()}${members.join(`${someSpace()},${someSpace()}`)}${someSpace()}}${someSpace()}`;
    if (compare(tally, body, LIMITS, [undefined, 48])) taken++;
  }
  report(t, tally, 'random bodies');
  t.ok(taken > 350, `the fast path took ${taken} of 400 (declines: a claimed shape it leaves to decodeJsonTensor)`);
  t.end();
});

t.test('member-level corner cases', (t) => {
  const tally = newTally();
  const fastBodies = [
    '{"input": [1, 2, 3]}',
    '{"input": [], "dtype": "float64"}',
    '{"input": [[]], "dtype": "float64"}',
    '{"input": [[], []]}',
    '{"input": [[[]]]}',
    '{"input": [[1, 2], [3, 4]], "shape": [2, 2]}',
    '{"input": [1, 2, 3, 4], "shape": [2, 2]}',
    '{"input": [1,2,3,4,5,6], "shape": [2, 3], "dtype": "bfloat16"}',
    // The last of duplicate keys wins, as in JSON.parse.
    '{"input": [9, 9], "input": [1, 2, 3]}',
    '{"input": 5, "input": [1, 2]}',
    '{"input": "x", "p": 0.5, "input": [[1], [2]]}',
    // Keys compared after unescaping.
    '{"\\u0069nput": [1, 2]}',
    '{"inp\\u0075t": [1, 2], "p": 0.1}',
    '{"\\u0069\\u006e\\u0070\\u0075\\u0074": [1]}',
    '{"input": [7], "\\u0069nput": [1, 2]}',
    // Strings elsewhere that look like structure, escapes that end at a quote.
    '{"note": "\\"input\\": [1, 2] }", "input": [3]}',
    '{"note": "a\\\\", "input": [3]}',
    '{"note": "\\\\\\"", "input": [3]}',
    '{"x": {"input": [5, 6]}, "input": [3]}',
    '{"x": ["]", "}", "[", "{"], "input": [3], "y": "{["}',
    '{"input": [3], "x": {"input": 7}}',
    '{"input": [3], "x": [{"a": [1, {"b": "]"}]}]}',
    '{"p": 0.5, "seed": "123456789012345678901", "input": [1e5, 2E-3, 0.0, -0.0, 1E+2]}',
    '{"return_mask": true, "input": ["NaN", "Infinity", "-Infinity"]}',
    '{"input": [1], "extra": null, "t": true, "f": false}',
    '{"é": "ü", "input": [1], "emoji": "😀"}',
    // Settings nested too deep: refused as the JSON.parse path refuses them, once the body is known to be valid.
    '{"input": [1], "p": [[[[[1]]]]]}',
    // Settings that do not allow a tensor: fields only.
    '{"input": [1, 2], "dtype": "int8"}',
    '{"input": [1, 2], "shape": "2"}',
    '{"input": [1, 2], "shape": [2, "x"]}',
    ' \t\r\n{ "input" : [ 1 , 2 ] } \n',
  ];
  const declinedBodies = [
    // Not an array input, no input, not an object.
    '{"input": 5}',
    '{"input": [1], "input": {"a": 1}}',
    // An earlier duplicate it cannot read declines the body, though the last one wins (rare; not worth a rescan).
    '{"input": [[1, 2], 3], "input": [1]}',
    '{"input": "NaN"}',
    '{"input": null}',
    '{"p": 0.5}',
    '{}',
    '[1, 2]',
    '5',
    '"input"',
    // Grammar errors: JSON.parse's messages come from the JSON.parse path.
    '{"input": [01]}',
    '{"input": [1.]}',
    '{"input": [.5]}',
    '{"input": [+1]}',
    '{"input": [1e]}',
    '{"input": [1e+]}',
    '{"input": [-]}',
    '{"input": [-a]}',
    '{"input": [NaN]}',
    '{"input": [Infinity]}',
    '{"input": [-Infinity]}',
    '{"input": [0x10]}',
    '{"input": [1,]}',
    '{"input": [,1]}',
    '{"input": [1 2]}',
    '{"input": [[1] [2]]}',
    '{"input": [1]]}',
    '{"input": [[1]}',
    '{"input": [1',
    '{"input": [1]',
    '{"input": [1]} x',
    '{"input": [1]}}',
    '{"input": [1],}',
    '{"input": [1] "p": 1}',
    '{"input" [1]}',
    '{input: [1]}',
    "{'input': [1]}",
    '{"input": [1], "p": 0.5,}',
    '{"input": [1], "p": }',
    '{"input": [1], "p": tru}',
    '{"input": [1], "p": "a\u0001"}',
    '{"input": [1], "p": "\\x"}',
    '{"input": [true]}',
    '{"input": [null]}',
    '{"input": [{}]}',
    '{"input": [1\u00a0]}',
    '\ufeff{"input": [1]}',
    // Strings it leaves to decodeJsonTensor (its errors, or its unescaping).
    '{"input": ["nan"]}',
    '{"input": ["NaN "]}',
    '{"input": ["\\u004eaN"]}',
    '{"input": ["Inf"]}',
    '{"input": ["1"]}',
    '{"input": ["é"]}',
    // Shapes: ragged, deeper than the limit, mismatched claims.
    '{"input": [[1, 2], [3]]}',
    '{"input": [[1], 2]}',
    '{"input": [1, [2]]}',
    '{"input": [[], [1]]}',
    '{"input": [[1], []]}',
    '{"input": [[[1]], [2]]}',
    '{"input": [[[]], []]}',
    '{"input": [[1, 2], [3, 4]], "shape": [4]}',
    '{"input": [1, 2, 3], "shape": [2, 2]}',
    '{"input": [1, 2], "shape": [-2]}',
    '{"input": [1, 2], "shape": [2.5]}',
    `{"input": ${'['.repeat(33)}1${']'.repeat(33)}}`,
    `{"input": ${'['.repeat(40)}${']'.repeat(40)}}`,
    // An undecidable long number.
    `{"input": [${nearHalfwayExample()}]}`,
  ];
  for (const body of fastBodies) {
    if (!compare(tally, body, LIMITS, [undefined, 16])) tally.failures.push(`declined: ${body}`);
  }
  for (const body of declinedBodies) {
    if (compare(tally, body, LIMITS, [undefined, 16])) tally.failures.push(`not declined: ${body}`);
  }
  // Invalid UTF-8 in another member: replaced the same way whether decoded whole or in pieces.
  for (const junk of [[0xff], [0xe2, 0x82], [0xc3], [0xf0, 0x9f, 0x98]]) {
    const before = Buffer.from('{"a": "');
    const after = Buffer.from('", "input": [1, 2], "b": "x');
    const end = Buffer.from('"}');
    const body = Buffer.concat([before, Buffer.from(junk), after, Buffer.from(junk), end]);
    if (!compare(tally, body)) tally.failures.push(`declined invalid UTF-8 ${junk}`);
    const key = Buffer.concat([Buffer.from('{"'), Buffer.from(junk), Buffer.from('": 1, "input": [2]}')]);
    compare(tally, key);
  }
  report(t, tally, 'corner cases');
  t.end();
});

function nearHalfwayExample(): string {
  // 1 + 2^-53 (halfway between 1 and the next double) plus a little: 20+ digits whose 19-digit cut cannot decide.
  return '1.000000000000000111022302462515654042363166809082031250001';
}

t.test('limits and allocation follow decodeJsonTensor', (t) => {
  const tally = newTally();
  const body = '{"input": [[1, 2, 3], [4, 5, 6]]}';
  const flat = '{"input": [1, 2, 3, 4, 5, 6]}';
  for (const limits of [
    { maxElements: 6, maxRank: 2, inlineMaxElements: -1 },
    { maxElements: 5, maxRank: 32, inlineMaxElements: -1 },
    { maxElements: 100, maxRank: 1, inlineMaxElements: -1 },
    { maxElements: 100, maxRank: 32, inlineMaxElements: 6 },
    { maxElements: 100, maxRank: 32, inlineMaxElements: 5 },
  ]) {
    compare(tally, body, limits);
    compare(tally, flat, limits);
    compare(tally, '{"input": [1, 2, 3, 4, 5, 6], "shape": [2, 3]}', limits);
  }
  t.ok(parseJsonFast(task(body, { maxElements: 6, maxRank: 2, inlineMaxElements: 6 })), 'the fast path takes it');
  const small = parseJsonRequest(task(body, { maxElements: 6, maxRank: 2, inlineMaxElements: 6 }));
  t.ok(small.ok && small.tensor?.buffer instanceof ArrayBuffer, 'small tensors in plain memory, as before');
  report(t, tally, 'limits');
  t.end();
});
