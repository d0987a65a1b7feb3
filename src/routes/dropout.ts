/**
 * POST /v1/dropout (API.md §2): validate, decode, dispatch to the pool, encode. JSON and raw binary bodies, with the
 * reply format chosen by Accept.
 */

import type { IncomingMessage } from 'node:http';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decodeBinaryTensor, tensorBytes } from '../codec/binary-tensor.js';
import {
  decodeJsonTensor,
  encodeJsonMask,
  encodeJsonValues,
  type JsonTensor,
  type Tensor,
} from '../codec/json-tensor.js';
import { type RawSettings, resolveSettings, type Settings } from '../codec/settings.js';
import { parseShapeParam } from '../codec/shape.js';
import { readIntoShared } from '../codec/shared-body.js';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import { type Format, MEDIA_TYPES, negotiateFormat } from '../http/formats.js';
import { PROBLEM_CONTENT_TYPE } from '../http/problems.js';
import { applyDropout } from '../pool/apply.js';
import type { DropoutPool, DropoutResult } from '../pool/dropout-pool.js';
import { ProblemSchema } from '../schemas/common.js';
import { DropoutJsonBody, DropoutJsonReply, DropoutQuery } from '../schemas/dropout.js';

/** Deepest nesting / highest rank accepted; deeper input is refused before it is walked. */
export const MAX_RANK = 32;

export interface DropoutRouteOptions {
  config: Config;
  pool: DropoutPool;
}

const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

const BINARY_BODY_DOC = {
  description:
    'Raw little-endian values of the tensor, row-major; shape, dtype and the settings are query parameters. Reply headers: Tensor-Shape, Tensor-Dtype, Dropout-Seed, Dropout-Kept, Dropout-Offset.',
  schema: { type: 'string', format: 'binary' },
};

function jsonReply(tensor: JsonTensor, settings: Settings, result: DropoutResult): string {
  const seed = settings.seed === null ? 'null' : `"${settings.seed}"`;
  const mask = result.mask ? `,"mask":${encodeJsonMask(tensor, result.mask)}` : '';
  return (
    `{"output":${encodeJsonValues(tensor)},"shape":${JSON.stringify(tensor.shape)},"dtype":"${tensor.dtype}",` +
    `"p":${JSON.stringify(settings.p)},"mode":"${settings.mode}","variant":"${settings.variant}","rng":"${settings.rng}",` +
    `"seed":${seed},"offset":${settings.offset},"kept":${result.kept}${mask}}`
  );
}

function sendBinary(reply: FastifyReply, tensor: Tensor, settings: Settings, result: DropoutResult): FastifyReply {
  reply.type(MEDIA_TYPES.binary).headers({
    'Tensor-Shape': tensor.shape.join(','),
    'Tensor-Dtype': tensor.dtype,
    'Dropout-Kept': String(result.kept),
    'Dropout-Offset': String(settings.offset),
  });
  if (settings.seed !== null) reply.header('Dropout-Seed', settings.seed.toString());
  return reply.send(tensorBytes(tensor));
}

const dropoutRoutes: FastifyPluginAsyncTypebox<DropoutRouteOptions> = async (app, { config, pool }) => {
  const limits = { maxElements: config.maxElements, maxRank: MAX_RANK };

  // Only the formats of API.md §2: a text/plain body gets 415 rather than Fastify's default string parser.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(MEDIA_TYPES.binary, async (request: FastifyRequest, payload: IncomingMessage) =>
    readIntoShared(payload, request.headers['content-length'], config.maxBodyBytes),
  );

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
              [MEDIA_TYPES.json]: { schema: DropoutJsonReply },
              [MEDIA_TYPES.binary]: BINARY_BODY_DOC,
            },
          },
          400: problem('Bad input: the problem says which field and what to change'),
          406: problem('No acceptable reply format'),
          413: problem('Body or element count over the limit'),
          415: problem('Unsupported Content-Type or dtype'),
        },
      },
      config: {
        // The binary body is documented but not validated by JSON Schema (it is bytes, checked by the decoder).
        swaggerTransform: (({ schema, url }) => ({
          schema: {
            ...schema,
            body: {
              content: { [MEDIA_TYPES.json]: { schema: DropoutJsonBody }, [MEDIA_TYPES.binary]: BINARY_BODY_DOC },
            },
          },
          url,
        })) satisfies SwaggerTransform,
      },
    },
    async (request, reply) => {
      const body: unknown = request.body;
      const format: Format | undefined =
        body instanceof Uint8Array ? 'binary' : typeof body === 'object' && body !== null ? 'json' : undefined;
      if (format === undefined) {
        throw new ProblemError(
          'UNSUPPORTED_MEDIA_TYPE',
          `send the tensor as ${MEDIA_TYPES.json} or ${MEDIA_TYPES.binary} (got ${request.headers['content-type'] ?? 'no Content-Type'})`,
        );
      }
      const replyFormat = negotiateFormat(request.headers.accept, format);
      if (replyFormat === undefined) {
        throw new ProblemError('NOT_ACCEPTABLE', `Accept must allow ${Object.values(MEDIA_TYPES).join(' or ')}`);
      }

      let tensor: Tensor;
      let raw: RawSettings;
      let wantMask = false;
      if (format === 'json') {
        const json = body as DropoutJsonBody;
        tensor = decodeJsonTensor(json.input, json.shape, json.dtype ?? 'float32', limits);
        raw = json;
        wantMask = json.return_mask ?? false;
      } else {
        const query = request.query;
        const shape = query.shape === undefined ? undefined : parseShapeParam(query.shape);
        tensor = decodeBinaryTensor(body as Uint8Array, shape, query.dtype ?? 'float32', limits);
        raw = query;
      }
      if (wantMask && replyFormat !== 'json') {
        throw new ProblemError('NOT_ACCEPTABLE', 'return_mask needs a JSON reply: send Accept: application/json');
      }
      const settings = resolveSettings(raw, tensor.data.length);
      request.tensorLog = { format, dtype: tensor.dtype, elements: tensor.data.length };

      const result = await applyDropout(pool, tensor, settings, wantMask);
      if (replyFormat === 'binary') return sendBinary(reply, tensor, settings, result);
      // A binary tensor has no nesting of its own; its JSON form nests by shape, as NumPy's tolist() does.
      const jsonTensor: JsonTensor = { ...tensor, nested: format === 'json' ? (tensor as JsonTensor).nested : true };
      return reply.type(MEDIA_TYPES.json).send(jsonReply(jsonTensor, settings, result));
    },
  );
};

export default dropoutRoutes;
