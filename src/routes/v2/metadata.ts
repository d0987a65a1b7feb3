/** The Open Inference Protocol's health, server and model metadata, and model readiness. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { clip, ProblemError } from '../../errors.js';
import { ModelMetadata, ServerMetadata, V2Error } from '../../schemas/v2.js';
import type { Liveness, Readiness } from '../../service/health.js';
import { MODEL, MODEL_VERSION, SERVICE_NAME, SERVICE_VERSION } from '../../service/model.js';
import { sendError, sendJson } from './respond.js';

const EXTENSIONS = ['binary_tensor_data'];

export const tags = ['open inference protocol'];
export const errorSchemas = { 400: V2Error, 404: V2Error, 413: V2Error, 503: V2Error };
export const Params = Type.Object({ version: Type.Optional(Type.String()) });
/** The model's routes, with and without a version. */
export const MODEL_BASES = [`/models/${MODEL}`, `/models/${MODEL}/versions/:version`];

export function checkVersion(version: string | undefined): void {
  if (version !== undefined && version !== MODEL_VERSION) {
    throw new ProblemError(
      'NOT_FOUND',
      `model ${MODEL} has no version ${clip(version)}; its version is ${MODEL_VERSION}`,
    );
  }
}

/** GET /v2 and the server's health. */
export function serverRoutes(app: FastifyInstance, readiness: Readiness, liveness: Liveness): void {
  app.get('/', { schema: { tags, summary: 'Server metadata', response: { 200: ServerMetadata } } }, async (_r, reply) =>
    sendJson(reply, { name: SERVICE_NAME, version: SERVICE_VERSION, extensions: EXTENSIONS }),
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
}

/** The model's metadata and readiness under one base path. */
export function modelRoutes(app: FastifyInstance, base: string, readiness: Readiness): void {
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
}
