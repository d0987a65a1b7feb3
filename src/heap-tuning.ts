/**
 * The process-wide V8 heap settings behind HEAP_GROWING_PERCENT (README, Configuration; docs/performance.md).
 *
 * A large body reaches the service as short-lived 64 KiB Buffers from Node's HTTP parser, about as many bytes again
 * as the body, and V8 counts that external memory towards starting a full collection. V8 11 (Node 20) counts it
 * against the old generation's limit, which the growing factor sets. V8 13.6 and later (Node 24, 26) start a
 * collection whenever external memory grew 64 MB since the last one, whatever the factor, which under 64 MiB
 * requests means one or more a request: unless --external-memory-accounted-in-global-limit puts external memory
 * under the same, grown, limit.
 */

/** The V8 flags for a growing factor of 1 + percent/100 on V8 `v8Version` (process.versions.v8); none for 0. */
export function heapFlags(percent: number, v8Version: string): string[] {
  if (percent <= 0) return [];
  const flags = [`--heap-growing-percent=${percent}`];
  // Present in V8 13.6 (Node 24) and 14.6 (Node 26), absent in 11.3 (Node 20) and 12.4 (Node 22), where V8 would
  // print "unrecognized flag" (and go on). Older 13.x are left alone; later V8s get it, and should one drop the flag,
  // test/server/heap-tuning.test.ts fails on that Node (CI runs it on the container's line too) rather than production
  // printing that line at every start.
  const [major = 0, minor = 0] = v8Version.split('.').map(Number);
  if (major > 13 || (major === 13 && minor >= 6)) flags.push('--external-memory-accounted-in-global-limit');
  return flags;
}
