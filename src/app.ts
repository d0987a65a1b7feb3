/**
 * buildApp(config): the one factory that owns every Fastify option. The server, the tests and the OpenAPI generator
 * all call it, so what is tested is what runs.
 */
import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Config } from './config.js';
import { registerAccess } from './http/access.js';
import { registerBodyReader } from './http/body-reader.js';
import { registerDocs } from './http/docs.js';
import { createLogger } from './http/logger.js';
import { registerMetrics } from './http/metrics.js';
import { registerPressure } from './http/pressure.js';
import { errorHandler, notFoundHandler } from './http/problems.js';
import { registerRequestLog } from './http/request-log.js';
import { stalledUploadReaper } from './http/stalled-uploads.js';
import { validatorCompiler } from './http/validation.js';
import { DropoutPool } from './pool/dropout-pool.js';
import dropoutRoutes from './routes/dropout.js';
import healthRoutes from './routes/health.js';
import v2Routes from './routes/v2.js';

declare module 'fastify' {
  interface FastifyInstance {
    dropoutPool: DropoutPool;
  }
}

export async function buildApp(config: Config): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: log.logger,
    bodyLimit: config.maxBodyBytes,
    // One line per request is written by http/request-log.ts, with the tensor's format, dtype and size.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // Slow or stalled uploads: the whole request must arrive within the deadline (Node answers 408 and closes).
    requestTimeout: config.requestTimeoutMs,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const pool = new DropoutPool({
    workers: config.workers,
    chunkElements: config.chunkElements,
    inlineMaxElements: config.inlineMaxElements,
    workerNice: config.workerNice,
  });
  // Tests reach the pool (its fault-injection switch, its queue) through the app; HTTP never can.
  app.decorate('dropoutPool', pool);
  let closing = false;
  const stalled = stalledUploadReaper(app.server);
  app.addHook('preClose', async () => {
    closing = true;
    stalled.closing();
  });
  // While closing, replies end their connection: a keep-alive socket would otherwise hold server.close() open
  // until its idle timeout, long after the last in-flight request finished.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('Connection', 'close');
    done(null, payload);
  });
  app.addHook('onClose', async () => {
    await pool.close();
    await log.close();
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  registerRequestLog(app);
  registerMetrics(app, pool);
  // Content codings are case-insensitive and identity means none, but @fastify/compress compares the header with
  // its list verbatim and counts identity as an unsupported coding. Normalised before its preParsing hook, an
  // identity body also reads as uncoded everywhere else (its Content-Length is trusted, small bodies stay inline).
  app.addHook('onRequest', (request, _reply, done) => {
    // The raw headers: request.headers may be a merged copy, and a change to it would not reach the plugin.
    const headers = request.raw.headers;
    const declared = headers['content-encoding'];
    if (declared !== undefined) {
      const codings = declared
        .toLowerCase()
        .split(',')
        .map((coding) => coding.trim())
        .filter((coding) => coding !== '' && coding !== 'identity');
      if (codings.length === 0) delete headers['content-encoding'];
      else headers['content-encoding'] = codings.join(', ');
    }
    done();
  });
  await app.register(compress, {
    global: true,
    encodings: ['gzip', 'deflate'],
    requestEncodings: ['gzip', 'deflate'],
    threshold: 1024,
    // JSON only: @fastify/compress passes through payloads that start with gzip/zlib magic bytes but still labels
    // them compressed, and 1 in ~1000 raw tensors starts that way (found by the fuzzer). Binary stays identity.
    customTypes: /^application\/(json|problem\+json)/,
  });
  await registerDocs(app);

  const pressure = await registerPressure(app, config);
  await registerAccess(app, config);
  const readiness = { notReadyReason: () => (closing ? 'the service is shutting down' : pressure.overloaded()) };
  await app.register(healthRoutes, { readiness });
  // Up to MAX_BODY_BYTES of body buffers are kept for reuse.
  const bodyReader = registerBodyReader(app, config.maxBodyBytes, config.maxBodyBytes);
  await app.register(dropoutRoutes, { bodyReader, config, pool });
  await app.register(v2Routes, { prefix: '/v2', bodyReader, config, pool, readiness });
  return app;
}
