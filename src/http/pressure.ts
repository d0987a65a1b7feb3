/**
 * Load shedding and resource accounting for compute requests. A request is refused with a fast 503 OVERLOADED
 * (Retry-After) when the event loop lags, when its body would not fit the byte budget (checked on arrival, before
 * its body is read), or when MAX_QUEUE computations are already running (checked once its body is complete). Probes
 * are never shed; /readyz reports not-ready meanwhile so a load balancer backs off, and /healthz fails when a request
 * has held its resources for far longer than any request may take, which only a fault can cause.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ProblemError } from '../errors.js';
import { type Admission, Lease } from '../service/admission.js';
import { PROBE_ROUTES } from './access.js';
import { isIdentityEncoding } from './body-reader.js';

/** Routes that read a tensor and compute. */
export const COMPUTE_ROUTES: ReadonlySet<string> = new Set([
  '/v1/dropout',
  '/v2/models/dropout/infer',
  '/v2/models/dropout/versions/:version/infer',
]);

/** The window over which the event loop's worst delay is kept. */
const SAMPLE_MS = 1000;
/** The period of the timer whose lateness measures the event loop's delay. */
const TICK_MS = 50;

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
 * The event loop's delay: how late a 50 ms timer fires, the worst over each second. @fastify/under-pressure is not
 * used for this because its sampling timer also calls process.memoryUsage(), which throws EMFILE once descriptors run
 * out, from a timer where nothing can catch it. Timer lateness needs no descriptor, and unlike the mean of
 * monitorEventLoopDelay's histogram over a window, it cannot miss a stall that ends just as the window is reset.
 */
function loopDelaySampler(): { delayMs(): number; stop(): void } {
  let expected = performance.now() + TICK_MS;
  let windowEnd = expected + SAMPLE_MS;
  let worst = 0;
  let delay = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + TICK_MS;
    if (now >= windowEnd) {
      delay = worst;
      worst = 0;
      windowEnd = now + SAMPLE_MS;
    }
  }, TICK_MS).unref();
  return {
    delayMs: () => Math.max(delay, worst),
    stop: () => clearInterval(timer),
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
  const sweeper = setInterval(() => admission.abandonOlderThan(overdueMs), 1000).unref();
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
