/**
 * Child processes that never outlive the harness: every one started here is killed when this process exits, fails or
 * gets SIGINT, SIGTERM or SIGHUP.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Last lines of its output (stderr, and stdout or the tail of the file it goes to), for error messages. */
  output(): string;
  exited: Promise<number | null>;
}

const children = new Set<Child>();

/** The pids of the children alive now. */
export function childPids(): number[] {
  return [...children].map((c) => c.proc.pid).filter((pid) => pid !== undefined);
}

function killAllNow(): void {
  for (const child of children) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  }
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${children.size} child process(es)\n`);
      killAllNow();
      process.exit(130);
    });
  }
  const fail = (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    killAllNow();
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

/** The last `bytes` of a file ('' if it cannot be read). */
function fileTail(path: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(bytes, size);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString();
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface SpawnChildOptions extends SpawnOptions {
  /**
   * A file the child's stdout goes to (truncated first), instead of a pipe this process reads: for a child that
   * writes a line per request, whose reading here would take CPU from the measured processes. Its tail is part of
   * output().
   */
  stdoutFile?: string;
}

/**
 * Spawns a child that is killed when this process exits; its piped output is kept as a tail of 4,000 characters,
 * followed in output() by the tail of its stdoutFile if it has one.
 */
export function spawnChild(name: string, command: string, args: string[], options: SpawnChildOptions = {}): Child {
  installExitHandlers();
  const { stdoutFile, ...spawnOptions } = options;
  const stdoutFd = stdoutFile === undefined ? undefined : openSync(stdoutFile, 'w');
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'], ...spawnOptions });
  } finally {
    // The child holds its own descriptor from here on.
    if (stdoutFd !== undefined) closeSync(stdoutFd);
  }
  let tail = '';
  const keep = (text: string) => {
    tail = (tail + text).slice(-4000);
  };
  proc.stdout?.on('data', (chunk: Buffer) => keep(chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => keep(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
    proc.once('error', (error) => {
      keep(`\nspawn error: ${error.message}`);
      children.delete(child);
      resolve(null);
    });
  });
  const output =
    stdoutFile === undefined
      ? () => tail
      : () => {
          const logged = fileTail(stdoutFile, 4000);
          return logged === '' ? tail : `${tail}${tail === '' ? '' : '\n'}[${stdoutFile}, last lines]\n${logged}`;
        };
  const child: Child = { name, proc, output, exited };
  children.add(child);
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/**
 * Runs a command to completion (killed at `timeoutMs`, or with this process); resolves with its code and output.
 * `interruptMs`: send SIGINT then, and again every 250 ms until it exits (for commands that stop cleanly on it).
 */
export async function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number; interruptMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { timeoutMs, interruptMs, ...spawnOptions } = options;
  const { proc } = spawnChild(command, command, args, spawnOptions);
  const out = { stdout: '', stderr: '' };
  proc.stdout?.on('data', (chunk: Buffer) => {
    out.stdout += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    out.stderr += chunk.toString();
  });
  // 'close', not 'exit': the whole output is wanted.
  const closed = new Promise<number | null>((resolve) => {
    proc.once('close', (code) => resolve(code));
    proc.once('error', (error) => {
      out.stderr += `spawn error: ${error.message}`;
      resolve(null);
    });
  });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  let interrupter: NodeJS.Timeout | undefined;
  const interrupt =
    interruptMs === undefined
      ? undefined
      : setTimeout(() => {
          proc.kill('SIGINT');
          interrupter = setInterval(() => proc.kill('SIGINT'), 250);
        }, interruptMs);
  const code = await closed;
  clearTimeout(timer);
  clearTimeout(interrupt);
  clearInterval(interrupter);
  return { code, ...out };
}

/** Waits until the child's output matches `pattern`; fails if it exits first or `timeoutMs` passes. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = child.output().match(pattern);
    if (match) return match;
    if (child.proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`${child.name}: no ${pattern} in its output:\n${child.output()}`);
}
