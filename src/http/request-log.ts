/** One log line per request with what an operator needs: id, route, format, dtype, size, status and duration. */
import type { FastifyInstance } from 'fastify';

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

export function registerRequestLog(app: FastifyInstance): void {
  app.decorateRequest('tensorLog', null);
  // Callback-style: every request runs it, and an async hook costs a promise and a microtask turn each.
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        ...request.tensorLog,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 1000) / 1000,
      },
      'request completed',
    );
    done();
  });
}
