/**
 * What the process may use, read once at start-up for configuration defaults: the memory it may hold (the cgroup
 * limit inside a container, else physical memory) and the file descriptors it may open (RLIMIT_NOFILE).
 */
import { readFileSync } from 'node:fs';
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

/**
 * Connections to accept at most so that descriptors never run out: the soft limit less what the process needs for
 * everything else (pool threads, logs, /proc reads by metrics), with a margin.
 */
export function defaultMaxConnections(fileLimit = openFileLimit()): number {
  if (fileLimit === undefined) return 10_000;
  return Math.max(16, fileLimit - Math.max(64, Math.ceil(fileLimit * 0.1)));
}
