/**
 * Who may call: bearer API keys (API_KEYS, compared in constant time), per-key or per-address rate limits
 * (RATE_LIMIT_PER_MINUTE) and browser origins (CORS_ORIGIN). Probes (health, readiness) are always open, so an
 * orchestrator never needs a key and is never rate limited; the documentation is open too.
 *
 * Only a valid key earns a budget of its own. Anything else (no token, a wrong key, or any token when no keys are
 * configured) counts against the client's address: a budget per token would let a client mint budgets, or guess
 * keys at full speed. The limit is applied before a key is refused, so failed attempts count, and an address over
 * its limit is answered 429 rather than told whether its next guess was right.
 */
import cors from '@fastify/cors';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import { ApiKeys, bearerToken as tokenOf } from '../service/api-keys.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Which of API_KEYS the request's bearer token is (its index), -1 for none; null until looked up. */
    apiKey: number | null;
  }
}

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

function bearerToken(request: FastifyRequest): string | undefined {
  return tokenOf(request.headers.authorization);
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

  const keys = new ApiKeys(config.apiKeys);
  app.decorateRequest('apiKey', null);
  // Looked up once: by the rate limiter's key generator, then by the key check after it.
  const keyOf = (request: FastifyRequest): number => {
    request.apiKey ??= keys.match(bearerToken(request));
    return request.apiKey;
  };

  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => {
        const key = keyOf(request);
        // normalizeIP: a client's IPv6 /64 is one address, as in the plugin's own key generator.
        return key >= 0 ? `key:${key}` : `ip:${normalizeIP(request.ip)}`;
      },
      allowList: (request) => PROBE_ROUTES.has(routeOf(request)),
      errorResponseBuilder: (_request, context) =>
        new ProblemError(
          'RATE_LIMITED',
          `more than ${context.max} requests per minute from this ${context.ban ? 'client' : 'key or address'}; retry in ${context.after}`,
        ),
    });
  }

  if (!keys.enabled) return;
  // preParsing, not onRequest: the rate limiter is a route-level onRequest hook, which runs after every
  // instance-level one, so a key refused in onRequest would never be counted. The body is still unread here.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (isOpen(routeOf(request)) || keyOf(request) >= 0) return done(null, payload);
    reply.header('WWW-Authenticate', 'Bearer realm="dropout-service"');
    done(
      new ProblemError(
        'UNAUTHORIZED',
        bearerToken(request) === undefined
          ? 'send an API key as Authorization: Bearer <key>'
          : 'the API key is not valid',
      ),
    );
  });
}
