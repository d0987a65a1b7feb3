/**
 * NumPy `.npy` files (docs/semantics.md §2 application/x-npy), read and written without NumPy.
 *
 * Format (numpy/lib/format.py): the magic `\x93NUMPY`, a major and a minor version byte, the header length
 * (u16 little-endian for 1.0, u32 for 2.0 and 3.0), then the header: a Python dict literal such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a final '\n' (latin-1 in
 * 1.0/2.0, utf-8 in 3.0), then the raw values. The header is parsed here by a small strict tokenizer for the
 * few Python literals it can hold; nothing is ever evaluated.
 *
 * Decoding checks the claimed shape against the limits before allocating anything proportional to it, then that
 * the data is exactly shape product × item size, and produces a Tensor in host (little-endian) C order in shared
 * memory: big-endian values are byte-swapped and Fortran-order arrays transposed. Encoding writes what `np.save`
 * writes for a C-contiguous little-endian array, byte for byte (version 1.0, 2.0 if the header outgrows 65535 bytes).
 */

import { checkShape, elementCount } from '../dropout/shape.js';
import type { Tensor } from '../dropout/tensor.js';
import { clip, ProblemError, quote } from '../errors.js';
import { BYTES_PER_ELEMENT, type Dtype, type TensorData, viewOf } from '../kernel/dtype.js';

/** The dtypes that have a NumPy equivalent; bfloat16 has none. */
export type NpyDtype = Exclude<Dtype, 'bfloat16'>;

/** The detail of the 415 for a bfloat16 tensor asked for as `.npy`. */
export const NPY_BFLOAT16_DETAIL = 'bfloat16 has no NumPy dtype; use application/octet-stream or JSON';

export function isNpyDtype(dtype: Dtype): dtype is NpyDtype {
  return dtype !== 'bfloat16';
}

/** Throws UNSUPPORTED_DTYPE (415) with NPY_BFLOAT16_DETAIL for bfloat16. */
export function assertNpyDtype(dtype: Dtype): asserts dtype is NpyDtype {
  if (!isNpyDtype(dtype)) throw new ProblemError('UNSUPPORTED_DTYPE', NPY_BFLOAT16_DETAIL);
}

export interface NpyLimits {
  maxElements: number;
  maxRank: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
/** numpy/lib/format.py GROWTH_AXIS_MAX_DIGITS: spare spaces so the growth axis can be rewritten in place. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const MAX_NESTING = 16;
/**
 * Longest header read, as np.load's max_header_size (10000) unless the rank limit needs more (about 24 bytes a
 * dim): reading a literal costs time in its size, and a 200-megabyte integer would take minutes to convert.
 */
const MIN_MAX_HEADER_BYTES = 10_000;
const HEADER_BYTES_PER_DIM = 24;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const WRITE_WITH = "write it with np.save(f, a.astype(np.float32)) (or float16/float64: '<f2', '<f4', '<f8')";

function bad(detail: string): never {
  throw new ProblemError('BAD_NPY', detail);
}

// ---------------------------------------------------------------------------------------------------------------
// The header: a strict reader for the Python literals a .npy header may contain.

type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'bool'; value: boolean }
  | { kind: 'none' }
  | { kind: 'tuple'; items: PyValue[] }
  | { kind: 'list'; items: PyValue[] }
  | { kind: 'dict'; entries: [PyValue, PyValue][] };

const WHITESPACE = new Set([' ', '\t', '\n', '\r', '\f']);
const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '0': '\0' };
/** A decimal integer as Python writes it: optional sign, no leading zeros, `_` between digits (sticky). */
const INTEGER = /([-+]?)[ \t]*(0(?:_?0)*|[1-9](?:_?[0-9])*)(?![0-9_.eExXoObBjJ])/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

class HeaderParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    /** Versions 1.0 and 2.0 may come from Python 2, whose longs end in `L` (NumPy filters them out). */
    private readonly allowLongSuffix: boolean,
  ) {}

  parse(): PyValue {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail(`unexpected ${this.describeHere()} after the dict`);
    return value;
  }

  private fail(what: string): never {
    bad(`the .npy header is not a valid literal dict: ${what} at character ${this.pos}; ${WRITE_WITH}`);
  }

  private describeHere(): string {
    return this.pos >= this.text.length ? 'end of header' : JSON.stringify(this.text.slice(this.pos, this.pos + 12));
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && WHITESPACE.has(this.text[this.pos])) this.pos++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.fail(`nesting deeper than ${MAX_NESTING}`);
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.dict(depth);
    if (c === '[') return { kind: 'list', items: this.sequence(']', depth) };
    if (c === '(') return this.parenthesised(depth);
    if (c === "'" || c === '"') return this.string();
    if (c !== undefined && /[-+0-9]/.test(c)) return this.integer();
    if (c !== undefined && /[A-Za-z_]/.test(c)) return this.name();
    this.fail(`expected a value, found ${this.describeHere()}`);
  }

  /** Items up to `close`, comma-separated, a trailing comma allowed; the opening bracket is at pos. */
  private sequence(close: string, depth: number): PyValue[] {
    this.pos++;
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) {
        this.pos++;
        return items;
      }
      items.push(this.value(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(`expected ',' or '${close}', found ${this.describeHere()}`);
    }
  }

  /** `()`, `(x,)`, `(x, y)` are tuples; `(x)` is x. */
  private parenthesised(depth: number): PyValue {
    const start = this.pos;
    this.pos++;
    this.skipSpace();
    if (this.text[this.pos] !== ')') {
      const first = this.value(depth + 1);
      this.skipSpace();
      if (this.text[this.pos] === ')') {
        this.pos++;
        return first;
      }
    }
    this.pos = start;
    return { kind: 'tuple', items: this.sequence(')', depth) };
  }

  private dict(depth: number): PyValue {
    this.pos++;
    const entries: [PyValue, PyValue][] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return { kind: 'dict', entries };
      }
      const key = this.value(depth + 1);
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after a dict key, found ${this.describeHere()}`);
      this.pos++;
      entries.push([key, this.value(depth + 1)]);
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail(`expected ',' or '}', found ${this.describeHere()}`);
    }
  }

  private string(): PyValue {
    const quote = this.text[this.pos++];
    let value = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined || c === '\n') this.fail('unterminated string');
      if (c === quote) return { kind: 'str', value };
      if (c === '\\') {
        const escaped = ESCAPES[this.text[this.pos++]];
        if (escaped === undefined) this.fail('unsupported escape in a string');
        value += escaped;
      } else {
        value += c;
      }
    }
  }

  private integer(): PyValue {
    INTEGER.lastIndex = this.pos;
    const match = INTEGER.exec(this.text);
    if (!match) this.fail(`expected a decimal integer, found ${this.describeHere()}`);
    this.pos += match[0].length;
    if (this.allowLongSuffix && this.text[this.pos] === 'L') this.pos++;
    const magnitude = BigInt(match[2].replaceAll('_', ''));
    return { kind: 'int', value: match[1] === '-' ? -magnitude : magnitude };
  }

  private name(): PyValue {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.text)!;
    this.pos += match[0].length;
    if (match[0] === 'True' || match[0] === 'False') return { kind: 'bool', value: match[0] === 'True' };
    if (match[0] === 'None') return { kind: 'none' };
    this.pos -= match[0].length;
    this.fail(`unexpected name ${quote(match[0])} (the header is read as data, never evaluated)`);
  }
}

/** A header value as Python writes it, cut to a short prefix: details quote what the client sent, not all of it. */
function pyRepr(v: PyValue): string {
  return clip(pyReprWhole(v));
}

function pyReprWhole(v: PyValue): string {
  switch (v.kind) {
    case 'str':
      return `'${v.value}'`;
    case 'int':
      return String(v.value);
    case 'bool':
      return v.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'tuple':
      return v.items.length === 1 ? `(${pyReprWhole(v.items[0])},)` : `(${v.items.map(pyReprWhole).join(', ')})`;
    case 'list':
      return `[${v.items.map(pyReprWhole).join(', ')}]`;
    case 'dict':
      return `{${v.entries.map(([k, x]) => `${pyReprWhole(k)}: ${pyReprWhole(x)}`).join(', ')}}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// descr → dtype

const SUPPORTED_LIST = "float16 ('<f2'), float32 ('<f4') or float64 ('<f8'), little- or big-endian";

/** What a NumPy kind character is, for messages about dtypes the service does not take. */
const OTHER_KINDS: Record<string, string> = {
  i: 'a signed integer type',
  u: 'an unsigned integer type',
  b: 'a boolean or int8 type',
  '?': 'a boolean type',
  c: 'a complex type',
  m: 'a timedelta type',
  M: 'a datetime type',
  U: 'a unicode string type',
  S: 'a byte string type',
  a: 'a byte string type',
  h: 'an integer type',
  H: 'an integer type',
  l: 'an integer type',
  L: 'an integer type',
  q: 'an integer type',
  Q: 'an integer type',
  I: 'an integer type',
  B: 'an integer type',
  p: 'an integer type',
  P: 'an integer type',
  F: 'a complex type',
  D: 'a complex type',
  G: 'a complex type',
  g: 'an extended-precision float type',
};

