/**
 * The Open Inference Protocol (KServe V2) with Triton's binary tensor extension (API.md §3), so tritonclient,
 * KServe clients and their curl scripts can call the service unchanged. Errors here are {"error": "..."}.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { JsonLimits } from '../../codec/json-tensor.js';
import {
  binaryChunks,
  encodeInferHeader,
  type InferCall,
  type InferResult,
  parseInferHeader,
  readInferCall,
  splitInferBody,
} from '../../codec/v2-infer.js';
import type { Config } from '../../config.js';
import { resolveSettings } from '../../dropout/settings.js';
import { clip, MAX_DETAIL_CHARS, PROBLEMS, ProblemError } from '../../errors.js';
import type { BodyReader } from '../../http/body-reader.js';
import { SERVICE_VERSION } from '../../http/docs.js';
import { allowedMethods } from '../../http/problems.js';
import { sendParts } from '../../http/reply-body.js';
import { sharedMask, sharedTensor, tensorOf } from '../../offload/infer-tasks.js';
import type { OffloadPool } from '../../offload/pool.js';
import { InferRequest, ModelMetadata, ServerMetadata, V2Error } from '../../schemas/v2.js';
import { NO_LEASE } from '../../service/admission.js';
import { applyDropout } from '../../service/apply-dropout.js';
import { requestSignal } from '../../service/deadline.js';
import type { Liveness, Readiness } from '../health.js';
import { MAX_RANK } from '../v1/dropout.js';

export interface V2Options {
  bodyReader: BodyReader;
  config: Config;
  pool: OffloadPool;
  readiness: Readiness;
  liveness: Liveness;
}

const MODEL = 'dropout';
const MODEL_VERSION = '1';
const EXTENSIONS = ['binary_tensor_data'];

/** The protocol's error statuses are 400/404/413/503; a 415 of the native API is a 400 here. */
function v2Status(status: number): number {
  if (status === 415 || status === 406) return 400;
  return status;
}

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  if (status === 503) reply.header('Retry-After', '1');
  // A Buffer keeps Content-Type exactly application/json (Fastify adds a charset to string payloads).
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(Buffer.from(JSON.stringify({ error: clip(message, MAX_DETAIL_CHARS) })));
}

/** A rough size of one written value, to estimate a reply's bytes before writing it. */
const BYTES_PER_JSON_VALUE = 12;

/** The call of a large header, read by a worker; its errors are rethrown as the inline path throws them. */
async function decodeOnWorker(
  pool: OffloadPool,
  body: Uint8Array,
  headerLength: number,
  limits: JsonLimits,
  signal: AbortSignal,
): Promise<InferCall> {
  const { buffer, byteOffset, byteLength } = body;
  const decoded = await pool.decodeInfer(
    {
      body: { buffer: buffer as SharedArrayBuffer, byteOffset, byteLength },
      headerLength,
      // The worker's tensor must be in shared memory whatever its size: it is handed back, not copied.
      limits: { ...limits, inlineMaxElements: -1 },
    },
    signal,
  );
  if (decoded.ok) return { ...decoded.call, tensor: tensorOf(decoded.call.tensor) };
  if ('code' in decoded) throw new ProblemError(decoded.code, decoded.detail);
  const { message, errors, context } = decoded.validation;
  throw Object.assign(new Error(message), { statusCode: 400, validation: errors, validationContext: context });
}

/** A large reply's JSON header, written by a worker. */
function encodeOnWorker(
  pool: OffloadPool,
  call: InferCall,
  result: InferResult,
  signal: AbortSignal,
): Promise<Uint8Array> {
  return pool.encodeInfer(
    {
      call: { id: call.id, outputs: call.outputs },
      result: {
        ...result,
        tensor: sharedTensor(result.tensor),
        mask: result.mask ? sharedMask(result.mask) : undefined,
      },
      modelVersion: MODEL_VERSION,
    },
    signal,
  );
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

function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.header('content-type', 'application/json').send(Buffer.from(JSON.stringify(value)));
}

