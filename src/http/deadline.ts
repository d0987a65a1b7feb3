/**
 * The abort signal of one request: its deadline (REQUEST_TIMEOUT_MS from arrival) or the client hanging up,
 * whichever comes first. Pool work queued for an aborted request is dropped rather than computed.
 */
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
  return AbortSignal.any([deadline, gone.signal]);
}
