/**
 * The Open Inference Protocol's answers: JSON bodies, and errors as {"error": "..."} with the protocol's statuses,
 * in the words its clients (Triton's among them) read.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip, MAX_DETAIL_CHARS } from '../../errors.js';
import { allowedMethods, logFailure } from '../../http/problems.js';
import { classifyError } from '../../service/classify-error.js';
import { MODEL } from '../../service/model.js';

/** The protocol's error statuses are 400/404/413/503; a 415 or 406 of the native API is a 400 here. */
function v2Status(status: number): number {
  if (status === 415 || status === 406) return 400;
  return status;
}

export function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('content-type', 'application/json').send(Buffer.from(JSON.stringify(value)));
}

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  if (status === 503) reply.header('Retry-After', '1');
  // A Buffer keeps Content-Type exactly application/json (Fastify adds a charset to string payloads).
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ error: clip(message, MAX_DETAIL_CHARS) })));
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, brief, log } = classifyError(error, request.id);
  logFailure(request, error, log);
  return sendError(reply, v2Status(status), brief);
}

/** A /v2/models/{name} route (metadata, ready, infer, with or without /versions/{v}); the name still percent-encoded. */
const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?(?:\/ready|\/infer)?\/?$/;

/**
 * The model a request names when it is not this one, so the client hears the model is unknown (in Triton's words,
 * which its clients and scripts look for) rather than that a path has no route.
 */
function unknownModel(path: string): string | undefined {
  const match = MODEL_ROUTE.exec(path);
  if (match === null) return undefined;
  let name = match[1];
  try {
    name = decodeURIComponent(name);
  } catch {
    // Malformed escapes: the name as sent.
  }
  return name === MODEL ? undefined : name;
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0];
  const model = unknownModel(path);
  if (model !== undefined) return sendError(reply, 404, `Request for unknown model: '${clip(model)}' is not found`);
  const allowed = allowedMethods(request);
  if (allowed.length > 0) {
    reply.header('Allow', allowed.join(', '));
    return sendError(reply, 405, `${clip(path)} takes ${allowed.join(', ')}, not ${clip(request.method)}`);
  }
  return sendError(reply, 404, `no route ${request.method} ${clip(path)}`);
}
