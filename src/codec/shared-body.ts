/**
 * Reads a request body straight into a SharedArrayBuffer: the one copy from socket chunks into memory is the copy
 * any body parser makes, and the kernel then computes in that memory on any worker, and the reply is written from
 * it. (Fastify's `parseAs: 'buffer'` would make a private Buffer that workers could only get by copying.)
 */
import type { Readable } from 'node:stream';
import { ProblemError } from '../errors.js';

const INITIAL_CHUNKED_BYTES = 64 * 1024;

export async function readIntoShared(
  stream: Readable,
  contentLength: string | undefined,
  limit: number,
  /** Small bodies that stay on the main thread skip the costlier shared allocation. */
  shared = true,
): Promise<Uint8Array> {
  const allocate = (size: number) => new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  const declared = contentLength === undefined ? undefined : Number(contentLength);
  if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) {
    throw new ProblemError('INVALID_REQUEST', `Content-Length "${contentLength}" is not a byte count`);
  }
  if (declared !== undefined && declared > limit) {
    throw new ProblemError('TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit} (MAX_BODY_BYTES)`);
  }
  let bytes = allocate(declared ?? INITIAL_CHUNKED_BYTES);
  let received = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const needed = received + chunk.length;
    if (needed > limit) {
      throw new ProblemError('TOO_LARGE', `the body is over ${limit} bytes (MAX_BODY_BYTES)`);
    }
    if (needed > bytes.length) {
      if (declared !== undefined) {
        throw new ProblemError('INVALID_REQUEST', `the body is longer than its Content-Length of ${declared}`);
      }
      const grown = allocate(Math.min(limit, Math.max(needed, bytes.length * 2)));
      grown.set(bytes.subarray(0, received));
      bytes = grown;
    }
    bytes.set(chunk, received);
    received = needed;
  }
  if (declared !== undefined && received !== declared) {
    throw new ProblemError('INVALID_REQUEST', `the body ended after ${received} of ${declared} bytes`);
  }
  return bytes.subarray(0, received);
}
