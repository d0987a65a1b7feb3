/**
 * Load shedding: a compute request is refused with a fast 503 OVERLOADED (Retry-After), before its body is read,
 * when MAX_QUEUE compute requests are already in flight (the bounded queue in front of the pool) or the event
 * loop is lagging (@fastify/under-pressure). Probes are never shed, and /readyz reports not-ready meanwhile so a
 * load balancer backs off.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import { PROBE_ROUTES } from './access.js';
import { sendProblem } from './problems.js';

/** Routes that queue work on the pool. */
const COMPUTE_ROUTES = new Set([
  '/v1/dropout',
  '/v2/models/dropout/infer',
  '/v2/models/dropout/versions/:version/infer',
]);

export interface Pressure {
  /** Why the service should shed load now, or null. */
  overloaded(): string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    admitted: boolean;
  }
}

export async function registerPressure(app: FastifyInstance, config: Config): Promise<Pressure> {
  let inFlight = 0;
  const queueFull = () =>
    inFlight >= config.maxQueue ? `${inFlight} computations are in flight (MAX_QUEUE ${config.maxQueue})` : null;

  if (config.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: config.maxEventLoopDelayMs,
      pressureHandler: (request, reply, type, value) => {
        const route = request.routeOptions.url ?? '';
        // Returning nothing lets a probe through; sending a problem sheds the request.
        if (PROBE_ROUTES.has(route) || route === '/metrics') return;
        sendProblem(
          reply,
          'OVERLOADED',
          `the service is overloaded (${type} at ${Math.round(Number(value))}); retry shortly`,
        );
      },
    });
  }

  app.decorateRequest('admitted', false);
  // Callback-style hooks: every request runs them, and an async hook costs a promise and a microtask turn each.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!COMPUTE_ROUTES.has(request.routeOptions.url ?? '')) return done();
    const reason = queueFull();
    if (reason !== null)
      return done(new ProblemError('OVERLOADED', `the service is overloaded: ${reason}; retry shortly`));
    inFlight++;
    request.admitted = true;
    done();
  });
  const leave = (request: FastifyRequest, _reply: unknown, done: () => void) => {
    if (request.admitted) {
      request.admitted = false;
      inFlight--;
    }
    done();
  };
  app.addHook('onResponse', leave);
  app.addHook('onRequestAbort', (request, done) => leave(request, undefined, done));

  return {
    overloaded: () => {
      const pressured = config.maxEventLoopDelayMs > 0 && app.isUnderPressure();
      return pressured ? 'the event loop is lagging' : queueFull();
    },
  };
}
