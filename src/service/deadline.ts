/**
 * The abort signal of one request: its deadline (REQUEST_TIMEOUT_MS from arrival) or the client hanging up,
 * whichever comes first. Pool work queued for an aborted request is dropped rather than computed.
 */
import { setMaxListeners } from 'node:events';
import type { FastifyReply } from 'fastify';

export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

export function requestSignal(reply: FastifyReply, timeoutMs: number): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new ClientGoneError('the client closed the connection'));
  });
  const remaining = Math.max(1, Math.round(timeoutMs - reply.elapsedTime));
  const deadline = AbortSignal.timeout(remaining);
  const signal = AbortSignal.any([deadline, gone.signal]);
  // Every pool task of the request listens to it (a 16M tensor in small chunks is many tasks).
  setMaxListeners(0, signal);
  return signal;
}
