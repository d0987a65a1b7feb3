/**
 * npm run soak: a bounded, self-stopping mixed load on the built service at about twice what this machine serves.
 *
 *   1. `npm run build`, then `node dist/server.js` on a free 127.0.0.1 port with LOG_LEVEL=warn and a low MAX_QUEUE,
 *      killed whenever this process exits.
 *   2. Calibration: the mix (soak/mix.ts), closed-loop at modest concurrency, measures C, the 200s per second the
 *      machine serves.
 *   3. Warm-up at 2·C (unmeasured), then the service's RSS is sampled: the start figure.
 *   4. Soak at 2·C offered (autocannon, overallRate) for the rest of SOAK_SECONDS; RSS sampled every second.
 *
 * Checks (exit 1 if any fails): no status other than 200 and 503, no connection errors or timeouts, 100% of 200s
 * verified with no mismatch, 503s well formed, end RSS ≤ 1.2 × start RSS, exit 0 on SIGTERM (soak/report.ts).
 *
 * SOAK_SECONDS: total load time, calibration and warm-up included (default 90, at most 120). SOAK_MAX_QUEUE: the
 * MAX_QUEUE to start the service with (default 8). SOAK_CONNECTIONS: connections of the soak phase (default 96).
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fmt } from '../bench/lib/format.js';
import { memory, openConnections } from '../bench/lib/proc.js';
import { stopChild } from '../bench/lib/processes.js';
import { build, startService } from '../bench/lib/servers.js';
import { KINDS, prepare, WEIGHTS } from './soak/mix.js';
import { runPhase, sum } from './soak/phase.js';
import { MiB, report } from './soak/report.js';

const TOTAL_SECONDS = Number(process.env.SOAK_SECONDS ?? 90);
if (!(TOTAL_SECONDS >= 20 && TOTAL_SECONDS <= 120)) throw new Error('SOAK_SECONDS must be between 20 and 120');
const CALIBRATION_SECONDS = Math.max(5, Math.round(TOTAL_SECONDS * 0.1));
const WARMUP_SECONDS = Math.max(5, Math.round(TOTAL_SECONDS * 0.15));
const SOAK_SECONDS = TOTAL_SECONDS - CALIBRATION_SECONDS - WARMUP_SECONDS;
const MAX_QUEUE = process.env.SOAK_MAX_QUEUE ?? '8';
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 96);

// A hard stop, whatever happens: the service is killed by the exit handlers of bench/lib/processes.ts.
const watchdog = setTimeout(
  () => {
    process.stderr.write('soak: watchdog: still running long after SOAK_SECONDS; stopping\n');
    process.exit(2);
  },
  (TOTAL_SECONDS + 180) * 1000,
);
watchdog.unref();

process.stdout.write(
  `soak: ${availableParallelism()} CPUs; ${TOTAL_SECONDS} s of load (calibration ${CALIBRATION_SECONDS} s, warm-up ${WARMUP_SECONDS} s, soak ${SOAK_SECONDS} s)\n` +
    `mix: ${KINDS.map((k) => `${k} ${WEIGHTS[k]}%`).join(', ')}\n\nbuilding (npm run build) …\n`,
);
const buildFailure = await build();
if (buildFailure !== null) {
  process.stderr.write(`npm run build failed:\n${buildFailure.slice(-4000)}\n`);
  process.exit(1);
}

// gRPC on a free port: Triton's 8001 may be taken.
// warn: the soak sends millions of requests, and its figures are about memory, not the request log.
const service = await startService('dropout-service', { MAX_QUEUE, GRPC_PORT: '0', LOG_LEVEL: 'warn' });
const { url, port } = service;
const pid = service.child.proc.pid!;
process.stdout.write(
  `service: pid ${pid} on ${url}, LOG_LEVEL=warn, MAX_QUEUE=${MAX_QUEUE}\npreparing requests and their expected outputs …\n`,
);
prepare();

const calibration = await runPhase('calibration', url, pid, { seconds: CALIBRATION_SECONDS, connections: 4 });
const capacity = sum(calibration, 'ok') / calibration.seconds;
const rate = Math.max(2, Math.round(2 * capacity));
process.stdout.write(
  `calibration: ${fmt(capacity)} verified 200s per second closed-loop at 4 connections → offering ${rate} req/s\n`,
);

const overload = { connections: CONNECTIONS, overallRate: rate };
const warmup = await runPhase('warm-up', url, pid, { seconds: WARMUP_SECONDS, ...overload });
const rssStart = memory(pid).rss;
const samples: number[] = [rssStart];
const sampler = setInterval(() => {
  try {
    samples.push(memory(pid).rss);
  } catch {
    // the process is gone; the check reports it
  }
}, 1000);
process.stdout.write(`warm-up done; service RSS ${MiB(rssStart)}; soaking for ${SOAK_SECONDS} s …\n`);
const soak = await runPhase('soak', url, pid, { seconds: SOAK_SECONDS, ...overload });
clearInterval(sampler);
const rssEnd = memory(pid).rss;
samples.push(rssEnd);
const alive = service.child.proc.exitCode === null && service.child.proc.signalCode === null;
// What is left once the load has stopped: open connections to the service and its readiness.
await sleep(Number(process.env.SOAK_SETTLE_MS ?? 1000));
const leftover = openConnections(port);
const readyz = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
  async (r) => `${r.status} ${await r.text()}`,
  (e: Error) => `no answer (${e.message})`,
);
const stopStarted = performance.now();
await stopChild(service.child, 15_000);

const failed = report({
  calibration,
  warmup,
  soak,
  capacity,
  rate,
  rss: { start: rssStart, end: rssEnd, samples },
  alive,
  leftover,
  readyz,
  exitCode: service.child.proc.exitCode,
  stopSeconds: (performance.now() - stopStarted) / 1000,
  serviceOutput: service.child.output(),
});
process.stdout.write(`\n${failed === 0 ? 'soak passed' : `soak FAILED (${failed} check(s))`}\n`);
process.exit(failed === 0 ? 0 : 1);
