/** Shape arithmetic and limits, checked before any allocation proportional to the claimed size. */
import { ProblemError, quote } from '../errors.js';

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Throws BAD_SHAPE for a malformed shape and TOO_LARGE past maxElements (a zero dim makes the tensor empty). */
export function checkShape(shape: readonly number[], maxRank: number, maxElements: number): void {
  if (shape.length > maxRank)
    throw new ProblemError('BAD_SHAPE', `rank ${shape.length} is over the limit of ${maxRank}`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ProblemError('BAD_SHAPE', `shape ${quote(shape)} has ${d}; every dim must be a non-negative integer`);
    }
  }
  const n = elementCount(shape);
  if (n > maxElements) {
    throw new ProblemError('TOO_LARGE', `shape ${quote(shape)} has ${n} elements; the limit is ${maxElements}`);
  }
}

/** Longest shape parameter read: 32 dims of 2^53 take under 600 characters; longer text is refused unread. */
const MAX_SHAPE_PARAM_CHARS = 1024;

/** Parses the query form `2,3,4` ("" is a 0-d tensor). */
export function parseShapeParam(text: string): number[] {
  if (text.length > MAX_SHAPE_PARAM_CHARS) {
    throw new ProblemError('BAD_SHAPE', `shape ${quote(text)} is longer than ${MAX_SHAPE_PARAM_CHARS} characters`);
  }
  if (text.trim() === '') return [];
  if (!/^\s*\d+(\s*,\s*\d+)*\s*$/.test(text)) {
    throw new ProblemError(
      'BAD_SHAPE',
      `shape ${quote(text)} must be comma-separated non-negative integers, e.g. 2,3,4`,
    );
  }
  return text.split(',').map((d) => Number(d.trim()));
}
