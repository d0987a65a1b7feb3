/**
 * Background load in its own process (so it does not share an event loop with the latency probe): binary float32
 * requests of `elements` elements to `url` over `connections` connections for `duration` seconds.
 *
 *   node --import tsx bench/load.ts '{"url": "...", "elements": 16777216, "connections": 1, "duration": 5}'
 *
 * Prints "started" once the body is built and the load begins, then the LoadResult as JSON when done. autocannon
 * only: it runs in JavaScript, so it gets its own event loop here. With wrk the harness runs the background itself,
 * as a wrk child of its own (bench/run.ts, underBackgroundLoad).
 */
import { float32Body, runLoad } from './common.js';

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
    headers: { 'content-type': 'application/octet-stream' },
    body,
    connections: spec.connections,
    duration: spec.duration,
    warmup: 0,
  },
  'autocannon',
);
process.stdout.write(`${JSON.stringify(result)}\n`);
