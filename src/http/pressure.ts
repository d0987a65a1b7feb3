/**
 * Load shedding: a request is refused with a fast 503 OVERLOADED (Retry-After) when the pool's queue is full or
 * the event loop is lagging (@fastify/under-pressure), before its body is read. Probes are never shed, and
 * /readyz reports not-ready meanwhile so a load balancer backs off.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import type { DropoutPool } from '../pool/dropout-pool.js';
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

export async function registerPressure(app: FastifyInstance, config: Config, pool: DropoutPool): Promise<Pressure> {
  const queueFull = () =>
    pool.queueSize >= config.maxQueue
      ? `${pool.queueSize} computations are waiting (MAX_QUEUE ${config.maxQueue})`
      : null;

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

  app.addHook('onRequest', async (request) => {
    if (!COMPUTE_ROUTES.has(request.routeOptions.url ?? '')) return;
    const reason = queueFull();
    if (reason !== null) throw new ProblemError('OVERLOADED', `the service is overloaded: ${reason}; retry shortly`);
  });

  return {
    overloaded: () => {
      const pressured = config.maxEventLoopDelayMs > 0 && app.isUnderPressure();
      return pressured ? 'the event loop is lagging' : queueFull();
    },
  };
}
