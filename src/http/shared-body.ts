/**
 * Reads a request body straight into a SharedArrayBuffer: the one copy from socket chunks into memory is the copy
 * any body parser makes, and the kernel then computes in that memory on any worker, and the reply is written from
 * it. (Fastify's `parseAs: 'buffer'` would make a private Buffer that workers could only get by copying.)
 * Events rather than `for await`: the async iterator costs several microseconds a request, which small requests feel.
 */
import type { Readable } from 'node:stream';
import { ProblemError, quote } from '../errors.js';
import { copyBytes } from '../kernel/copy-bytes.js';

const INITIAL_CHUNKED_BYTES = 64 * 1024;

/** Memory of at least `size` bytes to read into (a view of exactly `size`). */
export type Allocate = (size: number) => Uint8Array;

export const allocatePlain: Allocate = (size) => new Uint8Array(size);

export interface ReadOptions {
  /** The request's Content-Length header, when it is the body's size (not for a compressed body). */
  contentLength: string | undefined;
  /** Largest body, in bytes (MAX_BODY_BYTES). */
  limit: number;
  allocate: Allocate;
  /** Called with the memory a chunked body outgrew, once its bytes are copied out. */
  outgrown?: (bytes: Uint8Array) => void;
  /** Called as bytes arrive with the total so far; an error stops the read. */
  progress?: (received: number) => Error | null;
  /** Longest silence between two chunks of the body before the read fails with 408 (0: no limit). */
  idleTimeoutMs?: number;
}

export function readIntoShared(stream: Readable, options: ReadOptions): Promise<Uint8Array> {
  const { contentLength, limit, allocate, outgrown, progress, idleTimeoutMs = 0 } = options;
  const declared = contentLength === undefined ? undefined : Number(contentLength);
  if (declared !== undefined && !(Number.isSafeInteger(declared) && declared >= 0)) {
    return Promise.reject(
      new ProblemError('INVALID_REQUEST', `Content-Length ${quote(contentLength)} is not a byte count`),
    );
  }
  if (declared !== undefined && declared > limit) {
    return Promise.reject(
      new ProblemError('TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit} (MAX_BODY_BYTES)`),
    );
  }
  return new Promise((resolve, reject) => {
    let bytes = allocate(declared ?? INITIAL_CHUNKED_BYTES);
    let target = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    let received = 0;
    let failed = false;
    let ended = false;
    let idle: NodeJS.Timeout | undefined;
    if (idleTimeoutMs > 0) {
      idle = setTimeout(() => {
        fail(
          new ProblemError(
            'BODY_TIMEOUT',
            `no body bytes arrived for ${idleTimeoutMs} ms (BODY_IDLE_TIMEOUT_MS); send the body without pausing`,
          ),
        );
      }, idleTimeoutMs);
    }
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      clearTimeout(idle);
      stream.removeListener('data', onData);
      // Keep draining so the connection can answer; the bytes are dropped.
      stream.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      idle?.refresh();
      const needed = received + chunk.length;
      if (needed > limit)
        return fail(new ProblemError('TOO_LARGE', `the body is over ${limit} bytes (MAX_BODY_BYTES)`));
      const refused = progress?.(needed);
      if (refused) return fail(refused);
      if (needed > bytes.length) {
        if (declared !== undefined) {
          return fail(new ProblemError('INVALID_REQUEST', `the body is longer than its Content-Length of ${declared}`));
        }
        const grown = allocate(Math.min(limit, Math.max(needed, bytes.length * 2)));
        const grownTarget = Buffer.from(grown.buffer, grown.byteOffset, grown.length);
        copyBytes(grownTarget, 0, target.subarray(0, received));
        outgrown?.(bytes);
        bytes = grown;
        target = grownTarget;
      }
      copyBytes(target, received, chunk);
      received = needed;
    };
    stream.on('data', onData);
    // A stream paused on purpose (e.g. a decompressor set up in preParsing) stays paused when 'data' is attached.
    stream.resume();
    // A client that goes away mid-body is the client's doing, not a server error.
    stream.once('error', (error: Error & { code?: string }) =>
      fail(
        new ProblemError(
          'INVALID_REQUEST',
          error.code === 'ECONNRESET'
            ? 'the connection closed before the body ended'
            : `the body could not be read: ${error.message}`,
        ),
      ),
    );
    stream.once('close', () => {
      if (!ended) fail(new ProblemError('INVALID_REQUEST', 'the client closed the connection before the body ended'));
    });
    stream.once('end', () => {
      ended = true;
      clearTimeout(idle);
      if (failed) return;
      if (declared !== undefined && received !== declared) {
        return fail(new ProblemError('INVALID_REQUEST', `the body ended after ${received} of ${declared} bytes`));
      }
      resolve(bytes.subarray(0, received));
    });
  });
}
