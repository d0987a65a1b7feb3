/**
 * POST /v2/models/dropout[/versions/1]/infer: the Open Inference Protocol's adapter over the dropout service. A JSON
 * request, or Triton's binary tensor extension (a JSON header of Inference-Header-Content-Length bytes, then raw
 * tensor data); outputs "output" and, when listed, "mask".
 */
import type { FastifyInstance } from 'fastify';
import { binaryChunks, type InferResult, splitInferBody } from '../../codec/v2-infer.js';
import type { Config } from '../../config.js';
import { ProblemError } from '../../errors.js';
import { sendParts } from '../../http/reply-body.js';
import { replyDeadline } from '../../http/reply-deadline.js';
import { InferRequest } from '../../schemas/v2.js';
import { NO_LEASE } from '../../service/admission.js';
import { checkVersion, errorSchemas, Params, tags } from './metadata.js';

export function inferRoute(app: FastifyInstance, base: string, config: Config): void {
  app.post(
    `${base}/infer`,
    {
      schema: {
        tags,
        summary: 'Inference: dropout on the tensor "input"',
        description:
          'JSON body, or a JSON header of Inference-Header-Content-Length bytes followed by raw tensor data (Triton binary tensor extension). Outputs "output" and, when listed, "mask".',
        params: Params,
        response: { ...errorSchemas },
      },
      config: {
        swaggerTransform: ({ schema, url }) => ({
          schema: { ...schema, body: { content: { 'application/json': { schema: InferRequest } } } },
          url,
        }),
      },
    },
    async (request, reply) => {
      checkVersion((request.params as { version?: string }).version);
      const body = request.body;
      if (!(body instanceof Uint8Array))
        throw new ProblemError('INVALID_REQUEST', 'the inference request needs a body');
      const headerLength = request.headers['inference-header-content-length'];
      const { header, binary } = splitInferBody(body, typeof headerLength === 'string' ? headerLength : undefined);
      return app.dropout.run({
        lease: request.lease ?? NO_LEASE,
        deadline: replyDeadline(reply, config.requestTimeoutMs),
        decode: async ({ codec, signal }) => {
          const call = await codec.readInferCall(body, header, binary, signal);
          return { ...call, wantMask: call.outputs.some((o) => o.name === 'mask') };
        },
        observe: ({ tensor }, { variant }) => {
          const format = binary.length > 0 ? 'v2-binary' : 'v2-json';
          request.tensorLog = { format, dtype: tensor.dtype, elements: tensor.data.length, variant };
        },
        encode: async (call, { settings, kept, mask }, { codec, signal }) => {
          const result: InferResult = {
            tensor: call.tensor,
            mask,
            seed: settings.seed === null ? null : settings.seed.toString(),
            offset: settings.offset,
            kept,
          };
          const replyHeader = await codec.writeInferHeader(call, result, signal);
          const chunks = binaryChunks(call, result);
          if (chunks.length === 0) return sendParts(reply.header('content-type', 'application/json'), [replyHeader]);
          reply
            .header('Inference-Header-Content-Length', String(replyHeader.length))
            .header('content-type', 'application/octet-stream');
          return sendParts(reply, [replyHeader, ...chunks]);
        },
      });
    },
  );
}
