/**
 * Background load in its own process, so that it does not share an event loop with the latency probe: binary
 * float32 requests of `elements` elements to `url` over `connections` connections for `duration` seconds.
 *
 *   node --import tsx bench/background-load.ts '{"url": "...", "elements": 16777216, "connections": 1, "duration": 5}'
 *
 * Prints "started" once the body is built and the load begins, then the LoadResult as JSON when done. autocannon
 * only: with wrk the harness runs the background itself (cases/responsiveness.ts).
 */
import { float32Body } from './lib/bodies.js';
import { runLoad } from './lib/load.js';
import { BINARY_HEADERS } from './lib/requests.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  elements: number;
  connections: number;
  duration: number;
};
const body = float32Body(spec.elements, 2);
process.stdout.write('started\n');
const result = await runLoad(
  {
    url: spec.url,
    method: 'POST',
    headers: BINARY_HEADERS,
    body,
    connections: spec.connections,
    duration: spec.duration,
    warmup: 0,
  },
  'autocannon',
);
process.stdout.write(`${JSON.stringify(result)}\n`);
