/**
 * [startup] row: how long the built service takes from spawn to its first 200 on /readyz (`node dist/server.js` with
 * `npm start`'s environment), against Node's own floor in the same alternating rounds: a bare Fastify hello-world
 * started with `node -e`, from spawn to its first 200. The difference is what the service's own start costs, and
 * the target is on it: a slow host slows both alike.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fmt } from '../lib/format.js';
import { QUICK } from '../lib/options.js';
import { ROOT } from '../lib/paths.js';
import { type Child, spawnChild, stopChild } from '../lib/processes.js';
import { addRow, atMost, errorRow, failed, log, note } from '../lib/report.js';
import { alternate, median, spread } from '../lib/rounds.js';
import { freePort, serviceEnv, serviceLogFile, startScriptEnv } from '../lib/servers.js';

const section = 'startup';
const POLL_MS = 5;
/** Ready within a second, on what is the service's own to cost: its spawn-to-ready less a bare Fastify's. */
const TARGET = atMost(1000, 'ms');

const HELLO = `import Fastify from 'fastify';
const app = Fastify();
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });`;

/**
 * Milliseconds from spawning `args` (run by this Node) until `path` answers 200; `env` gives the child's environment
 * for its port, `stdoutFile` where its stdout goes (else a pipe).
 */
async function timeToFirst200(
  name: string,
  args: string[],
  path: string,
  env: (port: number) => NodeJS.ProcessEnv,
  stdoutFile?: string,
): Promise<number> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}${path}`;
  const started = performance.now();
  const child: Child = spawnChild(name, process.execPath, args, { cwd: ROOT, env: env(port), stdoutFile });
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  try {
    while (performance.now() - started < 30_000) {
      if (exited) throw new Error(`${name} exited before it answered:\n${child.output()}`);
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await sleep(POLL_MS);
    }
    throw new Error(`${name} did not answer 200 on ${path} within 30 s:\n${child.output()}`);
  } finally {
    await stopChild(child);
  }
}

export async function startupRows(): Promise<void> {
  const name = 'start-up: spawn to ready, service − bare Fastify';
  const rounds = QUICK ? 3 : 7;
  try {
    log(`start-up: the service and a bare Fastify hello, ${rounds} alternating rounds`);
    const [service, floor] = await alternate(rounds, [
      // At its default log level, logging to a file, as the HTTP rows run it: its start-up lines are part of its start.
      () =>
        timeToFirst200(
          'service start-up',
          ['dist/server.js'],
          '/readyz',
          (port) => serviceEnv({ ...startScriptEnv(), WORKERS: '2' }, port),
          serviceLogFile('service start-up'),
        ),
      () =>
        timeToFirst200('fastify hello start-up', ['--input-type=module', '-e', HELLO], '/hello', (port) => ({
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
        })),
    ]);
    const s = median(service);
    const f = median(floor);
    const ms = (values: number[]) => `${values.map((v) => v.toFixed(0)).join(', ')} ms`;
    addRow({
      section,
      case: name,
      figure: s,
      figureText: `service ${fmt(s)} ms (rounds: ${ms(service)})`,
      baseline: f,
      baselineText: `bare Fastify ${fmt(f)} ms (rounds: ${ms(floor)})`,
      ratio: s - f,
      ratioSpread: spread(service.map((v, i) => v - floor[i])),
      target: TARGET,
      detail: { service, floor, difference: s - f },
    });
    note(
      `start-up: node dist/server.js to its first 200 on /readyz and a bare Fastify hello (node -e) to its first 200, polled every ${POLL_MS} ms, ${rounds} alternating rounds; the target is on the difference of the medians (what the service's own start costs over Node's and Fastify's), (a–b) the range of the per-round differences`,
    );
  } catch (e) {
    errorRow(section, name, failed('start-up', e), TARGET);
  }
}