/** The element type and byte order a descr string names (`<f4`, `>f8`, `=f2`, `|f4`, `f8`, `<e`, ...). */
function parseDescr(descr: PyValue): { dtype: NpyDtype; littleEndian: boolean } {
  if (descr.kind === 'list') {
    bad(`descr ${pyRepr(descr)} is a structured (record) dtype; send a plain float array (${SUPPORTED_LIST})`);
  }
  if (descr.kind === 'tuple') {
    bad(`descr ${pyRepr(descr)} is a sub-array dtype; send a plain float array (${SUPPORTED_LIST})`);
  }
  if (descr.kind !== 'str') bad(`descr ${pyRepr(descr)} is not a dtype string such as '<f4'; ${WRITE_WITH}`);
  const text = descr.value;
  const match = /^([<>=|]?)([A-Za-z?])(\d*)(\[[A-Za-z0-9]+\])?$/.exec(text);
  if (!match) bad(`descr '${clip(text)}' is not a NumPy dtype string such as '<f4'; ${WRITE_WITH}`);
  const [, order, kind, digits, unit] = match;
  // '=' is the writer's native order and '|' "not applicable"; NumPy reads both as its own native order, as here.
  const littleEndian = order === '<' || (order !== '>' && HOST_LITTLE_ENDIAN);
  if (kind === 'O') {
    bad(
      `descr '${text}' is an object array (pickled Python objects), which the service never loads; ` +
        `convert it to floats first: ${WRITE_WITH}`,
    );
  }
  if (kind === 'V') bad(`descr '${text}' is a raw or structured (void) dtype; ${WRITE_WITH}`);
  let dtype: NpyDtype | undefined;
  if (unit === undefined) {
    if (kind === 'f' && digits === '2') dtype = 'float16';
    else if (kind === 'f' && (digits === '4' || digits === '')) dtype = 'float32';
    else if (kind === 'f' && digits === '8') dtype = 'float64';
    else if (kind === 'e' && digits === '') dtype = 'float16';
    else if (kind === 'd' && digits === '') dtype = 'float64';
  }
  if (dtype) return { dtype, littleEndian };
  const what = kind === 'f' || kind === 'e' || kind === 'd' ? `a ${digits || '?'}-byte float type` : OTHER_KINDS[kind];
  if (what === undefined) bad(`descr '${clip(text)}' is not a NumPy dtype string such as '<f4'; ${WRITE_WITH}`);
  throw new ProblemError(
    'UNSUPPORTED_DTYPE',
    `the .npy dtype '${clip(text)}' is ${what}; the supported dtypes are ${SUPPORTED_LIST}: convert the array, ` +
      'e.g. np.save(f, a.astype(np.float32))',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// decode

interface NpyHeader {
  dtype: NpyDtype;
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

function readHeader(bytes: Uint8Array, limits: NpyLimits): NpyHeader {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) bad(`the body is ${bytes.length} bytes, too short for a .npy file; ${WRITE_WITH}`);
    if (bytes[i] !== MAGIC[i]) {
      bad(`the body does not start with the .npy magic \\x93NUMPY, so it is not a .npy file; ${WRITE_WITH}`);
    }
  }
  if (bytes.length < 8) bad(`the .npy file ends inside its version bytes; send the whole file`);
  const major = bytes[6];
  const minor = bytes[7];
  if (!(major >= 1 && major <= 3 && minor === 0)) {
    bad(`.npy format version ${major}.${minor} is not supported (1.0, 2.0 and 3.0 are); ${WRITE_WITH}`);
  }
  const lengthSize = major === 1 ? 2 : 4;
  const prefix = 8 + lengthSize;
  if (bytes.length < prefix) bad('the .npy file ends inside its header length; send the whole file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = prefix + headerLength;
  if (dataOffset > bytes.length) {
    bad(
      `the .npy header claims ${headerLength} bytes but the file has only ${bytes.length - prefix} after the ` +
        'header length; the file is truncated: send the whole file',
    );
  }
  const maxHeaderBytes = Math.max(MIN_MAX_HEADER_BYTES, limits.maxRank * HEADER_BYTES_PER_DIM);
  if (headerLength > maxHeaderBytes) {
    bad(`the .npy header is ${headerLength} bytes; headers are read up to ${maxHeaderBytes} bytes; ${WRITE_WITH}`);
  }
  const raw = bytes.subarray(prefix, dataOffset);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      bad(`the .npy 3.0 header is not valid utf-8; ${WRITE_WITH}`);
    }
  } else {
    // latin-1, byte for byte (TextDecoder's 'latin1' is windows-1252).
    text = '';
    for (let i = 0; i < raw.length; i += 8192) text += String.fromCharCode(...raw.subarray(i, i + 8192));
  }

  const dict = new HeaderParser(text, major < 3).parse();
  if (dict.kind !== 'dict') bad(`the .npy header is ${pyRepr(dict)}, not a dict; ${WRITE_WITH}`);
  const fields = new Map<string, PyValue>();
  for (const [key, value] of dict.entries) {
    if (key.kind !== 'str') bad(`the .npy header has the key ${pyRepr(key)}; keys must be strings`);
    if (fields.has(key.value)) bad(`the .npy header has the key '${clip(key.value)}' twice; ${WRITE_WITH}`);
    fields.set(key.value, value);
  }
  const keys = [...fields.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape') {
    bad(
      `the .npy header has the keys [${clip(keys.map((k) => `'${k}'`).join(', '))}]; it must have exactly ` +
        `'descr', 'fortran_order' and 'shape': ${WRITE_WITH}`,
    );
  }

  const fortran = fields.get('fortran_order')!;
  if (fortran.kind !== 'bool') bad(`fortran_order is ${pyRepr(fortran)}; it must be True or False`);
  const shapeValue = fields.get('shape')!;
  if (shapeValue.kind !== 'tuple' || shapeValue.items.some((d) => d.kind !== 'int')) {
    bad(`shape ${pyRepr(shapeValue)} is not a tuple of integers such as (2, 3); ${WRITE_WITH}`);
  }
  const dims = shapeValue.items.map((d) => (d as { kind: 'int'; value: bigint }).value);
  if (dims.some((d) => d < 0n)) bad(`shape ${pyRepr(shapeValue)} has a negative dimension; ${WRITE_WITH}`);
  const { dtype, littleEndian } = parseDescr(fields.get('descr')!);

  // The limits, before anything proportional to the claimed size is allocated.
  if (dims.length > limits.maxRank) checkShape(dims.map(Number), limits.maxRank, limits.maxElements);
  if (dims.some((d) => d > BigInt(Number.MAX_SAFE_INTEGER))) {
    throw new ProblemError(
      'TOO_LARGE',
      `the .npy shape ${pyRepr(shapeValue)} has a dimension over 2^53; the limit is ${limits.maxElements} elements`,
    );
  }
  const shape = dims.map(Number);
  checkShape(shape, limits.maxRank, limits.maxElements);
  return { dtype, littleEndian, fortranOrder: fortran.value, shape, dataOffset };
}

