/**
 * Prometheus metrics (prom-client) on GET /metrics: requests and latency by route, format and status, elements
 * processed by dtype and variant, the pool's queue depth and utilisation, and the default process metrics
 * (event-loop lag among them). One registry per app, so every app (and test) owns its metrics.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { OffloadPool } from '../offload/pool.js';
import type { Admission } from '../service/admission.js';
import type { ResponseRecorder } from './request-log.js';

/** What the request log and other protocols' adapters record into the same registry. */
export interface Metrics {
  registry: Registry;
  /** Records a finished HTTP request, for the request log's onResponse hook. */
  record: ResponseRecorder;
  countElements(dtype: string, variant: string, elements: number): void;
}

export function registerMetrics(app: FastifyInstance, pool: OffloadPool, admission: Admission): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['route', 'format', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const elements = new Counter({
    name: 'dropout_elements_total',
    help: 'Tensor elements processed',
    labelNames: ['dtype', 'variant'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'dropout_pool_queue_depth',
    help: 'Tasks waiting for a pool worker',
    registers: [registry],
    collect() {
      this.set(pool.queueSize);
    },
  });
  new Gauge({
    name: 'dropout_pool_utilization',
    help: 'Fraction of the pool threads busy since start (0 to 1)',
    registers: [registry],
    collect() {
      this.set(pool.utilization);
    },
  });
  new Gauge({ name: 'dropout_pool_workers', help: 'Pool threads', registers: [registry] }).set(pool.workers);
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge(
    'dropout_inflight_requests',
    'Compute requests holding resources (uploading, computing or replying)',
    () => admission.leases,
  );
  gauge('dropout_inflight_computations', 'Compute slots taken (of MAX_QUEUE)', () => admission.slots);
  gauge('dropout_inflight_bytes', 'Request-body bytes reserved (of MAX_INFLIGHT_BYTES)', () => admission.bytes);
  gauge('dropout_buffer_cache_bytes', 'Tensor memory kept for reuse', () => admission.buffers.cachedBytes);

  // Label children are made once per (route, format, status) and kept, which saves building a label object from the
  // values on every call; prom-client still hashes and checks the labels inside each inc/observe (~0.2-0.4 us each).
  const children = new Map<string, { count: Counter.Internal; time: Histogram.Internal<string> }>();
  const elementChildren = new Map<string, Counter.Internal>();
  const countElements = (dtype: string, variant: string, count: number) => {
    const elementKey = `${dtype} ${variant}`;
    let counter = elementChildren.get(elementKey);
    if (counter === undefined) {
      counter = elements.labels(dtype, variant);
      elementChildren.set(elementKey, counter);
    }
    counter.inc(count);
  };
  const record: ResponseRecorder = (request, reply, route) => {
    if (route === '/metrics') return;
    const log = request.tensorLog;
    const format = log?.format ?? 'none';
    const status = String(reply.statusCode);
    const key = `${route} ${format} ${status}`;
    let child = children.get(key);
    if (child === undefined) {
      child = { count: requests.labels(route, format, status), time: latency.labels(route, format, status) };
      children.set(key, child);
    }
    child.count.inc();
    child.time.observe(reply.elapsedTime / 1000);
    if (log && reply.statusCode < 400) countElements(log.dtype, log.variant ?? 'standard', log.elements);
  };

  app.get(
    '/metrics',
    { schema: { tags: ['operations'], summary: 'Prometheus metrics (text format)' } },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
  return { registry, record, countElements };
}
