import { readFileSync } from 'node:fs';
import t from 'tap';
import { decodeNpy, encodeNpyParts, NPY_BFLOAT16_DETAIL, npyHeader } from '../../src/codec/npy.js';
import { ProblemError } from '../../src/errors.js';
import { BYTES_PER_ELEMENT, type Dtype, type TensorData, viewOf } from '../../src/kernel/dtype.js';
import { decoderFor, encodeNpy } from '../tensors.js';

const DIR = new URL('./fixtures/npy/', import.meta.url);
const LIMITS = { maxElements: 1_000_000, maxRank: 8 };

interface Entry {
  shape: number[];
  dtype: 'float16' | 'float32' | 'float64';
  bits: string[];
  f64: string[];
  version: number[];
  fortran_order?: boolean;
  byteorder?: string;
}
const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as {
  positive: Record<string, Entry>;
  roundtrip: Record<string, Entry>;
  negative: Record<string, string>;
};

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, DIR)));

/** The same bytes in a SharedArrayBuffer at `offset`, as the service's body parser hands them over. */
function shared(bytes: Uint8Array, offset = 0): Uint8Array {
  const sab = new SharedArrayBuffer(bytes.length + offset);
  const view = new Uint8Array(sab, offset, bytes.length);
  view.set(bytes);
  return view;
}

/** Each element's bit pattern as hex (4, 8 or 16 digits). */
function bitsOf(dtype: Dtype, data: TensorData): string[] {
  const size = BYTES_PER_ELEMENT[dtype];
  const words =
    size === 2
      ? new Uint16Array(data.buffer, data.byteOffset, data.length)
      : size === 4
        ? new Uint32Array(data.buffer, data.byteOffset, data.length)
        : new BigUint64Array(data.buffer, data.byteOffset, data.length);
  return Array.from(words, (w: number | bigint) => w.toString(16).padStart(2 * size, '0'));
}

function f64Bits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}

/** A tensor whose elements have these bit patterns. */
function tensorFromBits(entry: Entry): { shape: number[]; dtype: Dtype; data: TensorData } {
  const size = BYTES_PER_ELEMENT[entry.dtype];
  const bytes = new Uint8Array(new SharedArrayBuffer(entry.bits.length * size));
  const view = new DataView(bytes.buffer);
  entry.bits.forEach((hex, i) => {
    if (size === 2) view.setUint16(i * 2, Number.parseInt(hex, 16), true);
    else if (size === 4) view.setUint32(i * 4, Number.parseInt(hex, 16), true);
    else view.setBigUint64(i * 8, BigInt(`0x${hex}`), true);
  });
  return { shape: entry.shape, dtype: entry.dtype, data: viewOf(entry.dtype, bytes.buffer, 0, entry.bits.length) };
}

/** A .npy file with a hand-written header (padded to 64 like NumPy unless `align` is false) and data. */
function makeNpy(header: string, data: Uint8Array = new Uint8Array(0), major = 1, align = true): Uint8Array {
  const text = new TextEncoder().encode(header);
  const prefix = major === 1 ? 10 : 12;
  const pad = align ? 64 - ((prefix + text.length + 1) % 64) : 0;
  const headerLength = text.length + pad + 1;
  const out = new Uint8Array(prefix + headerLength + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  out.set(text, prefix);
  out.fill(0x20, prefix + text.length, prefix + headerLength - 1);
  out[prefix + headerLength - 1] = 0x0a;
  out.set(data, prefix + headerLength);
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.code;
    throw error;
  }
  return 'no error';
}

function detailOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.detail;
    throw error;
  }
  return '';
}

t.test('every positive fixture decodes to the shape, dtype and values NumPy wrote', async (t) => {
  const names = Object.keys(expected.positive);
  t.ok(names.length >= 46, 'fixtures present');
  for (const name of names) {
    const entry = expected.positive[name];
    for (const [how, bytes] of [
      ['Buffer', fixture(name)],
      ['shared', shared(fixture(name))],
      ['shared, odd offset', shared(fixture(name), 3)],
    ] as const) {
      const tensor = decodeNpy(bytes, LIMITS);
      t.same(tensor.shape, entry.shape, `${name} (${how}) shape`);
      t.equal(tensor.dtype, entry.dtype, `${name} (${how}) dtype`);
      t.ok(tensor.data.buffer instanceof SharedArrayBuffer, `${name} (${how}) is in shared memory`);
      t.same(bitsOf(tensor.dtype, tensor.data), entry.bits, `${name} (${how}) bits`);
      const decode = decoderFor(tensor.dtype);
      const values = Array.from(tensor.data as ArrayLike<number>, (x) => decode(x));
      t.same(
        values.map((v) => (Number.isNaN(v) ? 'nan' : f64Bits(v))),
        entry.f64.map((h) => (h.startsWith('7ff8') || h.startsWith('fff8') ? 'nan' : h)),
        `${name} (${how}) values`,
      );
    }
  }
});

