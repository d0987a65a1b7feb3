/**
 * POST /v1/dropout (API.md §2): validate, decode, dispatch to the pool, encode. JSON and raw binary bodies, with the
 * reply format chosen by Accept.
 */

import type { IncomingMessage } from 'node:http';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { NPY_BFLOAT16_DETAIL } from '../../codec/npy.js';
import type { Config } from '../../config.js';
import { resolveSettings } from '../../dropout/settings.js';
import { clip, type Problem, ProblemError, toProblem } from '../../errors.js';
import type { BodyReader } from '../../http/body-reader.js';
import { MEDIA_TYPES, negotiateFormat } from '../../http/formats.js';
import { jsonBodyParser } from '../../http/json-body.js';
import { PROBLEM_CONTENT_TYPE } from '../../http/problems.js';
import type { OffloadPool } from '../../offload/pool.js';
import { ProblemSchema } from '../../schemas/common.js';
import { DROPOUT_REPLY_EXAMPLE, DropoutJsonBody, DropoutJsonReply, DropoutQuery } from '../../schemas/dropout.js';
import { NO_LEASE } from '../../service/admission.js';
import { applyDropout } from '../../service/apply-dropout.js';
import { requestSignal } from '../../service/deadline.js';
import {
  decodeBinaryRequest,
  decodeJsonRequest,
  decodeNpyRequest,
  formatOf,
  NpyBody,
  sendBinary,
  sendJson,
} from './dropout-io.js';

/** Deepest nesting / highest rank accepted; deeper input is refused before it is walked. */
export const MAX_RANK = 32;

export interface DropoutRouteOptions {
  bodyReader: BodyReader;
  config: Config;
  pool: OffloadPool;
}

/**
 * One problem per status the route answers with, worded as the service words it; test/docs/first-use.test.ts provokes
 * the ones a request can and checks they are these.
 */
export const PROBLEM_EXAMPLES = {
  400: toProblem('P_OUT_OF_RANGE', 'body/p must be <= 1'),
  401: toProblem('UNAUTHORIZED', 'send an API key as Authorization: Bearer <key>'),
  406: toProblem('NOT_ACCEPTABLE', `Accept must allow ${Object.values(MEDIA_TYPES).join(' or ')}`),
  408: toProblem(
    'BODY_TIMEOUT',
    'no body bytes arrived for 5000 ms (BODY_IDLE_TIMEOUT_MS); send the body without pausing',
  ),
  413: toProblem('TOO_LARGE', 'shape [100000,100000] has 10000000000 elements; the limit is 16777216'),
  415: toProblem(
    'UNSUPPORTED_MEDIA_TYPE',
    `send the tensor as ${Object.values(MEDIA_TYPES).join(', ')} (got application/x-www-form-urlencoded)`,
  ),
  429: toProblem('RATE_LIMITED', 'more than 600 requests per minute from this key or address; retry in 42 seconds'),
  500: toProblem(
    'INTERNAL',
    'the service failed on request 8f0e7c1a-3b2d-4e5f-9a6b-7c8d9e0f1a2b; quote it when reporting',
    '8f0e7c1a-3b2d-4e5f-9a6b-7c8d9e0f1a2b',
  ),
  503: toProblem(
    'OVERLOADED',
    'the service is overloaded: 256 computations are in flight (MAX_QUEUE 256); retry shortly',
  ),
  504: toProblem(
    'DEADLINE_EXCEEDED',
    'the computation did not finish within REQUEST_TIMEOUT_MS; send a smaller tensor or retry',
  ),
} as const satisfies Record<number, Problem>;

const RETRY_AFTER = {
  'Retry-After': { type: 'integer', description: 'Seconds to wait before retrying' },
};

const problem = (status: keyof typeof PROBLEM_EXAMPLES, description: string, retry = false) => ({
  description,
  ...(retry ? { headers: RETRY_AFTER } : {}),
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema, example: PROBLEM_EXAMPLES[status] } },
});

const NPY_BODY_DOC = {
  description:
    'A NumPy .npy file (np.save: versions 1.0, 2.0, 3.0; <f2 <f4 <f8 or big-endian; C or Fortran order). Shape and dtype come from its header, the settings from the query. A .npy reply (Accept: application/x-npy) reads back with np.load; bfloat16 has no .npy code (415).',
  schema: { type: 'string', format: 'binary' },
};

const BINARY_BODY_DOC = {
  description:
    'Raw little-endian values of the tensor, row-major; shape, dtype and the settings are query parameters. Reply headers: Tensor-Shape, Tensor-Dtype, Dropout-Seed, Dropout-Kept, Dropout-Offset.',
  schema: { type: 'string', format: 'binary' },
};

function unsupportedMediaType(request: FastifyRequest): ProblemError {
  return new ProblemError(
    'UNSUPPORTED_MEDIA_TYPE',
    `send the tensor as ${Object.values(MEDIA_TYPES).join(', ')} (got ${clip(request.headers['content-type'] ?? 'no Content-Type')})`,
  );
}

const dropoutRoutes: FastifyPluginAsyncTypebox<DropoutRouteOptions> = async (app, { bodyReader, config, pool }) => {
  const limits = { maxElements: config.maxElements, maxRank: MAX_RANK, inlineMaxElements: config.inlineMaxElements };

  // Only the formats of API.md §2: a text/plain body gets 415 rather than Fastify's default string parser.
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
    // The lease is held until the handler is done, so no worker can still be writing memory that gets recycled.
    async (request, reply) =>
      (request.lease ?? NO_LEASE).during(async () => {
        const body: unknown = request.body;
        const format = formatOf(body);
        if (format === undefined) {
          throw unsupportedMediaType(request);
        }
        const replyFormat = negotiateFormat(request.headers.accept, format);
        if (replyFormat === undefined) {
          throw new ProblemError('NOT_ACCEPTABLE', `Accept must allow ${Object.values(MEDIA_TYPES).join(' or ')}`);
        }
        // Created once the tensor may reach the pool: a deadline timer is not worth setting for in-thread work.
        let signal: AbortSignal | undefined;
        const abortSignal = () => {
          signal ??= requestSignal(reply, config.requestTimeoutMs);
          return signal;
        };
        const decoded =
          format === 'binary'
            ? decodeBinaryRequest(body as Uint8Array, request.query, limits)
            : format === 'npy'
              ? decodeNpyRequest(body as NpyBody, request.query, limits)
              : await decodeJsonRequest(body, pool, limits, abortSignal);
        if (replyFormat === 'npy' && decoded.tensor.dtype === 'bfloat16') {
          throw new ProblemError('UNSUPPORTED_DTYPE', NPY_BFLOAT16_DETAIL);
        }
        if (decoded.wantMask && replyFormat !== 'json') {
          throw new ProblemError('NOT_ACCEPTABLE', 'return_mask needs a JSON reply: send Accept: application/json');
        }
        const { tensor } = decoded;
        const settings = resolveSettings(decoded.raw, tensor.shape, tensor.dtype);
        request.tensorLog = { format, dtype: tensor.dtype, elements: tensor.data.length, variant: settings.variant };

        const big = tensor.data.length > config.inlineMaxElements;
        const result = await applyDropout(pool, tensor, settings, decoded.wantMask, big ? abortSignal() : undefined);
        if (replyFormat !== 'json') return sendBinary(reply, replyFormat, tensor, settings, result);
        return sendJson(reply, decoded, settings, result, pool, config.inlineMaxJsonBytes, abortSignal);
      }),
  );
};

export default dropoutRoutes;