const errorSchemas = { 400: V2Error, 404: V2Error, 413: V2Error, 503: V2Error };

export default async function v2Routes(
  app: FastifyInstance,
  { bodyReader, config, pool, readiness, liveness }: V2Options,
): Promise<void> {
  const limits = { maxElements: config.maxElements, maxRank: MAX_RANK, inlineMaxElements: config.inlineMaxElements };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.name === 'TimeoutError')
      return sendError(reply, 504, 'the computation did not finish within REQUEST_TIMEOUT_MS');
    if (error instanceof ProblemError) {
      // Overload and deadline answers are the service working as designed; only INTERNAL is a failure to log.
      if (error.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
      return sendError(
        reply,
        v2Status(error.statusCode),
        error.code === 'INTERNAL' ? `internal error (request ${request.id})` : error.detail,
      );
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      const message = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? PROBLEMS.TOO_LARGE.title : error.message;
      return sendError(reply, v2Status(status), message);
    }
    request.log.error({ err: error }, 'request failed');
    return sendError(reply, 500, `internal error (request ${request.id})`);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const model = unknownModel(path);
    if (model !== undefined) return sendError(reply, 404, `Request for unknown model: '${clip(model)}' is not found`);
    const allowed = allowedMethods(request);
    if (allowed.length > 0) {
      reply.header('Allow', allowed.join(', '));
      return sendError(reply, 405, `${clip(path)} takes ${allowed.join(', ')}, not ${clip(request.method)}`);
    }
    return sendError(reply, 404, `no route ${request.method} ${clip(path)}`);
  });

  // Triton's clients send the body with no Content-Type (the sync client) or as application/octet-stream.
  app.removeAllContentTypeParsers();
  const readBody = async (request: FastifyRequest, payload: IncomingMessage) => bodyReader.read(request, payload);
  app.addContentTypeParser(['application/json', 'application/octet-stream'], readBody);
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) => {
    if (request.headers['content-type'] !== undefined) {
      throw new ProblemError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type ${clip(request.headers['content-type'])} is not accepted; send application/json, application/octet-stream or none`,
      );
    }
    return readBody(request, payload);
  });

  const tags = ['open inference protocol'];
  app.get('/', { schema: { tags, summary: 'Server metadata', response: { 200: ServerMetadata } } }, async (_r, reply) =>
    sendJson(reply, { name: 'dropout-service', version: SERVICE_VERSION, extensions: EXTENSIONS }),
  );
  app.get(
    '/health/live',
    {
      schema: {
        tags,
        security: [],
        summary: 'Server liveness',
        response: { 200: Type.Object({ live: Type.Boolean() }), 503: V2Error },
      },
    },
    async (_r, reply) => {
      const reason = liveness.stuckReason();
      return reason === null ? sendJson(reply, { live: true }) : sendError(reply, 503, reason);
    },
  );
  app.get(
    '/health/ready',
    {
      schema: {
        tags,
        security: [],
        summary: 'Server readiness',
        response: { 200: Type.Object({ ready: Type.Boolean() }), 503: V2Error },
      },
    },
    async (_r, reply) => {
      const reason = readiness.notReadyReason();
      return reason === null
        ? sendJson(reply, { ready: true })
        : sendError(reply.header('Retry-After', '1'), 503, reason);
    },
  );

  const checkVersion = (version: string | undefined): void => {
    if (version !== undefined && version !== MODEL_VERSION) {
      throw new ProblemError(
        'NOT_FOUND',
        `model ${MODEL} has no version ${clip(version)}; its version is ${MODEL_VERSION}`,
      );
    }
  };
  const Params = Type.Object({ version: Type.Optional(Type.String()) });
  for (const base of [`/models/${MODEL}`, `/models/${MODEL}/versions/:version`]) {
    app.get(
      base,
      {
        schema: { tags, summary: 'Model metadata', params: Params, response: { 200: ModelMetadata, ...errorSchemas } },
      },
      async (request, reply) => {
        checkVersion((request.params as { version?: string }).version);
        const tensor = (name: string, datatype: string) => ({ name, datatype, shape: [-1] });
        return sendJson(reply, {
          name: MODEL,
          versions: [MODEL_VERSION],
          platform: 'dropout-service',
          inputs: [tensor('input', 'FP32')],
          outputs: [tensor('output', 'FP32'), tensor('mask', 'BOOL')],
        });
      },
    );
    app.get(
      `${base}/ready`,
      {
        schema: {
          tags,
          summary: 'Model readiness',
          params: Params,
          response: { 200: Type.Object({ name: Type.String(), ready: Type.Boolean() }), ...errorSchemas },
        },
      },
      async (request, reply) => {
        checkVersion((request.params as { version?: string }).version);
        const ready = readiness.notReadyReason() === null;
        return ready ? sendJson(reply, { name: MODEL, ready }) : sendError(reply, 503, `model ${MODEL} is not ready`);
      },
    );
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
      // The lease is held until the handler is done, so no worker can still be writing memory that gets recycled.
      async (request, reply) =>
        (request.lease ?? NO_LEASE).during(async () => {
          checkVersion((request.params as { version?: string }).version);
          const body = request.body;
          if (!(body instanceof Uint8Array))
            throw new ProblemError('INVALID_REQUEST', 'the inference request needs a body');
          const headerLength = request.headers['inference-header-content-length'];
          const sections = splitInferBody(body, typeof headerLength === 'string' ? headerLength : undefined);
          const { binary } = sections;
          // Created once work may reach the pool: a deadline timer is not worth setting for in-thread work.
          let signal: AbortSignal | undefined;
          const abortSignal = () => {
            signal ??= requestSignal(reply, config.requestTimeoutMs);
            return signal;
          };
          // Large headers are parsed and decoded on a worker, as large /v1 JSON bodies are.
          const call =
            sections.header.length > config.inlineMaxJsonBytes && body.buffer instanceof SharedArrayBuffer
              ? await decodeOnWorker(pool, body, sections.header.length, limits, abortSignal())
              : readInferCall(parseInferHeader(sections.header), binary, limits);
          const { tensor } = call;
          const settings = resolveSettings(call.raw, tensor.shape, tensor.dtype);
          request.tensorLog = {
            format: binary.length > 0 ? 'v2-binary' : 'v2-json',
            dtype: tensor.dtype,
            elements: tensor.data.length,
            variant: settings.variant,
          };
          const wantMask = call.outputs.some((o) => o.name === 'mask');
          const big = tensor.data.length > config.inlineMaxElements;
          const result = await applyDropout(pool, tensor, settings, wantMask, big ? abortSignal() : undefined);
          const inferResult: InferResult = {
            tensor,
            mask: result.mask,
            seed: settings.seed === null ? null : settings.seed.toString(),
            offset: settings.offset,
            kept: result.kept,
          };
          // Writing a number costs ~100x the kernel's work on it, so JSON has its own, lower, threshold.
          const values = call.outputs.filter((o) => !o.binary).length * tensor.data.length;
          const header =
            values * BYTES_PER_JSON_VALUE > config.inlineMaxJsonBytes
              ? await encodeOnWorker(pool, call, inferResult, abortSignal())
              : encodeInferHeader(call, inferResult, MODEL_VERSION);
          const chunks = binaryChunks(call, inferResult);
          if (chunks.length === 0) return sendParts(reply.header('content-type', 'application/json'), [header]);
          reply
            .header('Inference-Header-Content-Length', String(header.length))
            .header('content-type', 'application/octet-stream');
          return sendParts(reply, [header, ...chunks]);
        }),
    );
  }
}