t.test('little-endian C-order data in shared memory is used in place; anything else is copied', async (t) => {
  const le = shared(fixture('v1_f4_le_C.npy'));
  const inPlace = decodeNpy(le, LIMITS);
  t.equal(inPlace.data.buffer, le.buffer, 'same SharedArrayBuffer');
  t.equal(inPlace.data.byteOffset, 128);

  const plain = fixture('v1_f4_le_C.npy');
  t.not(decodeNpy(plain, LIMITS).data.buffer, plain.buffer, 'an ArrayBuffer body is copied into shared memory');

  const odd = shared(fixture('v1_f8_le_C.npy'), 4);
  const copied = decodeNpy(odd, LIMITS);
  t.not(copied.data.buffer, odd.buffer, 'misaligned data is copied');
  t.equal(copied.data.byteOffset, 0);

  const be = shared(fixture('v1_f4_be_C.npy'));
  t.not(decodeNpy(be, LIMITS).data.buffer, be.buffer, 'big-endian data is swapped into a new buffer');
  const f = shared(fixture('v1_f4_le_F.npy'));
  t.not(decodeNpy(f, LIMITS).data.buffer, f.buffer, 'Fortran-order data is transposed into a new buffer');
});

t.test('encode → decode round trip for every dtype, 0-d and empty included', async (t) => {
  const shapes = [[], [0], [3], [2, 3], [2, 0, 3], [2, 3, 4], [1, 1, 1, 5]];
  for (const dtype of ['float16', 'float32', 'float64'] as const) {
    for (const shape of shapes) {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = viewOf(dtype, new SharedArrayBuffer(count * BYTES_PER_ELEMENT[dtype]), 0, count);
      for (let i = 0; i < count; i++) data[i] = dtype === 'float16' ? (i * 0x1234 + 0x3c00) & 0xffff : i / 7 - 1;
      const encoded = encodeNpy({ shape, dtype, data });
      const headerLength = encoded[8] | (encoded[9] << 8);
      t.equal((10 + headerLength) % 64, 0, `[${shape}] ${dtype}: data starts at a multiple of 64`);
      t.equal(encoded[10 + headerLength - 1], 0x0a, 'header ends in a newline');
      const back = decodeNpy(shared(encoded), LIMITS);
      t.same(back.shape, shape, `[${shape}] ${dtype} shape`);
      t.equal(back.dtype, dtype);
      t.same(bitsOf(dtype, back.data), bitsOf(dtype, data), `[${shape}] ${dtype} values`);
    }
  }
});

t.test("encodeNpyParts writes np.save's bytes exactly", async (t) => {
  const names = Object.keys(expected.roundtrip);
  t.ok(names.length >= 10, 'fixtures present');
  for (const name of names) {
    const tensor = tensorFromBits(expected.roundtrip[name]);
    t.same(Buffer.from(encodeNpy(tensor)), Buffer.from(fixture(name)), name);
    const { header, body } = encodeNpyParts(tensor);
    t.equal(body.buffer, tensor.data.buffer, `${name}: the body is a view of the tensor, not a copy`);
    t.same(Buffer.concat([header, body]), Buffer.from(fixture(name)), `${name} in parts`);
  }
});

t.test('bfloat16 has no .npy dtype: 415 with a clear message', async (t) => {
  const data = new Uint16Array(new SharedArrayBuffer(4));
  t.equal(
    codeOf(() => encodeNpy({ shape: [2], dtype: 'bfloat16', data })),
    'UNSUPPORTED_DTYPE',
  );
  t.equal(
    detailOf(() => npyHeader([2], 'bfloat16')),
    NPY_BFLOAT16_DETAIL,
  );
  t.match(NPY_BFLOAT16_DETAIL, /bfloat16 has no NumPy dtype; use application\/octet-stream or JSON/);
});

