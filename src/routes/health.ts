/** Liveness and readiness for load balancers and orchestrators. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { sendProblem } from '../http/problems.js';
import { ProblemSchema } from '../schemas/common.js';
import type { Liveness, Readiness } from '../service/health.js';

export default async function healthRoutes(
  app: FastifyInstance,
  opts: { readiness: Readiness; liveness: Liveness },
): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        security: [],
        summary: 'Liveness: the process answers and its requests make progress',
        response: { 200: Type.Object({ status: Type.Literal('ok') }), 503: ProblemSchema },
      },
    },
    async (_request, reply) => {
      const reason = opts.liveness.stuckReason();
      if (reason !== null) return sendProblem(reply, 'NOT_LIVE', reason);
      return { status: 'ok' as const };
    },
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        security: [],
        summary: 'Readiness: the pool is up, the service is not overloaded and not shutting down',
        response: { 200: Type.Object({ ready: Type.Literal(true) }), 503: ProblemSchema },
      },
    },
    async (_request, reply) => {
      const reason = opts.readiness.notReadyReason();
      if (reason !== null) return sendProblem(reply, 'NOT_READY', reason);
      return { ready: true as const };
    },
  );
}
