/**
 * The Open Inference Protocol (KServe V2) with Triton's binary tensor extension (docs/semantics.md §3), so
 * tritonclient, KServe clients and their curl scripts can call the service unchanged. Errors here are {"error": "..."}.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { clip, ProblemError } from '../../errors.js';
import type { BodyReader } from '../../http/body-reader.js';
import type { Liveness, Readiness } from '../../service/health.js';
import { inferRoute } from './infer.js';
import { MODEL_BASES, modelRoutes, serverRoutes } from './metadata.js';
import { errorHandler, notFoundHandler } from './respond.js';

export interface V2Options {
  bodyReader: BodyReader;
  config: Config;
  readiness: Readiness;
  liveness: Liveness;
}

export default async function v2Routes(
  app: FastifyInstance,
  { bodyReader, config, readiness, liveness }: V2Options,
): Promise<void> {
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

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

  serverRoutes(app, readiness, liveness);
  for (const base of MODEL_BASES) {
    modelRoutes(app, base, readiness);
    inferRoute(app, base, config);
  }
}
