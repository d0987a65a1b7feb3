/**
 * Every error leaves as an RFC 9457 problem document with a stable code: client errors say what to change, server
 * errors carry the request id and nothing else.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip, MAX_DETAIL_CHARS, type ProblemCode, ProblemError, quote, toProblem } from '../errors.js';
import { describePath } from './validation.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Which code a schema violation of each request field gets, so that e.g. a bad `p` reads P_OUT_OF_RANGE. */
const FIELD_CODES: Record<string, ProblemCode> = {
  p: 'P_OUT_OF_RANGE',
  seed: 'BAD_SEED',
  offset: 'BAD_OFFSET',
  shape: 'BAD_SHAPE',
  dtype: 'UNSUPPORTED_DTYPE',
};

const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
};

const STATUS_CODES: Record<number, ProblemCode> = {
  404: 'NOT_FOUND',
  406: 'NOT_ACCEPTABLE',
  413: 'TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

interface AjvIssue {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

function describeValidation(error: FastifyError): { code: ProblemCode; detail: string } {
  const issue = (error.validation as AjvIssue[])[0];
  const where = `${error.validationContext ?? 'request'}${describePath(issue.instancePath)}`;
  const field = issue.instancePath.split('/')[1] ?? '';
  let detail = `${where} ${issue.message ?? 'is invalid'}`;
  if (Array.isArray(issue.params.allowedValues)) detail += `: ${issue.params.allowedValues.join(', ')}`;
  if (typeof issue.params.additionalProperty === 'string') {
    detail = `${where} has an unknown field ${quote(issue.params.additionalProperty)}`;
  }
  return { code: Object.hasOwn(FIELD_CODES, field) ? FIELD_CODES[field] : 'INVALID_REQUEST', detail };
}

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = '1';

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string, requestId?: string): FastifyReply {
  const problem = toProblem(code, clip(detail, MAX_DETAIL_CHARS), requestId);
  if (problem.status === 503) reply.header('Retry-After', RETRY_AFTER_SECONDS);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof ProblemError) {
    if (error.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, error.code, error.detail, error.statusCode >= 500 ? request.id : undefined);
  }
  if (error.name === 'TimeoutError') {
    return sendProblem(
      reply,
      'DEADLINE_EXCEEDED',
      'the computation did not finish within REQUEST_TIMEOUT_MS; send a smaller tensor or retry',
    );
  }
  if (error.name === 'ClientGoneError') {
    request.log.info('client closed the connection before the reply');
    return sendProblem(reply, 'INVALID_REQUEST', error.message);
  }
  if (error.validation) {
    const { code, detail } = describeValidation(error);
    return sendProblem(reply, code, detail);
  }
  const status = error.statusCode ?? 500;
  if (status < 500) {
    const code = FASTIFY_CODES[error.code] ?? (error instanceof SyntaxError ? 'MALFORMED_JSON' : undefined);
    return sendProblem(reply, code ?? STATUS_CODES[status] ?? 'INVALID_REQUEST', error.message);
  }
  request.log.error({ err: error }, 'request failed');
  return sendProblem(
    reply,
    'INTERNAL',
    `the service failed on request ${request.id}; quote it when reporting`,
    request.id,
  );
}

/**
 * Errors Fastify's router raises before any route, hook or error handler runs: a path that does not decode, or a
 * path parameter over the router's 100 characters. Fastify's own answer repeats the whole URL, in neither API's
 * error format.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = clip(request.url.split('?')[0]);
  const detail =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `the path ${path} has a segment over 100 characters`
      : `the path ${path} is not a valid URL`;
  if (/^\/v2(\/|$)/.test(request.url)) {
    return reply
      .code(400)
      .header('content-type', 'application/json')
      .send(Buffer.from(JSON.stringify({ error: detail })));
  }
  return sendProblem(reply, 'INVALID_REQUEST', detail);
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
