/** Load runs with wrk (C, one thread): what the project's figures are checked with from outside. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadResult, LoadSpec } from './load.js';
import { runCommand } from './processes.js';

export async function wrkVersion(): Promise<string | null> {
  // `wrk -v` prints "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer" and its usage, and exits 1.
  const { stdout, stderr } = await runCommand('wrk', ['-v'], { timeoutMs: 10_000 });
  const line = `${stdout}\n${stderr}`.split('\n').find((l) => /^wrk\s/.test(l.trim()));
  return line ? line.replace(/\s*Copyright.*$/, '').trim() : null;
}

/** A Lua string literal (decimal escapes for anything but printable ASCII, quotes and backslashes). */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${byte}`;
  }
  return `${out}"`;
}

/** Writes the wrk script (method, headers, body read from a file) into `dir`; returns the script's path. */
export async function writeWrkScript(spec: LoadSpec, dir: string): Promise<string> {
  const lines = [`wrk.method = ${luaString(spec.method ?? 'GET')}`];
  for (const [key, value] of Object.entries(spec.headers ?? {})) {
    lines.push(`wrk.headers[${luaString(key)}] = ${luaString(value)}`);
  }
  if (spec.body !== undefined) {
    const bodyPath = join(dir, 'body');
    await writeFile(bodyPath, spec.body);
    lines.push(
      `local file = assert(io.open(${luaString(bodyPath)}, "rb"))`,
      'wrk.body = file:read("*a")',
      'file:close()',
    );
  }
  const scriptPath = join(dir, 'request.lua');
  await writeFile(scriptPath, `${lines.join('\n')}\n`);
  return scriptPath;
}

const WRK_TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "635.91us", "1.20ms", "2.01s" (wrk's format_time_us) in ms; NaN if it does not parse. */
function wrkTimeMs(value: string, unit: string): number {
  const scale = WRK_TIME_UNITS_MS[unit];
  return scale === undefined ? Number.NaN : Number(value) * scale;
}

/** Parses the report of `wrk --latency`. */
export function parseWrkOutput(text: string): LoadResult {
  const summary = text.match(/^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m);
  const perSecond = text.match(/^Requests\/sec:\s+([\d.]+)/m);
  if (!summary || !perSecond) throw new Error(`wrk: no "requests in" / "Requests/sec" in its report:\n${text}`);
  const requests = Number(summary[1]);
  const seconds = wrkTimeMs(summary[2], summary[3]) / 1000;
  const quantile = (q: string) => {
    const match = text.match(new RegExp(`^\\s*${q}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm'));
    return match && requests > 0 ? wrkTimeMs(match[1], match[2]) : Number.NaN;
  };
  // wrk counts status >= 400 as "Non-2xx or 3xx responses"; both lines are printed only when non-zero.
  const non2xx = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const ok = Math.max(0, requests - non2xx);
  return {
    // Requests/sec counts every response; keep the 2xx share, like the autocannon path.
    rps: requests > 0 ? (Number(perSecond[1]) * ok) / requests : 0,
    p50: quantile('50'),
    p99: quantile('99'),
    ok,
    non2xx,
    errors: socket ? Number(socket[1]) + Number(socket[2]) + Number(socket[3]) : 0,
    timeouts: socket ? Number(socket[4]) : 0,
    seconds,
  };
}

/**
 * One `wrk -t1 -c<connections> -d<seconds>s --latency --timeout 30s -s <script> <url>` run. wrk takes whole seconds
 * only; a fractional `duration` runs with -d rounded up and is ended by SIGINT at `duration` (wrk stops and prints
 * its report, over the time it actually ran).
 */
export async function wrkOnce(spec: LoadSpec, duration: number, script: string): Promise<LoadResult> {
  const whole = Math.max(1, Math.ceil(duration));
  const args = ['-t1', `-c${spec.connections}`, `-d${whole}s`, '--latency', '--timeout', '30s', '-s', script, spec.url];
  const { code, stdout, stderr } = await runCommand('wrk', args, {
    timeoutMs: whole * 1000 + 30_000,
    interruptMs: duration < whole ? Math.max(1, Math.round(duration * 1000)) : undefined,
  });
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} exited with ${code}: ${`${stderr}${stdout}`.trim()}`);
  return parseWrkOutput(stdout);
}
