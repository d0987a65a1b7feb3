/**
 * A small .npy reader and writer for the fuzz oracle, independent of src/codec/npy.ts: it reads the header dict as a
 * Python literal (strings, ints, True/False/None, tuples, lists, dicts) and says what the file claims.
 */
import { type Dtype, SIZE } from './expect.js';

export type NpyDtype = Exclude<Dtype, 'bfloat16'>;

export interface NpyClaim {
  major: number;
  dtype: NpyDtype;
  littleEndian: boolean;
  fortran: boolean;
  shape: bigint[];
  dataOffset: number;
}

type Py =
  | { t: 'str'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'seq'; kind: 'tuple' | 'list'; v: Py[] }
  | { t: 'dict'; v: [Py, Py][] };

const SPACE = /[ \t\n\r\f]/;

/** `long` allows Python 2's `L` suffix on integers (versions 1.0 and 2.0 may come from Python 2; NumPy reads them). */
function parsePy(text: string, long: boolean): Py {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at ${i}`);
  };
  const ws = () => {
    while (i < text.length && SPACE.test(text[i])) i++;
  };
  const value = (depth: number): Py => {
    if (depth > 20) fail('too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: [Py, Py][] = [];
      for (;;) {
        ws();
        if (text[i] === '}') {
          i++;
          return { t: 'dict', v: entries };
        }
        const k = value(depth + 1);
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        entries.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail('expected , or }');
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: Py[] = [];
      let comma = false;
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          if (c === '(' && items.length === 1 && !comma) return items[0];
          return { t: 'seq', kind: c === '(' ? 'tuple' : 'list', v: items };
        }
        items.push(value(depth + 1));
        ws();
        comma = false;
        if (text[i] === ',') {
          i++;
          comma = true;
        } else if (text[i] !== close) fail('expected , or close');
      }
    }
    if (c === "'" || c === '"') {
      i++;
      let s = '';
      while (text[i] !== c) {
        if (i >= text.length || text[i] === '\n') fail('unterminated');
        if (text[i] === '\\') fail('escape'); // np.save never writes one; treated as unreadable here
        s += text[i++];
      }
      i++;
      return { t: 'str', v: s };
    }
    // Python 3 integer literals: a sign (then spaces), no leading zeros, `_` between digits.
    const m = (
      long
        ? /^([-+]?)[ \t]*(0(?:_?0)*|[1-9](?:_?[0-9])*)L?(?![0-9A-Za-z_.])/
        : /^([-+]?)[ \t]*(0(?:_?0)*|[1-9](?:_?[0-9])*)(?![0-9A-Za-z_.])/
    ).exec(text.slice(i));
    if (m) {
      i += m[0].length;
      const mag = BigInt(m[2].replaceAll('_', ''));
      return { t: 'int', v: m[1] === '-' ? -mag : mag };
    }
    for (const [word, py] of [
      ['True', { t: 'bool', v: true }],
      ['False', { t: 'bool', v: false }],
      ['None', { t: 'none' }],
    ] as const) {
      if (text.startsWith(word, i) && !/[A-Za-z0-9_]/.test(text[i + word.length] ?? '')) {
        i += word.length;
        return py;
      }
    }
    return fail('unexpected');
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

/** The descr strings this oracle reads as a float dtype; others are not floats (→ 415) or not dtypes (→ 400). */
export function descrDtype(descr: string): { dtype: NpyDtype; littleEndian: boolean } | null {
  const m = /^([<>=|]?)(f2|f4|f8|e|f|d)$/.exec(descr);
  if (!m) return null;
  const dtype: NpyDtype =
    m[2] === 'f2' || m[2] === 'e' ? 'float16' : m[2] === 'f8' || m[2] === 'd' ? 'float64' : 'float32';
  return { dtype, littleEndian: m[1] !== '>' };
}

/**
 * Descr strings shaped like a dtype code (order, kind letter, size, unit) that are not float16/32/64: a NumPy dtype the
 * service does not take (415 UNSUPPORTED_DTYPE) or no dtype at all (400 BAD_NPY); either answer is right.
 */
const DTYPE_LIKE = /^[<>=|]?[A-Za-z?]\d*(\[[A-Za-z0-9]+\])?$/;

export type NpyCode = 'BAD_NPY' | 'UNSUPPORTED_DTYPE' | 'TOO_LARGE' | 'BAD_SHAPE';

export interface NpyVerdict {
  /** Everything wrong with the file (empty: it is a valid float .npy within the limits). */
  codes: Set<NpyCode>;
  claim?: NpyClaim;
}

/** What a .npy file claims and everything wrong with it, checked against the limits and the data length. */
export function judgeNpy(bytes: Uint8Array, limits: { maxElements: number; maxRank: number }): NpyVerdict {
  const bad = (): NpyVerdict => ({ codes: new Set(['BAD_NPY']) });
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 8 || magic.some((b, k) => bytes[k] !== b)) return bad();
  const major = bytes[6];
  if (bytes[7] !== 0 || major < 1 || major > 3) return bad();
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) return bad();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (prefix + length > bytes.length) return bad();
  const raw = bytes.subarray(prefix, prefix + length);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return bad();
    }
  } else {
    text = Array.from(raw, (b) => String.fromCharCode(b)).join('');
  }
  let dict: Py;
  try {
    dict = parsePy(text, major < 3);
  } catch {
    return bad();
  }
  if (dict.t !== 'dict') return bad();
  const fields = new Map<string, Py>();
  for (const [k, v] of dict.v) {
    if (k.t !== 'str' || fields.has(k.v)) return bad();
    fields.set(k.v, v);
  }
  if ([...fields.keys()].sort().join() !== 'descr,fortran_order,shape') return bad();
  const codes = new Set<NpyCode>();
  const fortran = fields.get('fortran_order')!;
  const shape = fields.get('shape')!;
  const descr = fields.get('descr')!;
  if (fortran.t !== 'bool') codes.add('BAD_NPY');
  const shapeOk = shape.t === 'seq' && shape.kind === 'tuple' && shape.v.every((d) => d.t === 'int' && d.v >= 0n);
  if (!shapeOk) codes.add('BAD_NPY');
  const d = descr.t === 'str' ? descrDtype(descr.v) : null;
  if (d === null) {
    codes.add('BAD_NPY');
    if (descr.t === 'str' && DTYPE_LIKE.test(descr.v) && !/^[<>=|]?[OV]/.test(descr.v)) codes.add('UNSUPPORTED_DTYPE');
  }
  let dims: bigint[] = [];
  if (shapeOk) {
    dims = (shape as { v: { v: bigint }[] }).v.map((x) => x.v);
    const count = dims.reduce((a, b) => a * b, 1n);
    if (dims.length > limits.maxRank) codes.add('BAD_SHAPE');
    else if (count > BigInt(limits.maxElements) || dims.some((x) => x > BigInt(Number.MAX_SAFE_INTEGER))) {
      codes.add('TOO_LARGE');
    }
    if (codes.size === 0 && d !== null) {
      const expected = count * BigInt(SIZE[d.dtype]);
      if (BigInt(bytes.length - prefix - length) !== expected) codes.add('BAD_NPY');
    }
  }
  if (codes.size > 0 || d === null || fortran.t !== 'bool') return { codes };
  return { codes, claim: { major, ...d, fortran: fortran.v, shape: dims, dataOffset: prefix + length } };
}

/** The values of a claim's data in C order (the data must be exactly the claimed size). */
export function claimValues(claim: NpyClaim, data: Uint8Array, decode: (b: Uint8Array, le: boolean) => number[]) {
  const values = decode(data, claim.littleEndian);
  const shape = claim.shape.map(Number);
  if (!claim.fortran || shape.filter((d) => d > 1).length <= 1) return values;
  // Fortran order: element (i0, …, ik) is at Σ i_j · Π_{l<j} d_l.
  const n = values.length;
  const out = new Array<number>(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    let stride = 1;
    for (let k = 0; k < shape.length; k++) {
      f += idx[k] * stride;
      stride *= shape[k];
    }
    out[c] = values[f];
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** A .npy file from its parts: the header text is padded with spaces and '\n' so the data starts at 64 bytes. */
export function buildNpy(major: number, minor: number, dictText: string, data: Uint8Array, lengthDelta = 0): Buffer {
  const prefix = major === 1 || major === 0 ? 10 : 12;
  const padded = `${dictText}${' '.repeat((64 - ((prefix + dictText.length + 1) % 64)) % 64)}\n`;
  const header = major === 3 ? Buffer.from(padded, 'utf8') : Buffer.from(padded, 'latin1');
  const pre = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, minor]).copy(pre);
  const length = Math.max(0, header.length + lengthDelta);
  if (prefix === 10) pre.writeUInt16LE(Math.min(length, 0xffff), 8);
  else pre.writeUInt32LE(length, 8);
  return Buffer.concat([pre, header, data]);
}

export function itemSize(dtype: NpyDtype): number {
  return SIZE[dtype];
}
