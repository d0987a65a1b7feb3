/**
 * fast-check arbitraries for hostile and valid requests of every route and body format.
 *
 * The valid names of dtypes, modes, variants, rngs and /v2 datatypes come from the service's own declarations, so
 * that whatever it adds is fuzzed from the start; the oracle (./oracle.ts, ./expect.ts) keeps its own lists, written
 * from docs/semantics.md, and so refuses a name the contract does not have until it is taught what that name must
 * compute.
 */
import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { DEFAULT_MODE, DEFAULT_RNG, MODES, RNGS } from '../../src/dropout/choices.js';
import { DEFAULT_VARIANT, VARIANT_NAMES } from '../../src/dropout/variants.js';
import { BYTES_PER_ELEMENT, DTYPES } from '../../src/kernel/dtype.js';
import { V2_DATATYPES } from '../../src/schemas/v2.js';
import { encodeValues } from './expect.js';
import { buildNpy } from './npy.js';
import { ACCEPT_VALUES } from './oracle.js';

// ---------------------------------------------------------------------------------------------------------------
// JSON text with full control over what is written: -0, numbers JSON.stringify cannot write, duplicate and
// __proto__ keys.

export type J = null | boolean | number | string | J[] | { obj: [string, J][] } | { raw: string };

export function jsonText(j: J): string {
  if (j === null || typeof j === 'boolean' || typeof j === 'string') return JSON.stringify(j);
  if (typeof j === 'number') return Object.is(j, -0) ? '-0' : Number.isFinite(j) ? JSON.stringify(j) : '1e999';
  if (Array.isArray(j)) return `[${j.map(jsonText).join(',')}]`;
  if ('raw' in j) return j.raw;
  return `{${j.obj.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}

/** A plain JSON value (fc.jsonValue) as J. */
export function fromJs(v: unknown): J {
  if (v === null || typeof v !== 'object') return v as J;
  if (Array.isArray(v)) return v.map(fromJs);
  return { obj: Object.entries(v).map(([k, x]) => [k, fromJs(x)] as [string, J]) };
}

const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Undefined (the field is left out) with probability `omit`. */
function opt<T>(arb: fc.Arbitrary<T>, omit: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: Math.round(omit * 100), arbitrary: fc.constant(undefined) },
    { weight: Math.round((1 - omit) * 100), arbitrary: arb },
  );
}

const count = (dims: readonly number[]) => dims.reduce((a, d) => a * d, 1);

// ---------------------------------------------------------------------------------------------------------------
// Tensors

export const goodLeaf: fc.Arbitrary<J> = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -100, max: 100, noNaN: true }) },
  { weight: 2, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<J>(
      'NaN',
      'Infinity',
      '-Infinity',
      -0,
      1e-45,
      3.4028235e38,
      3.5e38,
      65504,
      65520,
      5e-324,
      { raw: '1e400' },
      { raw: '-1e400' },
      { raw: '1E2' },
      { raw: '-0.0' },
      { raw: '1e-400' },
      { raw: '0.30000000000000004' },
    ),
  },
);

const badLeaf: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom<J>(null, true, false, '', 'nan', 'inf', '1', 'NAN', '-NaN', '+Infinity', { obj: [] }, [], {
    obj: [['__proto__', 1]],
  }),
  // names of Object.prototype members: a lookup that follows the prototype chain reads them as values
  fc.constantFrom<J>('toString', 'constructor', 'valueOf', '__proto__', 'hasOwnProperty', 'isPrototypeOf'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
);

const dimsArb = (minRank: number, maxRank: number, maxDim = 5, maxCount = 64) =>
  fc
    .array(fc.integer({ min: 0, max: maxDim }), { minLength: minRank, maxLength: maxRank })
    .filter((d) => count(d) <= maxCount);

/** Values nested by dims (rank ≥ 1). */
function nest(dims: readonly number[], values: readonly J[]): J[] {
  let next = 0;
  const build = (depth: number): J[] =>
    Array.from({ length: dims[depth] }, () => (depth === dims.length - 1 ? values[next++] : build(depth + 1)));
  return build(0);
}

export interface TensorPart {
  entries: [string, J][];
  /** The dims the input has when it is well-formed, for noise shapes that fit. */
  dims?: number[];
}

const leaves = (n: number, leaf = goodLeaf) => fc.array(leaf, { minLength: n, maxLength: n });

/** Up to 4096 values (MAX_ELEMENTS of the fuzz apps): many 64-element chunks on the pool app. */
const largeValues = fc.integer({ min: 65, max: 4096 }).chain((n) =>
  fc.array(fc.oneof(fc.integer({ min: -100, max: 100 }), fc.double({ min: -10, max: 10, noNaN: true })), {
    minLength: n,
    maxLength: n,
  }),
);

const wellFormedTensor: fc.Arbitrary<TensorPart> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(goodLeaf, { maxLength: 40 })
      .map((v): TensorPart => ({ entries: [['input', v]], dims: [v.length] })),
  },
  { weight: 1, arbitrary: largeValues.map((v): TensorPart => ({ entries: [['input', v]], dims: [v.length] })) },
  {
    weight: 6,
    arbitrary: dimsArb(0, 4).chain((dims) =>
      fc
        .tuple(leaves(count(dims)), fc.constantFrom('flat+shape', 'nested', 'nested+shape'))
        .map(([values, how]): TensorPart => {
          if (dims.length === 0 || how === 'flat+shape') {
            return { entries: [['input', values] as [string, J], ['shape', dims] as [string, J]], dims };
          }
          const nested = nest(dims, values);
          // A nested input whose dims include a 0 is an empty array somewhere: it is read as the dims it shows.
          const entries: [string, J][] = [['input', nested]];
          if (how === 'nested+shape') entries.push(['shape', dims]);
          return { entries, dims: dims.includes(0) ? undefined : dims };
        }),
    ),
  },
);

const badShape: fc.Arbitrary<J> = fc.oneof(
  fc.constantFrom<J>(
    [-1],
    [1.5],
    ['2'],
    '2,3',
    null,
    { obj: [] },
    [[2]],
    [1e15, 1e15],
    [2 ** 53],
    [{ raw: '1e300' }],
    [{ raw: '1e400' }],
    [4097],
    [1e6, 0],
    [2 ** 52, 2 ** 52, 2 ** 52, 0],
    Array(33).fill(1),
    Array(32).fill(1),
    [],
    [-0],
  ),
  fc.array(fc.integer({ min: -2, max: 10 }), { maxLength: 5 }),
);

const malformedTensor: fc.Arbitrary<TensorPart> = fc.oneof(
  // ragged: one row of a rank-2/3 array has another length, or a leaf where a row belongs (or the reverse)
  fc
    .tuple(
      dimsArb(2, 3, 4).filter((d) => d.every((x) => x > 0)),
      fc.nat(),
      fc.integer({ min: 0, max: 5 }),
    )
    .chain(([dims, row, len]) =>
      fc.tuple(leaves(count(dims)), leaves(len), goodLeaf, fc.nat(2)).map(([values, extra, leaf, how]) => {
        const nested = nest(dims, values) as J[];
        const r = row % nested.length;
        nested[r] = how === 0 ? extra : how === 1 ? leaf : [[leaf]];
        return { entries: [['input', nested] as [string, J]] };
      }),
    ),
  // a non-numeric value somewhere
  dimsArb(1, 3)
    .filter((d) => count(d) > 0)
    .chain((dims) =>
      fc.tuple(leaves(count(dims)), badLeaf, fc.nat(), fc.boolean()).map(([values, bad, at, flat]) => {
        const v = [...values];
        v[at % v.length] = bad;
        return { entries: [['input', flat ? v : nest(dims, v)] as [string, J]] };
      }),
    ),
  // nesting just under, at and past the rank limit (32)
  fc.integer({ min: 30, max: 36 }).map((depth) => {
    let input: J = [1];
    for (let k = 1; k < depth; k++) input = [input];
    return { entries: [['input', input] as [string, J]] };
  }),
  // more values than MAX_ELEMENTS (4096 in the fuzz apps)
  fc.integer({ min: 4090, max: 4200 }).map((n) => ({ entries: [['input', Array(n).fill(1)] as [string, J]] })),
  // shapes that are wrong, negative, fractional, huge or of too high a rank
  fc.tuple(fc.array(goodLeaf, { maxLength: 8 }), badShape).map(([v, shape]) => ({
    entries: [
      ['input', v],
      ['shape', shape],
    ] as [string, J][],
  })),
  // not an array at all
  fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => !Array.isArray(v))
    .map((v) => ({ entries: [['input', fromJs(v)]] as [string, J][] })),
  // no input
  fc.constant({ entries: [] as [string, J][] }),
);

const tensorPart: fc.Arbitrary<TensorPart> = fc.oneof(
  { weight: 3, arbitrary: wellFormedTensor },
  { weight: 1, arbitrary: malformedTensor },
);

// ---------------------------------------------------------------------------------------------------------------
// Settings as JSON

const pJson: fc.Arbitrary<J> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom<J>(0, 1, 0.5, 0.1, 0.9, -0, 1e-300, 0.9999999999) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<J>(
      -0.1,
      1.0000001,
      2,
      -1,
      1e308,
      '0.5',
      null,
      true,
      [0.5],
      { obj: [] },
      { raw: '1e400' },
    ),
  },
);

const seedJson: fc.Arbitrary<J> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 31 }) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).map((b) => String(b)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<J>(
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      -1,
      '18446744073709551615',
      '-9223372036854775808',
      '00042',
      '-0',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<J>(
      1.5,
      { raw: '1152921504606846976' },
      { raw: '1e3' },
      'abc',
      '',
      '1e3',
      '18446744073709551616',
      '-9223372036854775809',
      ' 42',
      '42\n',
      '\t7',
      '４２',
      '0x10',
      null,
      true,
      [1],
      { obj: [] },
      '123456789012345678901',
    ),
  },
);

const offsetJson: fc.Arbitrary<J> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 1000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 2 ** 29, max: 2 ** 40 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom<J>(2 ** 53 - 64, String(2 ** 53 - 1), 2 ** 28 + 1, '0', '0000000000000001') },
  {
    weight: 1,
    arbitrary: fc.constantFrom<J>(
      -1,
      1.5,
      '-1',
      '1.5',
      'x',
      '',
      ' 3',
      '9007199254740993',
      null,
      true,
      [0],
      { raw: '1e16' },
      { raw: '1e21' },
    ),
  },
);

const enumJson = <T extends J>(valid: T[], weights: number[], invalid: J[]): fc.Arbitrary<J> =>
  fc.oneof(...valid.map((v, k) => ({ weight: weights[k], arbitrary: fc.constant<J>(v) })), {
    weight: 1,
    arbitrary: fc.constantFrom<J>(...invalid),
  });

/** The API's default dtype, where a missing dtype means it. */
const DEFAULT_DTYPE = 'float32';

// Defaults are drawn more often than the rest: most requests use them.
const dtypeJson = enumJson(
  [...DTYPES],
  DTYPES.map((d) => (d === DEFAULT_DTYPE ? 4 : 1)),
  ['int8', 'float', 'FLOAT32', '', null, 32, 'float128'],
);
const modeJson = enumJson(
  [...MODES],
  MODES.map((m) => (m === DEFAULT_MODE ? 5 : 2)),
  ['TRAIN', 'test', '', null, 1],
);
const variantJson = enumJson(
  [...VARIANT_NAMES],
  VARIANT_NAMES.map((v) => (v === DEFAULT_VARIANT ? 6 : 1)),
  ['spatial', 'Standard', '', null, 0],
);
const rngJson = enumJson(
  [...RNGS],
  RNGS.map((r) => (r === DEFAULT_RNG ? 5 : 2)),
  ['mt19937', '', null],
);

/** A noise shape that fits the input's dims (some dims set to 1), or one that does not. */
function noiseJson(dims: number[] | undefined): fc.Arbitrary<J> {
  const bad = fc.oneof(
    fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 4 }),
    fc.constantFrom<J>([0], [-1], [1.5], '1,2', null, [], ['1']),
  );
  if (!dims || dims.length === 0) return bad;
  const fits = fc
    .array(fc.boolean(), { minLength: dims.length, maxLength: dims.length })
    .map((ones) => dims.map((d, k) => (ones[k] ? 1 : d)));
  return fc.oneof({ weight: 3, arbitrary: fits }, { weight: 1, arbitrary: bad });
}

const extraEntries: fc.Arbitrary<[string, J][]> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<[string, J][]>([]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('sead', 'Input', 'P', '')),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([k, v]) => [[k, fromJs(v)]] as [string, J][]),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<[string, J][]>(
      [['__proto__', { obj: [['p', 2]] }]],
      [['__proto__', 1]],
      [['constructor', { obj: [['prototype', { obj: [['x', 1]] }]] }]],
      [['p', 0.5]],
      [['p', 7]],
      [['input', [1, 2]]],
    ),
  },
);

/** The entries of a v1 JSON body: tensor, settings (each left out, valid or not), and stray keys. */
export const v1JsonEntries: fc.Arbitrary<[string, J][]> = tensorPart.chain((tensor) =>
  fc
    .record({
      dtype: opt(dtypeJson, 0.6),
      p: opt(pJson, 0.3),
      mode: opt(modeJson, 0.6),
      seed: opt(seedJson, 0.2),
      offset: opt(offsetJson, 0.6),
      variant: opt(variantJson, 0.6),
      rng: opt(rngJson, 0.7),
      noise_shape: opt(noiseJson(tensor.dims), 0.8),
      return_mask: opt(enumJson([true, false], [2, 1], ['true', 1, null]), 0.7),
      extra: extraEntries,
    })
    .map(({ extra, ...fields }) => {
      const entries: [string, J][] = [...tensor.entries];
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) entries.push([k, v]);
      return [...entries, ...extra];
    }),
);

export const v1JsonBody: fc.Arbitrary<string> = v1JsonEntries.map((entries) => jsonText({ obj: entries }));

/** Texts that are not JSON, or JSON of the wrong kind, or a request one edit away from valid. */
export const malformedJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  printable(60),
  fc.json({ maxDepth: 3 }),
  v1JsonBody.chain((text) =>
    fc.oneof(
      fc.nat(Math.max(0, text.length - 1)).map((k) => text.slice(0, k)),
      fc
        .tuple(
          fc.nat(text.length),
          fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', '\u0000', '-', 'e', '.', '0', '\uD800', '\uFEFF'),
        )
        .map(([k, c]) => text.slice(0, k) + c + text.slice(k)),
      fc.nat(Math.max(0, text.length - 1)).map((k) => text.slice(0, k) + text.slice(k + 1)),
      fc.constant(`\uFEFF${text}`),
      fc.constant(`${text} x`),
      fc.constant(`${text}${text}`),
    ),
  ),
  // nesting far past any limit, in the input or in another field (2 bytes a level: within the 64 KiB body limit)
  fc
    .tuple(
      fc.integer({ min: 33, max: 30000 }),
      fc.constantFrom('input', 'shape', 'seed', 'p', 'noise_shape', 'sead'),
      fc.constantFrom('with input', 'without input', 'input not an array', 'bare'),
    )
    .map(([depth, key, how]) => {
      const deep = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      if (how === 'bare') return deep;
      if (key === 'input') return `{"input":${deep}}`;
      const input = how === 'with input' ? '"input":[1],' : how === 'input not an array' ? '"input":1,' : '';
      return `{${input}"${key}":${deep}}`;
    }),
);

// ---------------------------------------------------------------------------------------------------------------
// Headers

/** Accept headers: those with a known meaning, and printable text that is no media range list. */
export const acceptArb: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom(...ACCEPT_VALUES) },
  { weight: 1, arbitrary: printable(24) },
);

export const jsonContentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
);

// ---------------------------------------------------------------------------------------------------------------
// Query strings

const shapeText = (dims?: number[]) =>
  fc.oneof(
    { weight: 16, arbitrary: fc.constant(dims ? dims.join(',') : '4') },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '2,x',
        '-1',
        '1.5',
        '2,,3',
        ',',
        '99999999999999999999',
        '1e3',
        ' 2',
        '2, 3',
        '2;3',
        '0',
      ),
    },
    { weight: 1, arbitrary: printable(6) },
  );

const pText = fc.oneof(
  { weight: 10, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('0', '1', '-0', '0.5', '.5', '1e-1', '0x1', ' 0.5', '5e-1 ') },
  { weight: 1, arbitrary: fc.constantFrom('-0.1', '1.5', 'abc', '', 'NaN', 'Infinity', '0,5', '1_0') },
);

const seedText = fc.oneof(
  { weight: 10, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('x', '1.5', '', '18446744073709551616', ' 7', '-9223372036854775809', '1e3', '+5'),
  },
);

const offsetText = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0, max: 1000 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(String(2 ** 53 - 64), '268435457', '0000000000000001') },
  { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', 'x', '', ' 3', '9007199254740993', '1e3') },
);

const enumText = (valid: string[], invalid: string[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });

function noiseText(dims?: number[]): fc.Arbitrary<string> {
  const bad = fc.constantFrom('1,x', '', '0', '2,2,2,2', '-1', '1.5', ' 1');
  if (!dims || dims.length === 0) return bad;
  const fits = fc
    .array(fc.boolean(), { minLength: dims.length, maxLength: dims.length })
    .map((ones) => dims.map((d, k) => (ones[k] ? 1 : d)).join(','));
  return fc.oneof({ weight: 6, arbitrary: fits }, { weight: 1, arbitrary: bad });
}

/** Settings as query pairs (each left out, valid or not), plus stray and repeated keys; `shape` optional. */
export function queryPairs(dims: number[] | undefined, options: { shape: boolean; dtype?: string }) {
  return fc
    .record({
      shape: options.shape ? opt(shapeText(dims), 0.2) : opt(shapeText(dims), 0.95),
      dtype: options.dtype
        ? opt(
            fc.oneof(
              { weight: 12, arbitrary: fc.constant(options.dtype) },
              { weight: 1, arbitrary: fc.constantFrom('int32', 'FLOAT32', '') },
            ),
            0.3,
          )
        : opt(fc.constantFrom(DEFAULT_DTYPE, 'int32'), 0.95),
      p: opt(pText, 0.2),
      mode: opt(enumText([...MODES], ['Train', '']), 0.7),
      seed: opt(seedText, 0.2),
      offset: opt(offsetText, 0.6),
      variant: opt(enumText([DEFAULT_VARIANT, ...VARIANT_NAMES], ['x']), 0.7),
      rng: opt(enumText([...RNGS], ['TORCH']), 0.7),
      noise_shape: opt(noiseText(dims), 0.85),
      extra: fc.oneof(
        { weight: 24, arbitrary: fc.constant<[string, string][]>([]) },
        { weight: 1, arbitrary: fc.tuple(printable(6), printable(6)).map(([k, v]) => [[k, v]] as [string, string][]) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<[string, string][]>(
            [['p', '0.5']],
            [['seed', '1']],
            [['__proto__', '1']],
            [['sead', '1']],
            [['Shape', '2']],
          ),
        },
      ),
    })
    .map(({ extra, ...fields }) => {
      const pairs: [string, string][] = [];
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) pairs.push([k, v]);
      return [...pairs, ...extra];
    });
}

export const encodeQuery = (pairs: [string, string][]) =>
  pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** Query text appended raw (not encoded) after a key no API knows, so the request must fail however it parses. */
export const garbageQuery = fc
  .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 })
  .filter((s) => !s.includes('#'))
  .map((s) => `zz${s}`);

// ---------------------------------------------------------------------------------------------------------------
// Binary bodies

const DTYPE_SIZE: Record<string, number> = { ...BYTES_PER_ELEMENT, int32: 4, FLOAT32: 4 };

export interface BinaryCase {
  body: Buffer;
  pairs: [string, string][];
}

const binaryDims = fc.oneof(
  { weight: 8, arbitrary: dimsArb(0, 4) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 64 })).map(([a, b]) => [a, b]),
  },
);

export const binaryCase: fc.Arbitrary<BinaryCase> = fc
  .tuple(binaryDims, fc.constantFrom(DEFAULT_DTYPE, ...DTYPES))
  .chain(([dims, dtype]) =>
    fc.record({
      pairs: queryPairs(dims, { shape: true, dtype: dtype === DEFAULT_DTYPE ? undefined : dtype }),
      body: fc.oneof(
        {
          weight: 8,
          arbitrary: fc.uint8Array({
            minLength: count(dims) * DTYPE_SIZE[dtype],
            maxLength: count(dims) * DTYPE_SIZE[dtype],
          }),
        },
        {
          weight: 4,
          arbitrary: leaves(count(dims)).map((v) =>
            encodeValues(
              dtype,
              v.map((x) => (typeof x === 'number' ? x : 1)),
            ),
          ),
        },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
        {
          weight: 1,
          arbitrary: fc
            .tuple(fc.integer({ min: -3, max: 3 }), fc.uint8Array({ minLength: 0, maxLength: 0 }))
            .map(([delta]) => new Uint8Array(Math.max(0, count(dims) * DTYPE_SIZE[dtype] + delta))),
        },
        { weight: 1, arbitrary: fc.constantFrom(4 * 4097, 4 * 4096, 2 * 4097, 65537).map((n) => new Uint8Array(n)) },
      ),
    }),
  )
  .map(({ pairs, body }) => ({ pairs, body: Buffer.from(body) }));

// ---------------------------------------------------------------------------------------------------------------
// .npy

const FIXTURES = new URL('../codec/fixtures/npy/', import.meta.url);
const fixtureIndex = JSON.parse(readFileSync(new URL('expected.json', FIXTURES), 'utf8')) as {
  positive: Record<string, unknown>;
  roundtrip: Record<string, unknown>;
};
export const NPY_FIXTURES: Array<{ name: string; bytes: Buffer }> = [
  ...Object.keys(fixtureIndex.positive),
  ...Object.keys(fixtureIndex.roundtrip),
]
  .sort()
  .map((name) => ({ name, bytes: readFileSync(new URL(name, FIXTURES)) }));

/** The element count a fixture's header claims. */
function fixtureCount(bytes: Buffer): number {
  const text = bytes.toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(text)?.[1] ?? '';
  return shape
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .reduce((a, d) => a * Number(d), 1);
}

export interface NpyCase {
  body: Buffer;
  pairs: [string, string][];
  /** The header bytes are exactly as built (the oracle's verdict is exact). */
  strict: boolean;
  how: string;
}

const npyQuery = queryPairs(undefined, { shape: false });

const descrs = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('<f2', '<f4', '<f8', '>f2', '>f4', '>f8', '=f4', '|f8', 'f4', '<e', '>d', '<f'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('<i4', '|u1', '|b1', '<c8', '<f16', '<U3', '|S4', '<i8', '<m8[s]', '<M8[D]', '?', '<f3'),
  },
  { weight: 1, arbitrary: fc.constantFrom('', 'float32', '<<f4', '<f4 ', '|O', 'O', '|V8', 'x4', '<f4[ns]') },
);

const shapeTuple = (dims: readonly (number | bigint | string)[]) =>
  dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;

/** A header dict that may lie: about descr, fortran_order, shape, keys; quoted and spaced in different ways. */
const structuredNpy: fc.Arbitrary<NpyCase> = fc
  .constantFrom(...NPY_FIXTURES)
  .chain((fixture) => {
    const n = fixtureCount(fixture.bytes);
    return fc.record({
      fixture: fc.constant(fixture),
      version: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom<[number, number]>([1, 0], [2, 0], [3, 0]) },
        { weight: 1, arbitrary: fc.constantFrom<[number, number]>([0, 0], [4, 0], [1, 1], [255, 255]) },
      ),
      descr: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: descrs }),
      fortran: fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom('False', 'True') },
        { weight: 1, arbitrary: fc.constantFrom("'False'", '0', '1', 'None', 'false') },
      ),
      shape: fc.oneof(
        { weight: 6, arbitrary: fc.constant(null) },
        // the same number of elements, another shape
        {
          weight: 3,
          arbitrary: fc.constantFrom(
            `(${n},)`,
            `(1, ${n})`,
            `(${n}, 1)`,
            `(1, 1, ${n}, 1)`,
            n === 1 ? '()' : `(${n},)`,
          ),
        },
        { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }).map((d) => shapeTuple(d)) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '(1000000000, 1000000000)',
            '(99999999999999999999,)',
            '(-1,)',
            '(2.5,)',
            '[2, 3]',
            '(3)',
            `(${Array(33).fill(1).join(', ')})`,
            '(1_0,)',
            "('2',)",
            '(0, 1000000000000)',
            `(+${n},)`,
            `(${n}L,)`,
          ),
        },
      ),
      keys: fc.oneof(
        { weight: 8, arbitrary: fc.constant('exact') },
        { weight: 1, arbitrary: fc.constantFrom('extra', 'missing', 'double-quoted', 'spaced', 'newlines') },
      ),
      lengthDelta: fc.oneof(
        { weight: 12, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -70, max: 70 }) },
      ),
      data: fc.oneof(
        { weight: 8, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
      ),
      pairs: npyQuery,
    });
  })
  .map(({ fixture, version, descr, fortran, shape, keys, lengthDelta, data, pairs }) => {
    const original = fixture.bytes.toString('latin1');
    const headerEnd = original.indexOf('}') + 1;
    const dict = original.slice(original.indexOf('{'), headerEnd);
    const dataOffset = original.indexOf('\n', headerEnd) + 1;
    const field = (name: string) => new RegExp(`'${name}': ('[^']*'|True|False|\\([^)]*\\))`).exec(dict)?.[1] ?? '';
    const q = keys === 'double-quoted' ? '"' : "'";
    const sp = keys === 'spaced' ? ' \t ' : keys === 'newlines' ? '\r\n ' : ' ';
    const entries = [
      `${q}descr${q}:${sp}${descr === null ? field('descr') : `'${descr}'`}`,
      `${q}fortran_order${q}:${sp}${fortran}`,
      `${q}shape${q}:${sp}${shape ?? field('shape')}`,
    ];
    if (keys === 'extra') entries.push("'extra': 1");
    if (keys === 'missing') entries.splice(1, 1);
    const text = `{${entries.join(`,${sp}`)}, }`;
    const bytes = data ?? fixture.bytes.subarray(dataOffset);
    return {
      body: buildNpy(version[0], version[1], text, bytes, lengthDelta),
      pairs,
      strict: true,
      how: `structured from ${fixture.name}`,
    };
  });

