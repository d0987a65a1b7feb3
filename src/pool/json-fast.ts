/**
 * The fast path of a worker's JSON parse (./json-tasks.ts): the `input` member's value is read by WebAssembly
 * (../codec/json-numbers.ts) straight from the body's bytes, and only the rest of the body, with that value
 * replaced by [], goes through JSON.parse. Whatever it cannot settle exactly it declines (undefined), and the
 * caller runs the JSON.parse path, which gives today's result and words today's errors.
 *
 * Why the split is exact: the scan below tokenises a valid body exactly as JSON does, and the value it hands to
 * WebAssembly is checked there against the grammar. If the rest then parses, `[]` stood where a value stands, so
 * the whole body is valid JSON and parses to the rest with `input` set to that value. If either part fails, the
 * body is declined and JSON.parse reports on it as before.
 */

import { type ParsedNumbers, parseJsonNumbers } from '../codec/json-numbers.js';
import { allocateTensor, type JsonLimits, type JsonTensor } from '../codec/json-tensor.js';
import { checkShape, elementCount } from '../codec/shape.js';
import { type Dtype, encoderFor } from '../kernel/dtype.js';

export interface SplitBody {
  /** The body's text with the value of its (last) `input` member replaced by `[]`. */
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

// Longest spelling of "input": every character as a \uXXXX escape.
const MAX_INPUT_KEY_BYTES = 2 + 5 * 6;

/** Whether the key string at [start, end) (quotes included) unescapes to "input", as JSON.parse compares keys. */
function isInputKey(b: Uint8Array, start: number, end: number): boolean {
  if (
    end - start === 7 &&
    b[start + 1] === 0x69 &&
    b[start + 2] === 0x6e &&
    b[start + 3] === 0x70 &&
    b[start + 4] === 0x75 &&
    b[start + 5] === 0x74
  )
    return true;
  if (end - start > MAX_INPUT_KEY_BYTES || b.subarray(start, end).indexOf(BACKSLASH) < 0) return false;
  try {
    return JSON.parse(text(b, start, end)) === 'input';
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

/**
 * Finds the top-level object's last `input` member and reads its value; undefined unless the body is an object
 * whose last `input` is an array the WebAssembly reader accepts.
 */
export function splitInputMember(b: Uint8Array, limits: JsonLimits, chunkBytes?: number): SplitBody | undefined {
  let i = skipSpace(b, 0);
  if (b[i] !== 0x7b) return undefined;
  i = skipSpace(b, i + 1);
  let numbers: ParsedNumbers | undefined;
  let start = -1;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return undefined;
    const isInput = isInputKey(b, i, keyEnd);
    i = skipSpace(b, keyEnd);
    if (b[i] !== 0x3a) return undefined;
    i = skipSpace(b, i + 1);
    if (isInput && b[i] === 0x5b) {
      numbers = parseJsonNumbers(b, i, limits.maxRank, limits.maxElements, chunkBytes);
      if (!numbers) return undefined;
      start = i;
      i = numbers.end;
    } else {
      // A later `input` that is not an array wins (as in JSON.parse): there is then no tensor to read here.
      if (isInput) numbers = undefined;
      i = skipValue(b, i);
      if (i < 0) return undefined;
    }
    i = skipSpace(b, i);
    if (b[i] === 0x2c) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (b[i] !== 0x7d) return undefined;
    break;
  }
  if (!numbers || skipSpace(b, i + 1) !== b.length) return undefined;
  return { rest: `${text(b, 0, start)}[]${text(b, numbers.end, b.length)}`, numbers };
}

/**
 * decodeJsonTensor (../codec/json-tensor.ts) on values already read: the same shape checks, allocation and dtype
 * conversion. Undefined where decodeJsonTensor would throw, so that its error comes from it.
 */
export function tensorFromNumbers(
  numbers: ParsedNumbers,
  shape: number[] | undefined,
  dtype: Dtype,
  limits: JsonLimits,
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
