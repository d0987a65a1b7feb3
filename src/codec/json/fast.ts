/**
 * The fast path of a worker's JSON parse (../../offload/json-tasks.ts): the tensor's array (`input` of /v1,
 * `inputs[0].data` of /v2) is read by WebAssembly (./numbers.ts) straight from the body's bytes, and only the rest
 * of the body, with that array replaced by [], goes through JSON.parse. Whatever it cannot settle exactly it declines
 * (undefined), and the caller runs the plain JSON.parse path, which gives the same result and words its errors.
 *
 * Why the split is exact: the scan below tokenises a valid body exactly as JSON does, and the value it hands to
 * WebAssembly is checked there against the grammar. If the rest then parses, `[]` stood where a value stands, so
 * the whole body is valid JSON and parses to the rest with that value in place of the `[]`. If either part fails,
 * the body is declined and JSON.parse reports on it.
 */

import { checkShape, elementCount } from '../../dropout/shape.js';
import type { TensorLimits } from '../../dropout/tensor.js';
import { type Dtype, encoderFor } from '../../kernel/dtype.js';
import { type ParsedNumbers, parseJsonNumbers } from './numbers.js';
import { allocateTensor, type JsonTensor } from './tensor.js';

export interface SplitBody {
  /** The body's text with the array read replaced by `[]`. */
  rest: string;
  numbers: ParsedNumbers;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function skipSpace(b: Uint8Array, i: number): number {
  let c = b[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
  return i;
}

/** From an opening quote to just past the closing one; -1 if there is none. */
function skipString(b: Uint8Array, i: number): number {
  let j = i + 1;
  for (;;) {
    j = b.indexOf(QUOTE, j);
    if (j < 0) return -1;
    let backslashes = 0;
    while (b[j - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return j + 1;
    j++;
  }
}

/** Past a value other than `input`'s. Sloppy on invalid JSON on purpose: JSON.parse of the rest rejects it. */
function skipValue(b: Uint8Array, i: number): number {
  const first = b[i];
  if (first === QUOTE) return skipString(b, i);
  if (first === 0x5b || first === 0x7b) {
    let depth = 0;
    for (let j = i; j < b.length; j++) {
      const c = b[j];
      if (c === QUOTE) {
        j = skipString(b, j);
        if (j < 0) return -1;
        j--;
      } else if (c === 0x5b || c === 0x7b) {
        depth++;
      } else if (c === 0x5d || c === 0x7d) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  for (let c = b[j]; j < b.length; c = b[++j]) {
    if (c === 0x2c || c === 0x7d || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
  }
  return j === i ? -1 : j;
}

/** Whether the key string at [start, end) (quotes included) unescapes to `name`, as JSON.parse compares keys. */
function isKey(b: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start === name.length + 2) {
    let same = true;
    for (let k = 0; k < name.length && same; k++) same = b[start + 1 + k] === name.charCodeAt(k);
    if (same) return true;
  }
  // Longest spelling of an ASCII name: every character as a \uXXXX escape.
  if (end - start > 2 + 6 * name.length || b.subarray(start, end).indexOf(BACKSLASH) < 0) return false;
  try {
    return JSON.parse(text(b, start, end)) === name;
  } catch {
    // A malformed key makes the rest unparseable too, so the body is declined there.
    return false;
  }
}

// Buffer decodes shared memory (TextDecoder refuses it) and replaces bad UTF-8 as the JSON.parse path's does; the
// pieces split at ASCII bytes, so decoding them apart gives the same text as decoding the whole.
function text(b: Uint8Array, start: number, end: number): string {
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
}

/** Member names and array indexes from the top-level value down to the array of numbers. */
export type ValuePath = readonly (string | number)[];

interface Scan {
  /** Just past the scanned value. */
  end: number;
  /** The array at the path, when this value holds it (as JSON.parse would resolve the path). */
  found?: { start: number; numbers: ParsedNumbers };
}

interface ScanContext {
  b: Uint8Array;
  limits: TensorLimits;
  chunkBytes?: number;
}

/** Past the value at b[i], reading the array at `path` below it if there is one; undefined declines the body. */
function scanValue(c: ScanContext, i: number, path: ValuePath): Scan | undefined {
  const { b } = c;
  if (path.length === 0) {
    if (b[i] === 0x5b) {
      const numbers = parseJsonNumbers(b, i, c.limits.maxRank, c.limits.maxElements, c.chunkBytes);
      return numbers && { end: numbers.end, found: { start: i, numbers } };
    }
  } else if (typeof path[0] === 'string' && b[i] === 0x7b) {
    return scanMembers(c, i, path[0], path.slice(1));
  } else if (typeof path[0] === 'number' && b[i] === 0x5b) {
    return scanElements(c, i, path[0], path.slice(1));
  }
  // Not the container the path needs: JSON.parse would find no array there either.
  const end = skipValue(b, i);
  return end < 0 ? undefined : { end };
}

/** An object from its `{`, descending into member `name`. */
function scanMembers(c: ScanContext, i: number, name: string, below: ValuePath): Scan | undefined {
  const { b } = c;
  let found: Scan['found'];
  i = skipSpace(b, i + 1);
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return undefined;
    const isTarget = isKey(b, i, keyEnd, name);
    i = skipSpace(b, keyEnd);
    if (b[i] !== 0x3a) return undefined;
    i = skipSpace(b, i + 1);
    if (isTarget) {
      const scan = scanValue(c, i, below);
      if (!scan) return undefined;
      // The last member of a name wins, as in JSON.parse: an earlier one's array stays in the rest as text.
      found = scan.found;
      i = scan.end;
    } else {
      i = skipValue(b, i);
      if (i < 0) return undefined;
    }
    i = skipSpace(b, i);
    if (b[i] === 0x2c) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== 0x7d) return undefined;
    return { end: i + 1, found };
  }
}

/** An array from its `[`, descending into element `index`. */
function scanElements(c: ScanContext, i: number, index: number, below: ValuePath): Scan | undefined {
  const { b } = c;
  let found: Scan['found'];
  i = skipSpace(b, i + 1);
  if (b[i] === 0x5d) return { end: i + 1 };
  for (let k = 0; ; k++) {
    if (k === index) {
      const scan = scanValue(c, i, below);
      if (!scan) return undefined;
      found = scan.found;
      i = scan.end;
    } else {
      i = skipValue(b, i);
      if (i < 0) return undefined;
    }
    i = skipSpace(b, i);
    if (b[i] === 0x2c) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== 0x5d) return undefined;
    return { end: i + 1, found };
  }
}

/**
 * Reads the array at `path` (e.g. ["input"], or ["inputs", 0, "data"] for an inference request) and replaces it by
 * `[]` in the rest; undefined unless the body holds there an array the WebAssembly reader accepts.
 */
export function splitArrayAt(
  b: Uint8Array,
  path: ValuePath,
  limits: TensorLimits,
  chunkBytes?: number,
): SplitBody | undefined {
  const scan = scanValue({ b, limits, chunkBytes }, skipSpace(b, 0), path);
  if (!scan?.found || skipSpace(b, scan.end) !== b.length) return undefined;
  const { start, numbers } = scan.found;
  return { rest: `${text(b, 0, start)}[]${text(b, numbers.end, b.length)}`, numbers };
}

/** The top-level object's last `input` member, read as splitArrayAt does. */
export function splitInputMember(b: Uint8Array, limits: TensorLimits, chunkBytes?: number): SplitBody | undefined {
  return splitArrayAt(b, ['input'], limits, chunkBytes);
}

/**
 * decodeJsonTensor (./tensor.ts) on values already read: the same shape checks, allocation and dtype
 * conversion. Undefined where decodeJsonTensor would throw, so that its error comes from it.
 */
export function tensorFromNumbers(
  numbers: ParsedNumbers,
  shape: number[] | undefined,
  dtype: Dtype,
  limits: TensorLimits,
): JsonTensor | undefined {
  const { count, chunks } = numbers;
  const nested = numbers.shape.length > 1;
  let resolved: number[];
  try {
    if (nested) {
      resolved = numbers.shape;
      checkShape(resolved, limits.maxRank, limits.maxElements);
      if (shape && (shape.length !== resolved.length || shape.some((d, i) => d !== resolved[i]))) return undefined;
    } else {
      resolved = shape ?? [count];
      checkShape(resolved, limits.maxRank, limits.maxElements);
      if (elementCount(resolved) !== count) return undefined;
    }
  } catch {
    return undefined;
  }
  const data = allocateTensor(dtype, count, limits);
  let offset = 0;
  if (dtype === 'float32' || dtype === 'float64') {
    // A typed-array set converts each element as an assignment does.
    for (const chunk of chunks) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
  } else {
    const encode = encoderFor(dtype);
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i++) data[offset + i] = encode(chunk[i]);
      offset += chunk.length;
    }
  }
  return { shape: resolved, dtype, data, nested };
}