/** A valid fixture with bytes changed, cut short or extended. */
const mutatedNpy: fc.Arbitrary<NpyCase> = fc
  .record({
    fixture: fc.constantFrom(...NPY_FIXTURES),
    edit: fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc
        .array(fc.tuple(fc.nat(), fc.nat(255), fc.boolean()), { minLength: 1, maxLength: 4 })
        .map((flips) => ({ kind: 'flip' as const, flips })),
      fc.nat().map((at) => ({ kind: 'truncate' as const, at })),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((tail) => ({ kind: 'append' as const, tail })),
    ),
    pairs: npyQuery,
  })
  .map(({ fixture, edit, pairs }) => {
    const original = fixture.bytes;
    const dataOffset = original.indexOf(0x0a, original.indexOf(0x7b)) + 1;
    if (edit.kind === 'none') return { body: original, pairs, strict: true, how: `${fixture.name} as is` };
    if (edit.kind === 'truncate') {
      const at = edit.at % original.length;
      return { body: original.subarray(0, at), pairs, strict: true, how: `${fixture.name} cut at ${at}` };
    }
    if (edit.kind === 'append') {
      return { body: Buffer.concat([original, edit.tail]), pairs, strict: true, how: `${fixture.name} + bytes` };
    }
    const body = Buffer.from(original);
    let headerTouched = false;
    for (const [pos, byte, inHeader] of edit.flips) {
      const at = inHeader ? pos % dataOffset : pos % body.length;
      if (at < dataOffset) headerTouched = true;
      body[at] = byte;
    }
    return { body, pairs, strict: !headerTouched, how: `${fixture.name} with bytes changed` };
  });

