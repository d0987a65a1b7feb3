/** The server as a real process, for what only a process shows: signals, descriptor limits, resident memory. */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ServerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  origin: string;
  port: number;
  log: () => string;
  /** The process's resident memory, in bytes. */
  rss: () => number;
}

/**
 * Starts src/server.ts on a free port (killed when the test ends if it still runs). `ulimit` sets the open-file
 * limit the process starts with, as `ulimit -n` would.
 */
export async function startServer(
  t: Test,
  env: Record<string, string>,
  options: { fileLimit?: number } = {},
): Promise<ServerProcess> {
  const node = [process.execPath, '--import', 'tsx', 'src/server.ts'];
  const [command, args] =
    options.fileLimit === undefined
      ? [node[0] as string, node.slice(1)]
      : ['bash', ['-c', `ulimit -n ${options.fileLimit} && exec "$@"`, 'bash', ...node]];
  const child = spawn(command, args, {
    cwd: ROOT,
    // gRPC on a free port too: Triton's 8001 may be taken, and tests run in parallel.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', GRPC_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line in 30 s:\n${log}`)), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', () => reject(new Error(`the server exited early:\n${log}`)));
  });
  const rss = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) * 1024;
  };
  return { child, origin, port: Number(new URL(origin).port), log: () => log, rss };
}
