/**
 * buildApp(config): the one factory that owns every Fastify option. The server, the tests and the OpenAPI generator
 * all call it, so what is tested is what runs.
 */
import { randomUUID } from 'node:crypto';
import compress from '@fastify/compress';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Config } from './config.js';
import { GrpcServer } from './grpc/server.js';
import { registerAccess } from './http/access.js';
import { bodyReader as createBodyReader } from './http/body-reader.js';
import { registerDocs } from './http/docs.js';
import { createLogger } from './http/logger.js';
import { registerMetrics } from './http/metrics.js';
import { registerPressure } from './http/pressure.js';
import { errorHandler, notFoundHandler, routerError } from './http/problems.js';
import { registerRequestLog } from './http/request-log.js';
import { lazySerializers } from './http/serialization.js';
import { stalledUploadReaper } from './http/stalled-uploads.js';
import { validatorCompiler } from './http/validation.js';
import { OffloadPool } from './offload/pool.js';
import healthRoutes from './routes/health.js';
import dropoutRoutes from './routes/v1/dropout.js';
import v2Routes from './routes/v2/index.js';
import { errorHandler as v2ErrorHandler } from './routes/v2/respond.js';
import { Admission } from './service/admission.js';
import { BufferCache } from './service/buffer-cache.js';
import { DropoutService } from './service/dropout-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The one dropout pipeline every protocol's routes call. */
    dropout: DropoutService;
    admission: Admission;
    /** The Open Inference Protocol over gRPC, or null with GRPC_PORT=off; server.ts binds it next to HTTP. */
    grpc: GrpcServer | null;
    /** Starts the shutdown's drain: /readyz turns 503 and replies close their connections; requests still run. */
    drain(): void;
  }
}

/** What the process, not the environment, gives the app. */
export interface Runtime {
  /** A full garbage collection, run after large buffers are dropped so their memory goes back to the system. */
  collectGarbage?: () => void;
  /** The module the pool's threads load (a file URL); the service's own worker unless given. */
  workerFile?: string;
}

/**
 * How long closing waits for gRPC calls before cutting them off: inside server.ts's 10 s bound, after the default
 * 2 s drain window, with time left to close the pool.
 */
const GRPC_CLOSE_MS = 7_000;

export async function buildApp(config: Config, runtime: Runtime = {}): Promise<FastifyInstance> {
  const log = createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: log.logger,
    bodyLimit: config.maxBodyBytes,
    // One line per request is written by http/request-log.ts, with the tensor's format, dtype and size.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    schemaController: { compilersFactory: { buildSerializer: lazySerializers() } },
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    // The router's own errors, in the error format of the protocol the path belongs to.
    frameworkErrors: (error, request, reply) => {
      const render = /^\/v2(\/|$)/.test(request.url) ? v2ErrorHandler : errorHandler;
      return render(routerError(error, request), request, reply);
    },
    // Slow or stalled uploads: the whole request must arrive within the deadline (Node answers 408 and closes).
    requestTimeout: config.requestTimeoutMs,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const pool = new OffloadPool({
    workers: config.workers,
    chunkElements: config.chunkElements,
    inlineMaxElements: config.inlineMaxElements,
    workerNice: config.workerNice,
    onError: (err) => app.log.error({ err }, 'a pool thread failed outside any task'),
    workerFile: runtime.workerFile,
  });
  app.decorate(
    'dropout',
    new DropoutService(pool, {
      maxElements: config.maxElements,
      inlineMaxElements: config.inlineMaxElements,
      inlineMaxJsonBytes: config.inlineMaxJsonBytes,
    }),
  );
  // Connections past the cap are closed on arrival, before they can take the descriptors the process needs.
  app.server.maxConnections = config.maxConnections;
  const buffers = new BufferCache({
    maxCachedBytes: Math.min(256 * 1024 * 1024, Math.floor(config.maxInflightBytes / 4)),
    collectGarbage: runtime.collectGarbage,
  });
  const admission = new Admission({ maxQueue: config.maxQueue, maxInflightBytes: config.maxInflightBytes }, buffers);
  app.decorate('admission', admission);
  let closing = false;
  app.decorate('drain', () => {
    closing = true;
  });
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
  let grpc: GrpcServer | null = null;
  app.decorate('grpc', null);
  // Started with HTTP's close, not after it: both drain at once, and the pool stays open until both are done.
  app.addHook('preClose', async () => {
    void grpc?.close(GRPC_CLOSE_MS);
  });
  app.addHook('onClose', async () => {
    await grpc?.close(GRPC_CLOSE_MS);
    buffers.close();
    await pool.close();
    await log.close();
  });

  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  const metrics = registerMetrics(app, pool, admission);
  registerRequestLog(app, metrics.record);
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
  await registerDocs(app, config);

  const pressure = registerPressure(app, config, admission);
  await registerAccess(app, config);
  const readiness = { notReadyReason: () => (closing ? 'the service is shutting down' : pressure.overloaded()) };
  await app.register(healthRoutes, { readiness, liveness: { stuckReason: pressure.stuck } });
  if (config.grpcPort !== null) {
    grpc = new GrpcServer({
      requestTimeoutMs: config.requestTimeoutMs,
      maxMessageBytes: config.maxBodyBytes,
      apiKeys: config.apiKeys,
      rateLimitPerMinute: config.rateLimitPerMinute,
      dropout: app.dropout,
      admission,
      readiness,
      liveness: { stuckReason: pressure.stuck },
      log: app.log,
      registry: metrics.registry,
      countElements: metrics.countElements,
    });
    app.grpc = grpc;
  }
  const bodyReader = createBodyReader({ limit: config.maxBodyBytes, idleTimeoutMs: config.bodyIdleTimeoutMs });
  await app.register(dropoutRoutes, { bodyReader, config });
  await app.register(v2Routes, {
    prefix: '/v2',
    bodyReader,
    config,
    readiness,
    liveness: { stuckReason: pressure.stuck },
  });
  return app;
}
