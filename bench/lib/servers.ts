/**
 * Building and starting the servers under test on 127.0.0.1, on ports the OS picks: the service as `npm start` runs
 * it, and the bare baselines under bench/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './paths.js';
import { type Child, runCommand, spawnChild, waitForOutput } from './processes.js';

export interface Server {
  child: Child;
  url: string;
  port: number;
}

/** The service: where its log lines go, and at which level it logs. */
export interface ServiceServer extends Server {
  logFile: string;
  logLevel: string;
}

/** `npm run build`; null when it succeeded, else its output. */
export async function build(): Promise<string | null> {
  const { code, stdout, stderr } = await runCommand('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 300_000 });
  return code === 0 ? null : `${stdout}${stderr}`;
}

/** A TCP port the OS reports free on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}

/** Polls `url` until it answers 200; fails early with the child's output if the child exits. */
export async function waitReady(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.output()}`);
}

/** The NAME=value assignments in front of the command of `npm start`, so that the service is measured as it is run. */
export function startScriptEnv(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const env: Record<string, string> = {};
  for (const word of pkg.scripts.start.split(/\s+/)) {
    const assignment = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (!assignment) break;
    env[assignment[1]] = assignment[2];
  }
  return env;
}

/**
 * Where a service started here writes its log lines (stdout): a file under the OS temp dir, as a container's log
 * driver would take them, truncated at each start. Not a pipe into this process: reading and splitting a line per
 * request at load would take the harness CPU from the servers it measures.
 */
export function serviceLogFile(name: string): string {
  const dir = join(tmpdir(), 'dropout-service-bench');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.log`);
}

/**
 * The service's environment: this process's, less any LOG_LEVEL it has (the service is measured at its default
 * level unless `env` names one), with `env`, the host and the port over it.
 */
export function serviceEnv(env: Record<string, string>, port: number): NodeJS.ProcessEnv {
  const { LOG_LEVEL: _inherited, ...inherited } = process.env;
  return { ...inherited, ...env, HOST: '127.0.0.1', PORT: String(port) };
}

/** The level the service logs at in `env`, for the notes. */
export function serviceLogLevel(env: NodeJS.ProcessEnv): string {
  return env.LOG_LEVEL === undefined ? 'default LOG_LEVEL (info)' : `LOG_LEVEL=${env.LOG_LEVEL}`;
}

/** The built service (dist/server.js) with `env` (serviceEnv), stdout to serviceLogFile(name). */
export async function startService(name: string, env: Record<string, string>): Promise<ServiceServer> {
  const port = await freePort();
  const logFile = serviceLogFile(name);
  const childEnv = serviceEnv(env, port);
  const child = spawnChild(name, process.execPath, ['dist/server.js'], {
    cwd: ROOT,
    env: childEnv,
    stdoutFile: logFile,
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child);
  return { child, url, port, logFile, logLevel: serviceLogLevel(childEnv) };
}

/** A bare baseline server: a TypeScript file under bench/ that prints {"port": N} once listening. */
export async function startTsBaseline(name: string, script: string): Promise<Server> {
  const child = spawnChild(name, process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0' },
  });
  const [, port] = await waitForOutput(child, /\{"port":(\d+)\}/, 30_000);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/hello`, child);
  return { child, url, port: Number(port) };
}
