/** An HTTP call's deadline: REQUEST_TIMEOUT_MS from the request's arrival, or the client closing its connection. */
import type { FastifyReply } from 'fastify';
import { ClientGoneError, type DeadlineSource } from '../service/deadline.js';

export function replyDeadline(reply: FastifyReply, timeoutMs: number): DeadlineSource {
  return {
    timeoutMs,
    elapsedMs: () => reply.elapsedTime,
    onGone: (abort) => {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) abort(new ClientGoneError('the client closed the connection'));
      });
    },
  };
}
