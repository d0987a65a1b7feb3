/**
 * What the process may use, read once at start-up for configuration defaults: the memory it may hold (the cgroup
 * limit inside a container, else physical memory) and the file descriptors it may open (RLIMIT_NOFILE).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** Bytes of memory the process may use. */
export function memoryLimitBytes(): number {
  const physical = totalmem();
  // libuv reads the cgroup (v1 or v2) limit; 0 or a figure above physical memory means there is none.
  const constrained = typeof process.constrainedMemory === 'function' ? Number(process.constrainedMemory()) : 0;
  return constrained > 0 && constrained < physical ? constrained : physical;
}

/** The soft limit on open file descriptors, or undefined where it cannot be read (not Linux). */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
    if (soft === undefined || soft === 'unlimited') return undefined;
    const value = Number(soft);
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Descriptors the process has open now. */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

/** Descriptors a pool thread needs beyond the main thread's: its message ports, and files while it loads. */
const DESCRIPTORS_PER_WORKER = 16;

/**
 * Connections to accept at most so that descriptors never run out: the soft limit less what is open at start-up,
 * what the pool threads need (also when one is replaced), and a tenth of the limit for everything else (log
 * destinations, /proc reads by the metrics).
 */
export function defaultMaxConnections(workers: number, fileLimit = openFileLimit(), open = openDescriptors()): number {
  if (fileLimit === undefined) return 10_000;
  const reserved = (open ?? 64) + DESCRIPTORS_PER_WORKER * (workers + 1) + Math.ceil(fileLimit / 10);
  return Math.max(16, fileLimit - reserved);
}
