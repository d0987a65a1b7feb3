/**
 * POST /v1/dropout: the native API's adapter over the dropout service. JSON, raw binary and .npy bodies, with the
 * reply format chosen by Accept.
 */

import type { IncomingMessage } from 'node:http';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NPY_BFLOAT16_DETAIL } from '../../codec/npy.js';
import type { Config } from '../../config.js';
import { clip, ProblemError } from '../../errors.js';
import type { BodyReader } from '../../http/body-reader.js';
import { MEDIA_TYPES, negotiateFormat } from '../../http/formats.js';
import { jsonBodyParser } from '../../http/json-body.js';
import { replyDeadline } from '../../http/reply-deadline.js';
import { isPromise, then } from '../../maybe-promise.js';
import { DROPOUT_REPLY_EXAMPLE, DropoutJsonBody, DropoutJsonReply, DropoutQuery } from '../../schemas/dropout.js';
import { NO_LEASE } from '../../service/admission.js';
import { decodeBinaryRequest, decodeJsonRequest, decodeNpyRequest, formatOf, NpyBody } from './decode.js';
import { BINARY_BODY_DOC, NPY_BODY_DOC, problem } from './dropout-docs.js';
import { sendBinary, sendJson } from './encode.js';

export interface DropoutRouteOptions {
  bodyReader: BodyReader;
  config: Config;
}

function unsupportedMediaType(request: FastifyRequest): ProblemError {
  return new ProblemError(
    'UNSUPPORTED_MEDIA_TYPE',
    `send the tensor as ${Object.values(MEDIA_TYPES).join(', ')} (got ${clip(request.headers['content-type'] ?? 'no Content-Type')})`,
  );
}

const dropoutRoutes: FastifyPluginAsyncTypebox<DropoutRouteOptions> = async (app, { bodyReader, config }) => {
  // Only the formats of docs/semantics.md §2: a text/plain body gets 415 rather than Fastify's default string parser.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    MEDIA_TYPES.json,
    jsonBodyParser({
      reader: bodyReader,
      inlineMaxBytes: config.inlineMaxJsonBytes,
      defaultParser: app.getDefaultJsonParser('error', 'error'),
    }),
  );
  app.addContentTypeParser(MEDIA_TYPES.npy, async (request: FastifyRequest, payload: IncomingMessage) => {
    return new NpyBody(await bodyReader.read(request, payload));
  });
  app.addContentTypeParser(MEDIA_TYPES.binary, async (request: FastifyRequest, payload: IncomingMessage) =>
    bodyReader.read(request, payload),
  );
  // Any other type (a form, which is what `curl -d` sends by default, text, multipart) or none at all gets the
  // answer that names the accepted types, before a byte of the body is read.
  app.addContentTypeParser('*', async (request: FastifyRequest) => {
    throw unsupportedMediaType(request);
  });

  app.post(
    '/v1/dropout',
    {
      schema: {
        tags: ['dropout'],
        summary: 'Apply dropout to a tensor',
        description:
          'Masks and scales a tensor as torch.nn.Dropout does in training (kept values × 1/(1−p), the rest 0), or returns it unchanged in eval mode. The same request always gives the same bytes. Body: JSON, or raw binary with the settings in the query. Reply format by Accept (default: the request format).',
        querystring: DropoutQuery,
        body: { content: { [MEDIA_TYPES.json]: { schema: DropoutJsonBody } } },
        response: {
          200: {
            description: 'The tensor after dropout',
            content: {
              [MEDIA_TYPES.json]: { schema: DropoutJsonReply, example: DROPOUT_REPLY_EXAMPLE },
              [MEDIA_TYPES.binary]: BINARY_BODY_DOC,
              [MEDIA_TYPES.npy]: NPY_BODY_DOC,
            },
          },
          400: problem(400, 'Bad input: the problem says which field and what to change'),
          401: problem(401, 'API keys are configured and the request has no valid one (Authorization: Bearer <key>)'),
          406: problem(406, 'No acceptable reply format'),
          408: problem(408, 'The body stopped arriving for BODY_IDLE_TIMEOUT_MS'),
          413: problem(413, 'Body or element count over the limit'),
          415: problem(415, 'Unsupported Content-Type or dtype'),
          429: problem(429, 'Over RATE_LIMIT_PER_MINUTE requests a minute; retry after Retry-After seconds', true),
          500: problem(500, 'The service failed; the problem carries the request id for the logs'),
          503: problem(503, 'Overloaded, or shutting down; retry after Retry-After seconds', true),
          504: problem(504, 'The computation did not finish within REQUEST_TIMEOUT_MS'),
        },
      },
      config: {
        // The binary body is documented but not validated by JSON Schema (it is bytes, checked by the decoder).
        swaggerTransform: (({ schema, url }) => ({
          schema: {
            ...schema,
            body: {
              content: {
                [MEDIA_TYPES.json]: { schema: DropoutJsonBody },
                [MEDIA_TYPES.binary]: BINARY_BODY_DOC,
                [MEDIA_TYPES.npy]: NPY_BODY_DOC,
              },
            },
          },
          url,
        })) satisfies SwaggerTransform,
      },
    },
    // Not async: a small tensor is answered before the handler returns, with no promise made for it (the reply's own
    // thenable, which an async handler returning it waits on, listens for the response's end).
    (request, reply) => {
      const body: unknown = request.body;
      const format = formatOf(body);
      if (format === undefined) throw unsupportedMediaType(request);
      const replyFormat = negotiateFormat(request.headers.accept, format);
      if (replyFormat === undefined) {
        throw new ProblemError('NOT_ACCEPTABLE', `Accept must allow ${Object.values(MEDIA_TYPES).join(' or ')}`);
      }
      const sent = app.dropout.run({
        lease: request.lease ?? NO_LEASE,
        deadline: replyDeadline(reply, config.requestTimeoutMs),
        decode: (context) => {
          const decoded =
            format === 'binary'
              ? decodeBinaryRequest(body as Uint8Array, request.query, context.limits)
              : format === 'npy'
                ? decodeNpyRequest(body as NpyBody, request.query, context.limits)
                : decodeJsonRequest(body, context);
          return then(decoded, (call) => {
            if (replyFormat === 'npy' && call.tensor.dtype === 'bfloat16') {
              throw new ProblemError('UNSUPPORTED_DTYPE', NPY_BFLOAT16_DETAIL);
            }
            if (call.wantMask && replyFormat !== 'json') {
              throw new ProblemError('NOT_ACCEPTABLE', 'return_mask needs a JSON reply: send Accept: application/json');
            }
            return call;
          });
        },
        observe: ({ tensor }, { variant }) => {
          request.tensorLog = { format, dtype: tensor.dtype, elements: tensor.data.length, variant };
        },
        encode: (decoded, outcome, context) =>
          replyFormat === 'json'
            ? sendJson(reply, decoded, outcome, context)
            : sendBinary(reply, replyFormat, decoded.tensor, outcome),
      });
      // Sent already when synchronous: Fastify is then told nothing more (returning the reply would send it twice).
      return isPromise(sent) ? sent : undefined;
    },
  );
};

export default dropoutRoutes;
