/**
 * Every error leaves as an RFC 9457 problem document with a stable code: client errors say what to change, server
 * errors carry the request id and nothing else.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip, MAX_DETAIL_CHARS, type ProblemCode, ProblemError, toProblem } from '../errors.js';
import { type ClassifiedError, classifyError } from '../service/classify-error.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = '1';

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string, requestId?: string): FastifyReply {
  const problem = toProblem(code, clip(detail, MAX_DETAIL_CHARS), requestId);
  if (problem.status === 503) reply.header('Retry-After', RETRY_AFTER_SECONDS);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { code, status, detail, log } = classifyError(error, request.id);
  logFailure(request, error, log);
  return sendProblem(reply, code, detail, status >= 500 ? request.id : undefined);
}

/** The service's faults are logged with the request id; a client that left is noted; the rest is the service working. */
export function logFailure(request: FastifyRequest, error: unknown, log: ClassifiedError['log']): void {
  if (log === 'error') request.log.error({ err: error }, 'request failed');
  else if (log === 'client-gone') request.log.info('client closed the connection before the reply');
}

/**
 * Errors Fastify's router raises before any route, hook or error handler runs: a path that does not decode, or a
 * path parameter over the router's 100 characters. Fastify's own answer repeats the whole URL, in neither API's
 * error format; this says what is wrong, for the protocol's own renderer.
 */
export function routerError(error: FastifyError, request: FastifyRequest): ProblemError {
  const path = clip(request.url.split('?')[0]);
  return new ProblemError(
    'INVALID_REQUEST',
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `the path ${path} has a segment over 100 characters`
      : `the path ${path} is not a valid URL`,
  );
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * The methods the requested path is served with, for a 405's Allow header (RFC 9110 §15.5.6). Only paths without
 * parameters are matched: the router is asked for the path as a route of its own.
 */
export function allowedMethods(request: FastifyRequest): string[] {
  const path = request.url.split('?')[0];
  return METHODS.filter((method) => request.server.hasRoute({ url: path, method }));
}

/** A known path asked with another method says which to use instead of claiming the route does not exist. */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0];
  const allowed = allowedMethods(request);
  if (allowed.length > 0) {
    reply.header('Allow', allowed.join(', '));
    return sendProblem(
      reply,
      'METHOD_NOT_ALLOWED',
      `${clip(path)} takes ${allowed.join(', ')}, not ${clip(request.method)}; see /docs`,
    );
  }
  return sendProblem(reply, 'NOT_FOUND', `no route ${request.method} ${clip(path)}; see /docs`);
}
