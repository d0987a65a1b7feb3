/**
 * The benchmark harness (`npm run bench`; `-- --quick`, `-- --loader=wrk|autocannon`: lib/options.ts). Builds the
 * service, starts it and its baselines on 127.0.0.1, runs the cases of cases/ in order and prints one table of
 * figures, baselines, ratios and targets; writes bench/results/. Every child process is killed on exit, error or
 * signal (lib/processes.ts). bench/README.md says what each row measures and how to read it.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { grpcRows } from './cases/grpc-vs-http.js';
import { fastapiRows } from './cases/http-vs-fastapi.js';
import { fastifyRows } from './cases/http-vs-fastify.js';
import { kernelRows } from './cases/kernel.js';
import { memoryRows } from './cases/memory.js';
import { poolRows } from './cases/pool.js';
import { BACKGROUND_CONNECTIONS, responsivenessRows } from './cases/responsiveness.js';
import { startupRows } from './cases/startup.js';
import { M } from './lib/bodies.js';
import { fmt } from './lib/format.js';
import { LOADER, QUICK, SETTINGS } from './lib/options.js';
import { ROOT } from './lib/paths.js';
import { stopAllChildren } from './lib/processes.js';
import { ensurePython, startFastapi } from './lib/python.js';
import { failed, log, note, printAndSave } from './lib/report.js';
import { serviceCases } from './lib/requests.js';
import { build, freePort, type Server, startScriptEnv, startService, startTsBaseline } from './lib/servers.js';

/** A server only some rows need: null, with a note, when it does not start. */
function optional(what: string, start: () => Promise<Server>): Promise<Server | null> {
  return start().catch((e: unknown) => {
    failed(`starting the ${what}`, e);
    return null;
  });
}

const { connections, rounds, warmup, duration } = SETTINGS;
log(`dropout-service benchmark${QUICK ? ' (--quick)' : ''}: ${JSON.stringify(SETTINGS)}`);
log(`HTTP load: ${LOADER.version ?? LOADER.name} (${LOADER.reason})`);
note(
  `HTTP load generator: ${LOADER.name}${LOADER.version ? ` (${LOADER.version})` : ''}, ${LOADER.reason}; ${
    LOADER.name === 'wrk'
      ? `wrk -t1 -c${connections} --latency --timeout 30s, request from a Lua script (p99 from its --latency distribution)`
      : `autocannon in the harness process, ${connections} connections (p99 from every 2xx response time)`
  }; background 16M load in responsiveness: ${LOADER.name} too, in its own process`,
);
note(
  `HTTP comparison rows: ${rounds} alternating rounds (subject, reference, subject, ...) of ${warmup}s warm-up + ${duration}s each; figures are per-side medians of req/s and of p99, ratio = median/median unless a note says otherwise, (a–b) = range of the per-round ratios`,
);

try {
  const python = await ensurePython();
  log('npm run build');
  const buildFailure = await build();
  if (buildFailure !== null) {
    const why = buildFailure.trim().split('\n').slice(-5).join('\n');
    if (!existsSync(resolve(ROOT, 'dist/server.js'))) throw new Error(`npm run build failed:\n${why}`);
    note(
      'npm run build FAILED (see its errors above): the service ran from whatever dist/ holds, which may be stale or partial',
    );
    log(`npm run build failed, using the existing dist/:\n${why}`);
  }

  const sweep = await kernelRows(python.torch);
  await poolRows();
  await startupRows();

  log('starting the service and its baselines');
  const grpcPort = await freePort();
  const [service, fastify, nodeHttp, fastapi] = await Promise.all([
    startService('service', { ...startScriptEnv(), WORKERS: '2', GRPC_PORT: String(grpcPort) }),
    startTsBaseline('fastify baseline', 'bench/baseline-server.ts'),
    // Only a reference row uses it, and --quick leaves reference rows out.
    QUICK
      ? null
      : optional('node:http baseline', () => startTsBaseline('node:http baseline', 'bench/node-http-baseline.ts')),
    python.fastapi ? optional('FastAPI baseline', startFastapi) : null,
  ]);
  const pid = service.child.proc.pid;
  if (pid === undefined) throw new Error('the service has no pid');

  await memoryRows(service.url, pid);
  const svc = serviceCases(service.url);
  await fastifyRows(svc, fastify.url, nodeHttp?.url ?? null);
  await fastapiRows(svc, fastapi?.url ?? null);
  await grpcRows(service.url, `127.0.0.1:${grpcPort}`);
  await responsivenessRows(service.url);

  log('stopping the servers');
  await stopAllChildren();
  // Stopped, the service has written out every line it held.
  const logBytes = existsSync(service.logFile) ? statSync(service.logFile).size : 0;
  note(
    `service: ${service.logLevel}, one log line per request, stdout to ${service.logFile} (${fmt(logBytes / M)} MiB), stderr piped to the harness`,
  );
  await printAndSave(sweep, { ...SETTINGS, backgroundConnections: BACKGROUND_CONNECTIONS });
} finally {
  await stopAllChildren();
}