/**
 * Copies `count` elements of `size` bytes from `src` to `dst` in C order, reversing each element's bytes when
 * `swap`, reading `src` as Fortran order when `fortran` (so the copy is a transpose).
 */
function reorder(
  src: Uint8Array,
  dst: Uint8Array,
  shape: readonly number[],
  size: number,
  fortran: boolean,
  swap: boolean,
): void {
  const count = elementCount(shape);
  if (count === 0) return;
  // The source, as a C-order walk: axes (outermost first) and their source strides in bytes.
  let axes: number[];
  let strides: number[];
  if (fortran) {
    axes = [...shape];
    strides = [];
    let stride = size;
    for (const d of shape) {
      strides.push(stride);
      stride *= d;
    }
  } else {
    axes = [count];
    strides = [size];
  }
  const rank = axes.length;
  const inner = axes[rank - 1];
  const innerStride = strides[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  let base = 0;
  let out = 0;
  for (let row = 0, rows = count / inner; row < rows; row++) {
    let s = base;
    if (swap) {
      for (let j = 0; j < inner; j++, s += innerStride) {
        for (let b = size - 1; b >= 0; b--) dst[out++] = src[s + b];
      }
    } else {
      for (let j = 0; j < inner; j++, s += innerStride) {
        for (let b = 0; b < size; b++) dst[out++] = src[s + b];
      }
    }
    for (let k = rank - 2; k >= 0; k--) {
      base += strides[k];
      if (++index[k] < axes[k]) break;
      base -= strides[k] * axes[k];
      index[k] = 0;
    }
  }
}

/**
 * A .npy file (versions 1.0, 2.0, 3.0; float16/32/64, either byte order, C or Fortran order) as a Tensor in host
 * (little-endian) C order in shared memory. Little-endian C-order data at an aligned offset of a SharedArrayBuffer
 * is used in place; anything else is copied once into a new SharedArrayBuffer.
 *
 * Throws BAD_NPY (400) for anything that is not a well-formed .npy file or whose data is not exactly what the
 * header describes, UNSUPPORTED_DTYPE (415) for other NumPy dtypes, BAD_SHAPE/TOO_LARGE past the limits.
 */
export function decodeNpy(bytes: Uint8Array, limits: NpyLimits): Tensor {
  const { dtype, littleEndian, fortranOrder, shape, dataOffset } = readHeader(bytes, limits);
  const size = BYTES_PER_ELEMENT[dtype];
  const count = elementCount(shape);
  const byteLength = count * size;
  const available = bytes.length - dataOffset;
  if (available !== byteLength) {
    bad(
      `the .npy header claims shape (${shape.join(', ')}${shape.length === 1 ? ',' : ''}) of ${dtype}, ` +
        `${byteLength} bytes of data, but the file has ${available} after the header ` +
        `(${available < byteLength ? 'truncated' : 'extra bytes'}); send the whole file exactly as np.save wrote it`,
    );
  }
  const swap = littleEndian !== HOST_LITTLE_ENDIAN;
  // Fortran order is C order when at most one axis is longer than 1.
  const transpose = fortranOrder && shape.filter((d) => d > 1).length > 1;
  const start = bytes.byteOffset + dataOffset;
  if (!swap && !transpose && bytes.buffer instanceof SharedArrayBuffer && start % size === 0) {
    return { shape, dtype, data: viewOf(dtype, bytes.buffer, start, count) };
  }
  const out = new Uint8Array(new SharedArrayBuffer(byteLength));
  const src = bytes.subarray(dataOffset);
  if (!swap && !transpose) out.set(src);
  else reorder(src, out, shape, size, transpose, swap);
  return { shape, dtype, data: viewOf(dtype, out.buffer, 0, count) };
}

// ---------------------------------------------------------------------------------------------------------------
// encode

function descrOf(dtype: NpyDtype): string {
  return `${HOST_LITTLE_ENDIAN ? '<' : '>'}f${BYTES_PER_ELEMENT[dtype]}`;
}

/**
 * The header (magic, version, length, dict, padding) np.save writes for a C-contiguous array of this shape and
 * dtype in host byte order: version 1.0, or 2.0 when the header is over 65535 bytes; the data starts at a multiple
 * of 64 bytes.
 */
export function npyHeader(shape: readonly number[], dtype: Dtype): Uint8Array {
  assertNpyDtype(dtype);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descrOf(dtype)}', 'fortran_order': False, 'shape': ${tuple}, }`;
  if (shape.length > 0) dict += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const withNewline = dict.length + 1;
  let major = 1;
  let prefix = 10;
  let pad = ARRAY_ALIGN - ((prefix + withNewline) % ARRAY_ALIGN);
  if (withNewline + pad > 0xffff) {
    major = 2;
    prefix = 12;
    pad = ARRAY_ALIGN - ((prefix + withNewline) % ARRAY_ALIGN);
  }
  const headerLength = withNewline + pad;
  const out = new Uint8Array(prefix + headerLength);
  out.set(MAGIC);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i); // ASCII only
  out.fill(0x20, prefix + dict.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

/**
 * A tensor as .npy in two parts: the header, and the body as a view of the tensor's own memory (no copy), so a
 * reply can write both without concatenating. Throws UNSUPPORTED_DTYPE (415) for bfloat16.
 */
export function encodeNpyParts(tensor: { shape: number[]; dtype: Dtype; data: TensorData }): {
  header: Uint8Array;
  body: Uint8Array;
} {
  const { shape, dtype, data } = tensor;
  const header = npyHeader(shape, dtype);
  if (data.length !== elementCount(shape) || data.BYTES_PER_ELEMENT !== BYTES_PER_ELEMENT[dtype]) {
    throw new Error(
      `encodeNpyParts: ${data.length} elements of ${data.BYTES_PER_ELEMENT} bytes do not fill [${shape}]`,
    );
  }
  return { header, body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