t.test('a header over 65535 bytes is written as version 2.0', async (t) => {
  const shape = new Array<number>(22000).fill(1);
  const data = new Float32Array(new SharedArrayBuffer(4));
  data[0] = 2.5;
  const encoded = encodeNpy({ shape, dtype: 'float32', data });
  t.equal(encoded[6], 2);
  const headerLength = new DataView(encoded.buffer).getUint32(8, true);
  t.ok(headerLength > 0xffff);
  t.equal((12 + headerLength) % 64, 0);
  const back = decodeNpy(encoded, { maxElements: 10, maxRank: 30000 });
  t.equal(back.shape.length, 22000);
  t.equal(back.data[0], 2.5);
});

t.test('every negative fixture gives the right problem code', async (t) => {
  const names = Object.keys(expected.negative);
  t.ok(names.length >= 15, 'fixtures present');
  for (const name of names) {
    t.equal(
      codeOf(() => decodeNpy(fixture(name), LIMITS)),
      expected.negative[name],
      `${name}: ${detailOf(() => decodeNpy(fixture(name), LIMITS))}`,
    );
  }
  t.match(
    detailOf(() => decodeNpy(fixture('bad_int32.npy'), LIMITS)),
    /'<i4'.*float16.*float32.*float64/,
  );
  t.match(
    detailOf(() => decodeNpy(fixture('bad_object.npy'), LIMITS)),
    /object array/,
  );
  t.match(
    detailOf(() => decodeNpy(fixture('bad_structured.npy'), LIMITS)),
    /structured/,
  );
  t.match(
    detailOf(() => decodeNpy(fixture('bad_truncated_data.npy'), LIMITS)),
    /truncated/,
  );
  t.match(
    detailOf(() => decodeNpy(fixture('bad_extra_bytes.npy'), LIMITS)),
    /extra bytes/,
  );
  t.match(
    detailOf(() => decodeNpy(fixture('bad_lying_shape.npy'), LIMITS)),
    /shape \(3, 3\).*36 bytes.*24/,
  );
});

t.test('a header claiming (1000000000, 1000000000) in a 100-byte file: TOO_LARGE, nothing allocated', async (t) => {
  const header = makeNpy(
    "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000)}",
    undefined,
    1,
    false,
  );
  const bytes = new Uint8Array(100);
  bytes.set(header);
  t.ok(header.length < 100, 'the whole header is in the file');
  const Original = globalThis.SharedArrayBuffer;
  let allocated = 0;
  globalThis.SharedArrayBuffer = class extends Original {
    constructor(length?: number) {
      allocated += length ?? 0;
      super(length);
    }
  } as SharedArrayBufferConstructor;
  try {
    t.equal(
      codeOf(() => decodeNpy(bytes, LIMITS)),
      'TOO_LARGE',
    );
    t.equal(
      codeOf(() => decodeNpy(fixture('bad_huge_shape.npy'), LIMITS)),
      'TOO_LARGE',
    );
    const beyond = makeNpy("{'descr': '<f8', 'fortran_order': True, 'shape': (99999999999999999999, 2), }");
    t.equal(
      codeOf(() => decodeNpy(beyond, LIMITS)),
      'TOO_LARGE',
      'a dim past 2^53',
    );
  } finally {
    globalThis.SharedArrayBuffer = Original;
  }
  t.equal(allocated, 0, 'no SharedArrayBuffer was allocated');
  t.equal(
    codeOf(() =>
      decodeNpy(makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }"), LIMITS),
    ),
    'BAD_SHAPE',
    'rank over maxRank',
  );
});