export const npyCase: fc.Arbitrary<NpyCase> = fc.oneof(structuredNpy, mutatedNpy);

// ---------------------------------------------------------------------------------------------------------------
// /v2 inference requests

const V2_DTYPE: Record<string, string> = V2_DATATYPES;
/** float32's datatype, drawn more often than the others, as float32 is elsewhere. */
const V2_FLOAT32 = 'FP32';

export interface V2Case {
  body: Buffer;
  headers: Record<string, string>;
  url: string;
  version?: string;
  how: string;
}

const v2Parameters: fc.Arbitrary<J | undefined> = opt(
  fc
    .record({
      p: opt(pJson, 0.3),
      seed: opt(seedJson, 0.3),
      mode: opt(modeJson, 0.7),
      offset: opt(offsetJson, 0.7),
      variant: opt(variantJson, 0.7),
      rng: opt(rngJson, 0.8),
      noise_shape: opt(fc.constantFrom<J>('1,1', [1], [2, 1], 'x', [0], { obj: [] }), 0.9),
      binary_data_output: opt(enumJson([true, false], [1, 1], ['yes', null]), 0.6),
      other: opt(fc.constantFrom<J>('x', 1, true, [1, 2], null, { obj: [] }, [1.5]), 0.9),
    })
    .map((r) => ({ obj: Object.entries(r).filter(([, v]) => v !== undefined) as [string, J][] })),
  0.2,
);

