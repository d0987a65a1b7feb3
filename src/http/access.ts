/**
 * Who may call: bearer API keys (API_KEYS, compared in constant time), per-key or per-IP rate limits
 * (RATE_LIMIT_PER_MINUTE) and browser origins (CORS_ORIGIN). Probes (health, readiness) are always open, so an
 * orchestrator never needs a key and is never rate limited; the documentation is open too.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';

export const PROBE_ROUTES: ReadonlySet<string> = new Set([
  '/healthz',
  '/readyz',
  '/v2/health/live',
  '/v2/health/ready',
]);

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? request.url.split('?')[0];
}

function isOpen(route: string): boolean {
  return PROBE_ROUTES.has(route) || route === '/openapi.json' || route === '/docs' || route.startsWith('/docs/');
}

/** SHA-256 first, so every comparison is of 32 bytes whatever the key lengths (timingSafeEqual needs equal sizes). */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

export async function registerAccess(app: FastifyInstance, config: Config): Promise<void> {
  if (config.corsOrigin.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigin.includes('*') ? '*' : config.corsOrigin,
      methods: ['GET', 'POST'],
      allowedHeaders: [
        'Authorization',
        'Content-Type',
        'Content-Encoding',
        'Accept',
        'Inference-Header-Content-Length',
      ],
      exposedHeaders: [
        'Tensor-Shape',
        'Tensor-Dtype',
        'Dropout-Seed',
        'Dropout-Kept',
        'Dropout-Offset',
        'Inference-Header-Content-Length',
        'Retry-After',
      ],
    });
  }

  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => {
        const token = bearerToken(request);
        return token === undefined ? `ip:${request.ip}` : `key:${digest(token).toString('hex')}`;
      },
      allowList: (request) => PROBE_ROUTES.has(routeOf(request)),
      errorResponseBuilder: (_request, context) =>
        new ProblemError(
          'RATE_LIMITED',
          `more than ${context.max} requests per minute from this ${context.ban ? 'client' : 'key or address'}; retry in ${context.after}`,
        ),
    });
  }

  const keys = config.apiKeys.map(digest);
  if (keys.length === 0) return;
  app.addHook('onRequest', async (request, reply) => {
    if (isOpen(routeOf(request))) return;
    const token = bearerToken(request);
    const given = token === undefined ? undefined : digest(token);
    let valid = false;
    // Every key is compared, so the time taken does not say which key (or how much of one) matched.
    for (const key of keys) if (given !== undefined && timingSafeEqual(key, given)) valid = true;
    if (valid) return;
    reply.header('WWW-Authenticate', 'Bearer realm="dropout-service"');
    throw new ProblemError(
      'UNAUTHORIZED',
      token === undefined ? 'send an API key as Authorization: Bearer <key>' : 'the API key is not valid',
    );
  });
}
