/** One log line per request with what an operator needs: id, route, format, dtype, size, status and duration. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface TensorLog {
  format: string;
  dtype: string;
  elements: number;
  variant?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    tensorLog: TensorLog | null;
  }
}

/** What else records a finished request (the metrics), told the route it matched. */
export type ResponseRecorder = (request: FastifyRequest, reply: FastifyReply, route: string) => void;

export function registerRequestLog(app: FastifyInstance, record: ResponseRecorder): void {
  app.decorateRequest('tensorLog', null);
  // One callback-style hook for the log line and the metrics: every request runs it, and each hook costs a turn of
  // Fastify's hook runner (an async one also a promise and a microtask).
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    request.log.info(
      {
        method: request.method,
        route,
        ...request.tensorLog,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
      },
      'request completed',
    );
    record(request, reply, route);
    done();
  });
}
