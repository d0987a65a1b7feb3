/**
 * Lowers the scheduling priority of the calling thread (Linux): pool workers yield the CPU to the event loop, so
 * small requests keep their latency while large tensors are being computed on every core. Linux schedules threads
 * as tasks with their own id, which /proc/thread-self names; elsewhere this does nothing.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export function lowerThreadPriority(nice: number): boolean {
  if (nice <= 0) return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isSafeInteger(tid)) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
