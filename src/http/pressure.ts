/**
 * Load shedding and resource accounting for compute requests. A request is refused with a fast 503 OVERLOADED
 * (Retry-After) when the event loop lags, when its body would not fit the byte budget (checked on arrival, before
 * its body is read), or when MAX_QUEUE computations are already running (checked once its body is complete). Probes
 * are never shed; /readyz reports not-ready meanwhile so a load balancer backs off, and /healthz fails when a request
 * has held its resources for far longer than any request may take, which only a fault can cause.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import { PROBE_ROUTES } from './access.js';
import { type Admission, Lease } from './admission.js';
import { isIdentityEncoding } from './body-reader.js';

/** Routes that read a tensor and compute. */
export const COMPUTE_ROUTES: ReadonlySet<string> = new Set([
  '/v1/dropout',
  '/v2/models/dropout/infer',
  '/v2/models/dropout/versions/:version/infer',
]);

/** How often the event-loop delay is sampled and overdue requests are looked for. */
const SAMPLE_MS = 1000;
/** The histogram's own resolution, subtracted from its mean as @fastify/under-pressure does. */
const RESOLUTION_MS = 10;

export interface Pressure {
  /** Why the service should shed load now, or null. */
  overloaded(): string | null;
  /** Why the service can no longer make progress, or null. */
  stuck(): string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    lease: Lease | null;
  }
}

/**
 * The event-loop delay, sampled as @fastify/under-pressure samples it. That plugin is not used because its sampling
 * timer also calls process.memoryUsage(), which throws EMFILE once file descriptors run out; thrown inside a timer,
 * nothing can catch it and the process exits. This sampler opens no descriptor.
 */
function loopDelaySampler(): { delayMs(): number; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let delay = 0;
  const timer = setInterval(() => {
    delay = Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS);
    if (Number.isNaN(delay)) delay = 0;
    histogram.reset();
  }, SAMPLE_MS).unref();
  return {
    delayMs: () => delay,
    stop: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

export function registerPressure(app: FastifyInstance, config: Config, admission: Admission): Pressure {
  const loop = loopDelaySampler();
  const lagging = () => {
    if (config.maxEventLoopDelayMs <= 0) return null;
    const delay = loop.delayMs();
    return delay > config.maxEventLoopDelayMs ? `the event loop is lagging (${Math.round(delay)} ms)` : null;
  };
  // A request may take REQUEST_TIMEOUT_MS to arrive and compute and as long again to be read by its client; past
  // that its connection is closed. A lease that outlives even that is a fault.
  const overdueMs = 2 * config.requestTimeoutMs;
  const stuckMs = 3 * config.requestTimeoutMs;
  const sweeper = setInterval(() => admission.abandonOlderThan(overdueMs), SAMPLE_MS).unref();
  app.addHook('onClose', (_app, done) => {
    clearInterval(sweeper);
    loop.stop();
    done();
  });

  app.decorateRequest('lease', null);
  // Callback-style hooks: every request runs them, and an async hook costs a promise and a microtask turn each.
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url ?? '';
    if (!COMPUTE_ROUTES.has(route)) {
      const lag = PROBE_ROUTES.has(route) || route === '/metrics' ? null : lagging();
      return done(lag === null ? undefined : new ProblemError('OVERLOADED', `the service is overloaded: ${lag}`));
    }
    const lag = lagging();
    if (lag !== null) return done(new ProblemError('OVERLOADED', `the service is overloaded: ${lag}; retry shortly`));
    const declared = isIdentityEncoding(request) ? Number(request.headers['content-length'] ?? 0) : 0;
    // A malformed or oversized Content-Length is the body reader's to refuse (400, 413), not a reason to shed.
    const reserve = Number.isSafeInteger(declared) && declared > 0 && declared <= config.maxBodyBytes ? declared : 0;
    const lease = admission.admit(reserve, () => reply.raw.destroy());
    if (!(lease instanceof Lease))
      return done(new ProblemError('OVERLOADED', `the service is overloaded: ${lease}; retry shortly`));
    request.lease = lease;
    // 'close' comes on every path, unlike 'finish' (Fastify's onResponse): also when the client hangs up mid-reply.
    reply.raw.once('close', () => lease.end());
    done();
  });
  // The body is complete here: only now does the request take one of the MAX_QUEUE compute slots.
  app.addHook('preHandler', (request, _reply, done) => {
    const reason = request.lease?.takeSlot() ?? null;
    if (reason !== null)
      return done(new ProblemError('OVERLOADED', `the service is overloaded: ${reason}; retry shortly`));
    done();
  });

  return {
    overloaded: () => lagging() ?? admission.queueFull(),
    stuck: () => {
      const oldest = admission.oldestMs();
      return oldest > stuckMs
        ? `a request has held its resources for ${Math.round(oldest / 1000)} s (REQUEST_TIMEOUT_MS ${config.requestTimeoutMs})`
        : null;
    },
  };
}