t.test('hand-written headers: the strict literal reader', async (t) => {
  const f4 = (values: number[], little = true) => {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (const [i, v] of values.entries()) view.setFloat32(i * 4, v, little);
    return out;
  };
  const ok: [string, string, Uint8Array, number[], number[]][] = [
    [
      'double quotes, no trailing comma',
      `{"descr": "<f4", "shape": (2,), "fortran_order": False}`,
      f4([1, 2]),
      [2],
      [1, 2],
    ],
    ['native order =', "{'descr': '=f4', 'fortran_order': False, 'shape': (1,)}", f4([3]), [1], [3]],
    ['not-applicable order |', "{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", f4([3]), [1], [3]],
    ['no byte order', "{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}", f4([3]), [1], [3]],
    ['char code f', "{'descr': '<f', 'fortran_order': False, 'shape': ()}", f4([5]), [], [5]],
    [
      'newlines and tabs',
      "{\n\t'descr' : '>f4' ,\n'fortran_order':True,'shape':( 2 , 2 , ) }",
      f4([1, 2, 3, 4], false),
      [2, 2],
      [1, 3, 2, 4],
    ],
    ['Python 2 long', "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", f4([1, 2]), [2], [1, 2]],
    [
      'digit separators',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1_0,), }",
      f4([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      [10],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    ],
    ['a parenthesised value', "{'descr': ('<f4'), 'fortran_order': (False), 'shape': ((1),)}", f4([7]), [1], [7]],
  ];
  for (const [what, header, data, shape, values] of ok) {
    const tensor = decodeNpy(makeNpy(header, data), LIMITS);
    t.same(tensor.shape, shape, `${what}: shape`);
    t.same(Array.from(tensor.data), values, `${what}: values`);
  }
  t.same(
    Array.from(
      decodeNpy(makeNpy("{'descr': '<e', 'fortran_order': False, 'shape': (1,)}", new Uint8Array([0, 0x3c])), LIMITS)
        .data,
    ),
    [0x3c00],
  );

  const refused: [string, string, string][] = [
    ['a call', "{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (1,)}", 'BAD_NPY'],
    ['an expression', "{'descr': '<f4', 'fortran_order': False, 'shape': (1+1,)}", 'BAD_NPY'],
    ['not a dict', "['<f4', False, (1,)]", 'BAD_NPY'],
    ['a missing key', "{'descr': '<f4', 'shape': (1,)}", 'BAD_NPY'],
    ['an extra key', "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 'BAD_NPY'],
    ['a repeated key', "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", 'BAD_NPY'],
    ['fortran_order 0', "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 'BAD_NPY'],
    ['shape a list', "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 'BAD_NPY'],
    ['shape an int', "{'descr': '<f4', 'fortran_order': False, 'shape': 1}", 'BAD_NPY'],
    ['a float dim', "{'descr': '<f4', 'fortran_order': False, 'shape': (1.0,)}", 'BAD_NPY'],
    ['a negative dim', "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 'BAD_NPY'],
    ['a leading zero', "{'descr': '<f4', 'fortran_order': False, 'shape': (01,)}", 'BAD_NPY'],
    ['a hex dim', "{'descr': '<f4', 'fortran_order': False, 'shape': (0x1,)}", 'BAD_NPY'],
    ['an unterminated string', "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 'BAD_NPY'],
    ['trailing garbage', "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 'BAD_NPY'],
    [
      'deep nesting',
      `{'descr': ${'('.repeat(5000)}${')'.repeat(5000)}, 'fortran_order': False, 'shape': (1,)}`,
      'BAD_NPY',
    ],
    ['not a dtype', "{'descr': 'float32', 'fortran_order': False, 'shape': (1,)}", 'BAD_NPY'],
    ['a sub-array dtype', "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (1,)}", 'BAD_NPY'],
    ['a void dtype', "{'descr': '|V4', 'fortran_order': False, 'shape': (1,)}", 'BAD_NPY'],
    ['a 16-byte float', "{'descr': '<f16', 'fortran_order': False, 'shape': (1,)}", 'UNSUPPORTED_DTYPE'],
    ['a datetime', "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,)}", 'UNSUPPORTED_DTYPE'],
    ['int64', "{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}", 'UNSUPPORTED_DTYPE'],
  ];
  for (const [what, header, code] of refused) {
    t.equal(
      codeOf(() => decodeNpy(makeNpy(header, f4([1])), LIMITS)),
      code,
      what,
    );
  }
  const v3 = makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'é': 1}", f4([1]), 3);
  t.match(
    detailOf(() => decodeNpy(v3, LIMITS)),
    /'é'/,
    'a 3.0 header is utf-8',
  );
  const badUtf8 = makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", f4([1]), 3);
  badUtf8[14] = 0xff;
  t.match(
    detailOf(() => decodeNpy(badUtf8, LIMITS)),
    /utf-8/,
  );
  t.equal(
    codeOf(() => decodeNpy(new Uint8Array([0x93, 0x4e, 0x55]), LIMITS)),
    'BAD_NPY',
    'three bytes',
  );
  t.equal(
    codeOf(() => decodeNpy(new Uint8Array(0), LIMITS)),
    'BAD_NPY',
    'empty body',
  );
  t.equal(
    codeOf(() => decodeNpy(new TextEncoder().encode('{"input": [1]}'), LIMITS)),
    'BAD_NPY',
    'JSON',
  );
});