const v2Outputs: fc.Arbitrary<J | undefined> = opt(
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .array(
          fc.record({
            name: fc.oneof(
              { weight: 16, arbitrary: fc.constantFrom<J>('output', 'mask') },
              { weight: 1, arbitrary: fc.constantFrom<J>('out', 1, null) },
            ),
            binary: opt(enumJson([true, false], [1, 1], ['true', 1]), 0.4),
          }),
          { maxLength: 3 },
        )
        .map((os) =>
          os.map(({ name, binary }) => ({
            obj: [
              ['name', name],
              ...(binary === undefined ? [] : [['parameters', { obj: [['binary_data', binary]] }]]),
            ] as [string, J][],
          })),
        ),
    },
    { weight: 1, arbitrary: fc.constantFrom<J>('output', { obj: [] }, [1]) },
  ),
  0.5,
);

export const v2Case: fc.Arbitrary<V2Case> = fc
  .record({
    dims: fc.oneof(
      { weight: 8, arbitrary: dimsArb(1, 3, 4, 32) },
      { weight: 1, arbitrary: fc.integer({ min: 65, max: 2000 }).map((n) => [n]) },
    ),
    datatype: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(V2_FLOAT32, ...Object.keys(V2_DATATYPES)) },
      { weight: 1, arbitrary: fc.constantFrom('INT8', 'fp32', 'BOOL', '') },
    ),
    binary: fc.boolean(),
    how: fc.oneof(
      { weight: 16, arbitrary: fc.constant('good') },
      { weight: 1, arbitrary: fc.constantFrom('ragged', 'nonnumeric', 'shape', 'size', 'name', 'inputs') },
    ),
    id: opt(
      fc.oneof(
        { weight: 6, arbitrary: fc.string({ maxLength: 8 }) },
        { weight: 1, arbitrary: fc.constantFrom<J>(7, null) },
      ),
      0.5,
    ),
    parameters: v2Parameters,
    outputs: v2Outputs,
    headerLength: fc.oneof(
      { weight: 10, arbitrary: fc.constant('exact') },
      { weight: 1, arbitrary: fc.constantFrom('omit', '+1', '-1', 'abc', '-5', ' 5', '1e2', '99999999') },
    ),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(undefined, 'application/json', 'application/octet-stream') },
      {
        weight: 1,
        arbitrary: fc.constantFrom('text/plain', 'application/x-npy', 'multipart/form-data', 'APPLICATION/JSON'),
      },
    ),
    version: fc.oneof(
      { weight: 12, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: fc.constant('1') },
      { weight: 1, arbitrary: fc.constantFrom('2', 'x', '01', '%20') },
    ),
    corrupt: fc.oneof(
      { weight: 10, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.constantFrom('', '{', '}', '"', ',', '\u0000', 'x')) },
    ),
    extraBytes: fc.oneof(
      { weight: 10, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 9 }) },
    ),
  })
  .chain((c) => {
    const dtype = V2_DTYPE[c.datatype] ?? DEFAULT_DTYPE;
    const n = count(c.dims);
    return fc
      .tuple(leaves(n), fc.uint8Array({ minLength: n * DTYPE_SIZE[dtype], maxLength: n * DTYPE_SIZE[dtype] }), badLeaf)
      .map(([values, raw, bad]) => ({ ...c, values, raw, bad, dtype }));
  })
  .map((c) => {
    const input: [string, J][] = [
      ['name', c.how === 'name' ? 'x' : 'input'],
      ['shape', c.how === 'shape' ? [...c.dims, 2] : c.dims],
      ['datatype', c.datatype],
    ];
    let binary = Buffer.alloc(0);
    if (c.binary) {
      binary = Buffer.from(c.raw);
      const size = c.how === 'size' ? binary.length + 1 : binary.length;
      input.push(['parameters', { obj: [['binary_data_size', size]] }]);
    } else {
      let data: J = c.dims.length > 1 && c.values.length > 0 ? nest(c.dims, c.values) : c.values;
      if (c.how === 'nonnumeric' && c.values.length > 0) data = [...c.values.slice(1), c.bad];
      if (c.how === 'ragged' && Array.isArray(data) && data.length > 0) data = [...data, [1]];
      input.push(['data', data]);
    }
    const entries: [string, J][] = [];
    if (c.id !== undefined) entries.push(['id', c.id]);
    if (c.parameters !== undefined) entries.push(['parameters', c.parameters]);
    const inputObj: J = { obj: input };
    entries.push(['inputs', c.how === 'inputs' ? [inputObj, inputObj] : [inputObj]]);
    if (c.outputs !== undefined) entries.push(['outputs', c.outputs]);
    let header = jsonText({ obj: entries });
    if (c.corrupt) {
      const at = c.corrupt[0] % (header.length + 1);
      header = header.slice(0, at) + c.corrupt[1] + header.slice(at + (c.corrupt[1] === '' ? 1 : 0));
    }
    const headerBytes = Buffer.from(header, 'utf8');
    const body = Buffer.concat([headerBytes, binary, Buffer.alloc(c.extraBytes)]);
    const headers: Record<string, string> = {};
    if (c.contentType) headers['content-type'] = c.contentType;
    const len = headerBytes.length;
    const ihcl: Record<string, string | undefined> = {
      exact: c.binary || c.extraBytes ? String(len) : undefined,
      omit: undefined,
      '+1': String(len + 1),
      '-1': String(len - 1),
    };
    const h = c.headerLength in ihcl ? ihcl[c.headerLength] : c.headerLength;
    if (h !== undefined) headers['inference-header-content-length'] = h;
    const url = c.version === undefined ? '/v2/models/dropout/infer' : `/v2/models/dropout/versions/${c.version}/infer`;
    return {
      body,
      headers,
      url,
      version: c.version === undefined ? undefined : decodeURIComponent(c.version),
      how: c.how,
    };
  });

