/**
 * Raw little-endian tensors (docs/semantics.md §2.3, application/octet-stream): the body bytes are the tensor's
 * memory.
 */

import { checkShape, elementCount } from '../dropout/shape.js';
import type { Tensor } from '../dropout/tensor.js';
import { ProblemError } from '../errors.js';
import { BYTES_PER_ELEMENT, type Dtype, viewOf } from '../kernel/dtype.js';

export function decodeBinaryTensor(
  bytes: Uint8Array,
  shape: number[] | undefined,
  dtype: Dtype,
  limits: { maxElements: number; maxRank: number },
): Tensor {
  const size = BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new ProblemError(
      'BAD_BINARY_LENGTH',
      `the body is ${bytes.byteLength} bytes, not a multiple of ${size} (the size of one ${dtype})`,
    );
  }
  const count = bytes.byteLength / size;
  const resolved = shape ?? [count];
  checkShape(resolved, limits.maxRank, limits.maxElements);
  if (elementCount(resolved) !== count) {
    throw new ProblemError(
      'SHAPE_MISMATCH',
      `shape [${resolved}] needs ${elementCount(resolved)} ${dtype} values (${elementCount(resolved) * size} bytes) but the body has ${count}`,
    );
  }
  // Shared bodies start at offset 0 of their own buffer, so the view is aligned; anything else is copied once.
  if (bytes.byteOffset % size === 0) {
    return { shape: resolved, dtype, data: viewOf(dtype, bytes.buffer, bytes.byteOffset, count) };
  }
  const copy = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return { shape: resolved, dtype, data: viewOf(dtype, copy.buffer, 0, count) };
}

/** The tensor's memory as a Buffer for the reply, without copying. */
export function tensorBytes(tensor: Tensor): Buffer {
  const { data } = tensor;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
