/**
 * Reads a compute request's body into its lease's recycled shared memory. Bytes past what was reserved when the
 * request arrived (a chunked body, or one that inflates) are reserved as they come, so the byte budget holds for
 * every body; a body that stops arriving fails after BODY_IDLE_TIMEOUT_MS instead of holding its memory until the
 * request deadline.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '../errors.js';
import { allocatePlain, readIntoShared } from './shared-body.js';

/** Reserve at least this much at a time, so a chunked body costs a few reservations, not one per chunk. */
const RESERVE_STEP = 1024 * 1024;

export interface BodyReader {
  /** The body in shared memory (or plain memory with shared = false, for bodies that never leave this thread). */
  read(request: FastifyRequest, payload: IncomingMessage, shared?: boolean): Promise<Uint8Array>;
}

export interface BodyReaderOptions {
  /** Largest body, in bytes (MAX_BODY_BYTES). */
  limit: number;
  /** BODY_IDLE_TIMEOUT_MS. */
  idleTimeoutMs: number;
}

export function isIdentityEncoding(request: FastifyRequest): boolean {
  const coding = request.headers['content-encoding'];
  return coding === undefined || coding.trim().toLowerCase() === 'identity';
}

export function bodyReader({ limit, idleTimeoutMs }: BodyReaderOptions): BodyReader {
  return {
    read(request, payload, shared = true) {
      const lease = request.lease;
      // A compressed body's Content-Length counts compressed bytes; the limit applies to what it inflates to.
      const contentLength = isIdentityEncoding(request) ? request.headers['content-length'] : undefined;
      if (lease === null)
        return readIntoShared(payload, { contentLength, limit, allocate: allocatePlain, idleTimeoutMs });
      return readIntoShared(payload, {
        contentLength,
        limit,
        idleTimeoutMs,
        allocate: shared ? (size) => lease.acquire(size) : allocatePlain,
        outgrown: (bytes) => lease.giveBack(bytes.buffer),
        progress: (received) => {
          const more = received - lease.reservedBytes;
          if (more <= 0 || lease.reserve(Math.max(more, Math.min(RESERVE_STEP, limit - lease.reservedBytes))))
            return null;
          if (lease.reserve(more)) return null;
          return new ProblemError(
            'OVERLOADED',
            `the service is overloaded: ${lease.admission.bytesFull(more)}; retry shortly`,
          );
        },
      });
    },
  };
}
