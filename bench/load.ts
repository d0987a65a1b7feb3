/**
 * Background load in its own process (so it does not share an event loop with the latency probe): binary float32
 * requests of `elements` elements to `url` over `connections` connections for `duration` seconds, with `loader`
 * (the probe's generator; autocannon when not given).
 *
 *   node --import tsx bench/load.ts '{"url": "...", "elements": 16777216, "connections": 1, "duration": 5, "loader": "wrk"}'
 *
 * Prints "started" once the body is built and the load begins, then the LoadResult as JSON when done. The
 * generator matters on a 2-core machine: autocannon runs in JavaScript, and its threads (V8's GC helpers for 64 MiB
 * replies included) take CPU from the service that wrk, in C, does not (docs/performance.md, "Responsiveness").
 */
import { float32Body, type LoaderName, runLoad } from './common.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  elements: number;
  connections: number;
  duration: number;
  loader?: LoaderName;
};
const body = float32Body(spec.elements, 2);
process.stdout.write('started\n');
const result = await runLoad(
  {
    url: spec.url,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
    connections: spec.connections,
    duration: spec.duration,
    warmup: 0,
  },
  spec.loader ?? 'autocannon',
);
process.stdout.write(`${JSON.stringify(result)}\n`);
