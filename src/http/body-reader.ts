/**
 * Reads request bodies into recycled shared memory and gives the memory back when the response has gone out
 * (onResponse: the socket has the bytes). A request that is aborted never returns its buffers; they are simply
 * garbage-collected, so a buffer can never be reused while something might still read it.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Allocate, allocatePlain, readIntoShared } from '../codec/shared-body.js';
import { SharedBufferPool } from '../codec/shared-pool.js';

declare module 'fastify' {
  interface FastifyRequest {
    leasedBuffers: SharedArrayBuffer[] | null;
  }
}

export interface BodyReader {
  /** The body in shared memory (or plain memory with shared = false, for bodies that never leave this thread). */
  read(request: FastifyRequest, payload: IncomingMessage, shared?: boolean): Promise<Uint8Array>;
}

export function registerBodyReader(app: FastifyInstance, limit: number, maxCachedBytes: number): BodyReader {
  const pool = new SharedBufferPool(maxCachedBytes);
  app.decorateRequest('leasedBuffers', null);
  app.addHook('onResponse', (request, _reply, done) => {
    if (request.leasedBuffers) for (const buffer of request.leasedBuffers) pool.release(buffer);
    done();
  });
  return {
    read(request, payload, shared = true) {
      const allocate: Allocate = shared
        ? (size) => {
            const buffer = pool.acquire(size);
            request.leasedBuffers ??= [];
            request.leasedBuffers.push(buffer);
            return new Uint8Array(buffer, 0, size);
          }
        : allocatePlain;
      // A compressed body's Content-Length counts compressed bytes; the limit applies to what it inflates to.
      const encoded = (request.headers['content-encoding'] ?? 'identity') !== 'identity';
      return readIntoShared(payload, encoded ? undefined : request.headers['content-length'], limit, allocate);
    },
  };
}
