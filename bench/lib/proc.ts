/**
 * What Linux's /proc says about the machine and the processes under test: CPU used by others (the machine is shared,
 * and a test run elsewhere halves what two cores can do), a process's CPU time and memory, open connections.
 */
import { readFileSync } from 'node:fs';
import { childPids } from './processes.js';

const CLK_TCK = 100;

function busyTicks(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .slice(0, 200)
    .split('\n', 1)[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** utime, stime (all threads), cutime, cstime (children it has waited for) of a process in ticks; null if gone. */
function cpuTicks(pid: number): [number, number, number, number] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[11]), Number(fields[12]), Number(fields[13]), Number(fields[14])];
  } catch {
    return null;
  }
}

/** CPU seconds (user + system, all threads) a process has used; NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  const ticks = cpuTicks(pid);
  return ticks === null ? Number.NaN : (ticks[0] + ticks[1]) / CLK_TCK;
}

/**
 * Starts a meter of the CPU that processes other than this one and its children use; calling the returned
 * function gives the average in cores since the start. Children live at the start are read from /proc; children
 * started inside the window (a wrk run) count once they have exited and been reaped (they are then in this process's
 * cutime/cstime), so read the meter after they end. 0 where there is no /proc.
 */
export function foreignCpuMeter(): () => number {
  try {
    const pids = [process.pid, ...childPids()];
    const own = () => pids.reduce((sum, pid) => sum + (cpuTicks(pid) ?? [0]).reduce((a, b) => a + b, 0), 0);
    const started = performance.now();
    const busy0 = busyTicks();
    const own0 = own();
    return () => {
      const seconds = (performance.now() - started) / 1000;
      const foreign = (busyTicks() - busy0 - (own() - own0)) / CLK_TCK;
      return seconds > 0 ? Math.max(0, foreign / seconds) : 0;
    };
  } catch {
    return () => 0;
  }
}

/** Resident memory now and its high-water mark, in bytes; throws if the process is gone. */
export function memory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

/** TCP connections in state ESTABLISHED whose local port is `port` (the server's side). */
export function openConnections(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length > 3 && fields[1].endsWith(`:${hex}`) && fields[3] === '01') n++;
      }
    } catch {
      // no IPv6
    }
  }
  return n;
}
