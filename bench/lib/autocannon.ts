/** Load runs with autocannon, the JavaScript generator used where wrk is not on PATH. */
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

const require = createRequire(import.meta.url);

// autocannon 8 appends every chunk of every response body to a string (`req.body += chunk`, a UTF-8 decode and a
// concatenation) to offer it to verifyBody/expectBody. For large replies that, not the server, is the bottleneck: it
// caps a 256 KiB echo at ~250 req/s on this machine. The harness checks replies itself (one request per case
// before the load), so the accumulation is turned off; byte counts and latencies are unaffected.
const PipelinedRequestsQueue = require('autocannon/lib/pipelinedRequestsQueue.js') as {
  prototype: { addBody(data: Buffer): void; peek(): { body: unknown } | undefined };
};
PipelinedRequestsQueue.prototype.addBody = () => {};

/**
 * Hands each reply's body to `onResponse` as an array of its raw chunks instead (autocannon's own string loses
 * bytes of binary bodies), for a run that checks every reply byte for byte.
 */
export function keepBodyChunks(): void {
  PipelinedRequestsQueue.prototype.addBody = function addBody(this: { peek(): { body: unknown } | undefined }, data) {
    const req = this.peek();
    if (!req) return;
    if (!Array.isArray(req.body)) req.body = [];
    (req.body as Buffer[]).push(data);
  };
}

export function autocannonVersion(): string | null {
  try {
    const pkg = require('autocannon/package.json') as { version?: string };
    return pkg.version ? `autocannon ${pkg.version}` : null;
  } catch {
    return null;
  }
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** One run of `duration` seconds; latency percentiles exact, from every 2xx response (not autocannon's 1 ms bins). */
export async function autocannonOnce(spec: LoadSpec, duration: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: spec.method ?? 'GET',
        headers: spec.headers,
        body: spec.body,
        connections: spec.connections,
        duration,
        // Stop within 100 ms of `duration` (autocannon checks its stop flag once per sample interval).
        sampleInt: 100,
        timeout: 30,
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        latencies.push(responseTime);
      } else {
        non2xx++;
      }
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: ok / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    ok,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
  };
}
