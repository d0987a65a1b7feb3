/** [memory] row: how much the fresh service's resident memory rises for one 64 MiB binary request. */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { K, M } from '../lib/bodies.js';
import { fmt } from '../lib/format.js';
import { memory } from '../lib/proc.js';
import { addRow, atMost, errorRow, failed, log, note } from '../lib/report.js';
import { binaryCase, jsonCase, verify } from '../lib/requests.js';

const section = 'memory';

export async function memoryRows(serviceUrl: string, pid: number): Promise<void> {
  log('memory: one 64 MiB request on the fresh service');
  const name = 'peak RSS increase, one 64 MiB binary request (16M float32)';
  const target = atMost(2.5);
  try {
    const binaryUrl = `${serviceUrl}/v1/dropout?p=0.5&seed=1`;
    const big = binaryCase('service binary 16M', binaryUrl, 16 * M);
    // Warm the routes up with small requests only: the process has not yet seen a large body.
    for (const c of [
      jsonCase('warm', `${serviceUrl}/v1/dropout`, 16, 'output', true),
      binaryCase('warm', binaryUrl, 64 * K),
    ]) {
      for (let i = 0; i < 20; i++) await verify(c);
    }
    await sleep(300);
    const before = memory(pid).rss;
    // Writing 5 to clear_refs resets VmHWM to the current RSS; sampling VmRSS is the fallback (and a cross-check).
    let reset = true;
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      reset = false;
    }
    let sampled = before;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, memory(pid).rss);
    }, 2);
    await verify(big);
    await sleep(50);
    clearInterval(sampler);
    const after = memory(pid);
    const peak = reset ? Math.max(after.hwm, sampled) : sampled;
    const increase = peak - before;
    addRow({
      section,
      case: name,
      figure: increase / M,
      figureText: `+${fmt(increase / M)} MiB (RSS ${fmt(before / M)} -> peak ${fmt(peak / M)} MiB)`,
      baseline: 64,
      baselineText: '64 MiB body',
      target,
      detail: { before, peak, hwmAfter: after.hwm, sampledMax: sampled, hwmReset: reset },
    });
    if (!reset) note('memory: could not reset VmHWM (clear_refs); peak from VmRSS sampled every 2 ms');
  } catch (e) {
    errorRow(section, name, failed(section, e), target);
  }
}
