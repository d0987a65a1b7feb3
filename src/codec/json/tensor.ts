/**
 * JSON tensors (docs/semantics.md §2): a nested rectangular array, or a flat array with `shape`. Decoding checks the
 * claimed size before allocating and says where the input is wrong; encoding writes the same nesting back as JSON text.
 */

import { checkShape, elementCount } from '../../dropout/shape.js';
import type { Tensor, TensorLimits } from '../../dropout/tensor.js';
import { ProblemError, quote } from '../../errors.js';
import { BYTES_PER_ELEMENT, type Dtype, encoderFor, type TensorData, viewOf } from '../../kernel/dtype.js';
import { NON_FINITE_IN } from './float-format.js';

export interface JsonTensor extends Tensor {
  /** Whether the input was nested (the reply mirrors it) or flat. */
  nested: boolean;
}

function toNumber(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  // Object.hasOwn, not `in`: "valueOf" or "constructor" must not read Object.prototype.
  if (typeof value === 'string' && Object.hasOwn(NON_FINITE_IN, value)) return NON_FINITE_IN[value];
  throw new ProblemError(
    'NON_NUMERIC',
    `${path} is ${quote(value)}; values must be numbers or the strings "NaN", "Infinity", "-Infinity"`,
  );
}

/** The shape a nested array claims along its first elements. */
function claimedShape(input: unknown[], maxRank: number): number[] {
  const dims: number[] = [];
  let level: unknown = input;
  while (Array.isArray(level)) {
    if (dims.length === maxRank) throw new ProblemError('BAD_SHAPE', `input is nested deeper than ${maxRank} levels`);
    dims.push(level.length);
    level = level[0];
  }
  return dims;
}

/** Shared memory for tensors the pool may compute on; plain memory (cheaper to allocate) for small ones. */
export function allocateTensor(dtype: Dtype, count: number, limits: TensorLimits): TensorData {
  const bytes = count * BYTES_PER_ELEMENT[dtype];
  return viewOf(
    dtype,
    count > limits.inlineMaxElements ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes),
    0,
    count,
  );
}

export function decodeJsonTensor(
  input: unknown[],
  shape: number[] | undefined,
  dtype: Dtype,
  limits: TensorLimits,
): JsonTensor {
  const nested = input.some(Array.isArray);
  if (!nested) {
    const resolved = shape ?? [input.length];
    checkShape(resolved, limits.maxRank, limits.maxElements);
    if (elementCount(resolved) !== input.length) {
      throw new ProblemError(
        'SHAPE_MISMATCH',
        `shape [${resolved}] needs ${elementCount(resolved)} values but input has ${input.length}`,
      );
    }
    const data = allocateTensor(dtype, input.length, limits);
    const encode = encoderFor(dtype);
    for (let i = 0; i < input.length; i++) data[i] = encode(toNumber(input[i], `input[${i}]`));
    return { shape: resolved, dtype, data, nested: false };
  }

  const dims = claimedShape(input, limits.maxRank);
  checkShape(dims, limits.maxRank, limits.maxElements);
  if (shape && (shape.length !== dims.length || shape.some((d, i) => d !== dims[i]))) {
    throw new ProblemError('SHAPE_MISMATCH', `shape ${quote(shape)} does not match the nested input's shape [${dims}]`);
  }
  const data = allocateTensor(dtype, elementCount(dims), limits);
  const encode = encoderFor(dtype);
  let next = 0;
  const rank = dims.length;
  const fill = (level: unknown[], depth: number, path: string): void => {
    if (level.length !== dims[depth]) {
      throw new ProblemError(
        'RAGGED_ARRAY',
        `${path} has ${level.length} elements but ${depth === 0 ? 'the input' : 'its siblings'} imply ${dims[depth]}`,
      );
    }
    const leaf = depth === rank - 1;
    for (let i = 0; i < level.length; i++) {
      const item = level[i];
      if (Array.isArray(item) !== !leaf) {
        throw new ProblemError(
          'RAGGED_ARRAY',
          `${path}[${i}] is ${leaf ? 'an array' : 'not an array'} but the input's shape is [${dims}]`,
        );
      }
      if (leaf) data[next++] = encode(toNumber(item, `${path}[${i}]`));
      else fill(item as unknown[], depth + 1, `${path}[${i}]`);
    }
  };
  fill(input, 0, 'input');
  return { shape: dims, dtype, data, nested: true };
}
