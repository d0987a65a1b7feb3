/**
 * Reads a request body straight into a SharedArrayBuffer: the one copy from socket chunks into memory is the copy
 * any body parser makes, and the kernel then computes in that memory on any worker, and the reply is written from
 * it. (Fastify's `parseAs: 'buffer'` would make a private Buffer that workers could only get by copying.)
 * Events rather than `for await`: the async iterator costs several microseconds a request, which small requests feel.
 */
import type { Readable } from 'node:stream';
import { ProblemError } from '../errors.js';

const INITIAL_CHUNKED_BYTES = 64 * 1024;

export function readIntoShared(
  stream: Readable,
  contentLength: string | undefined,
  limit: number,
  /** Small bodies that stay on the main thread skip the costlier shared allocation. */
  shared = true,
): Promise<Uint8Array> {
  const allocate = (size: number) => new Uint8Array(shared ? new SharedArrayBuffer(size) : new ArrayBuffer(size));
  const declared = contentLength === undefined ? undefined : Number(contentLength);
  if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) {
    return Promise.reject(new ProblemError('INVALID_REQUEST', `Content-Length "${contentLength}" is not a byte count`));
  }
  if (declared !== undefined && declared > limit) {
    return Promise.reject(
      new ProblemError('TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit} (MAX_BODY_BYTES)`),
    );
  }
  return new Promise((resolve, reject) => {
    let bytes = allocate(declared ?? INITIAL_CHUNKED_BYTES);
    let received = 0;
    let failed = false;
    let ended = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      stream.removeListener('data', onData);
      // Keep draining so the connection can answer; the bytes are dropped.
      stream.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      const needed = received + chunk.length;
      if (needed > limit)
        return fail(new ProblemError('TOO_LARGE', `the body is over ${limit} bytes (MAX_BODY_BYTES)`));
      if (needed > bytes.length) {
        if (declared !== undefined) {
          return fail(new ProblemError('INVALID_REQUEST', `the body is longer than its Content-Length of ${declared}`));
        }
        const grown = allocate(Math.min(limit, Math.max(needed, bytes.length * 2)));
        grown.set(bytes.subarray(0, received));
        bytes = grown;
      }
      bytes.set(chunk, received);
      received = needed;
    };
    stream.on('data', onData);
    stream.once('error', fail);
    stream.once('close', () => {
      if (!ended) fail(new ProblemError('INVALID_REQUEST', 'the client closed the connection before the body ended'));
    });
    stream.once('end', () => {
      ended = true;
      if (failed) return;
      if (declared !== undefined && received !== declared) {
        return fail(new ProblemError('INVALID_REQUEST', `the body ended after ${received} of ${declared} bytes`));
      }
      resolve(bytes.subarray(0, received));
    });
  });
}
