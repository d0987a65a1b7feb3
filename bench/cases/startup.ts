/**
 * [startup] row: how long the built service takes from spawn to its first 200 on /readyz (`node dist/server.js` with
 * `npm start`'s environment), against Node's own floor in the same alternating rounds: a bare Fastify hello-world
 * started with `node -e`, from spawn to its first 200. The difference is what the service's own start costs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fmt } from '../lib/format.js';
import { QUICK } from '../lib/options.js';
import { ROOT } from '../lib/paths.js';
import { type Child, spawnChild, stopChild } from '../lib/processes.js';
import { addRow, errorRow, failed, log } from '../lib/report.js';
import { alternate, median } from '../lib/rounds.js';
import { freePort, serviceEnv, serviceLogFile, startScriptEnv } from '../lib/servers.js';

const section = 'startup';
const POLL_MS = 5;

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
  const name = 'start-up: node dist/server.js to its first 200 on /readyz vs a bare Fastify hello (node -e)';
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
    addRow({
      section,
      case: name,
      figure: s,
      figureText: `${fmt(s)} ms (${fmt(s - f)} ms over the floor; rounds: ${service.map((v) => v.toFixed(0)).join(', ')} ms)`,
      baseline: f,
      baselineText: `${fmt(f)} ms`,
      target: null,
      detail: { service, floor },
    });
  } catch (e) {
    errorRow(section, name, failed('start-up', e));
  }
}