// ---------------------------------------------------------------------------------------------------------------
// Content-Type, Content-Encoding, Accept-Encoding

export interface EncodingCase {
  contentEncoding?: string;
  compress: 'none' | 'gzip' | 'deflate' | 'bomb';
  acceptEncoding?: string;
}

export const encodingArb: fc.Arbitrary<EncodingCase> = fc
  .oneof(
    { weight: 4, arbitrary: fc.constant<EncodingCase>({ compress: 'none' }) },
    {
      weight: 4,
      arbitrary: fc.constantFrom('gzip', 'deflate').map((ce): EncodingCase => ({ contentEncoding: ce, compress: ce })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        contentEncoding: fc.oneof(
          fc.constantFrom(undefined, 'gzip', 'deflate', 'identity', 'br', 'x-foo', 'gzip, deflate', 'GZIP', ''),
          printable(10),
        ),
        compress: fc.constantFrom<EncodingCase['compress']>('none', 'gzip', 'deflate', 'bomb'),
      }),
    },
  )
  .chain((e) =>
    fc
      .constantFrom(undefined, undefined, 'gzip', 'deflate', 'br', '*', 'identity', 'gzip;q=0')
      .map((acceptEncoding): EncodingCase => ({ ...e, acceptEncoding })),
  );

export function applyEncoding(body: Buffer, e: EncodingCase): Buffer {
  if (e.compress === 'gzip') return gzipSync(body);
  if (e.compress === 'deflate') return deflateSync(body);
  if (e.compress === 'bomb') return gzipSync(Buffer.concat([body, Buffer.alloc(1 << 20, 0x20)]));
  return body;
}

export const contentTypeArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/octet-stream',
      'application/x-npy',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'Application/Octet-Stream',
      'application/octet-stream; foo',
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      '',
      'application/json, text/plain',
      'application/*',
      '*/*',
      'application/x-www-form-urlencoded',
      'application/jsonx',
    ),
  },
  { weight: 1, arbitrary: printable(20) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
