/**
 * [responsiveness] row: p99 of 16-element JSON requests on the idle service against the same while a second load
 * generator keeps 16M-element (64 MiB) binary requests flowing, in alternating idle and loaded rounds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { float32Body, M } from '../lib/bodies.js';
import { type Measured, measureRun } from '../lib/compare.js';
import { fmt } from '../lib/format.js';
import { type LoadResult, runLoad } from '../lib/load.js';
import { LOADER, QUICK, SETTINGS } from '../lib/options.js';
import { ROOT } from '../lib/paths.js';
import { spawnChild, waitForOutput } from '../lib/processes.js';
import { addRow, atMost, errorRow, failed, log, note } from '../lib/report.js';
import { BINARY_HEADERS, jsonCase, verify } from '../lib/requests.js';
import { alternate, median, spread } from '../lib/rounds.js';

const section = 'responsiveness';
/** Connections of the 16M-element background load. */
export const BACKGROUND_CONNECTIONS = 1;

export async function responsivenessRows(serviceUrl: string): Promise<void> {
  const name = `p99 JSON 16 under 16M binary load (${BACKGROUND_CONNECTIONS} conn) vs idle`;
  const target = atMost(3);
  try {
    const probe = jsonCase('service JSON 16', `${serviceUrl}/v1/dropout`, 16, 'output', true);
    await verify(probe);
    // --quick keeps one round of each (its budget is two minutes).
    const rounds = QUICK ? 1 : SETTINGS.rounds;
    const label = (round: number) => (rounds > 1 ? ` [round ${round + 1}/${rounds}]` : '');
    const background: LoadResult[] = [];
    const [idle, loaded] = await alternate<Measured>(rounds, [
      (round) => measureRun(probe, ` idle${label(round)}`),
      async (round) => {
        const { measured, bg } = await underBackgroundLoad(serviceUrl, () =>
          measureRun(probe, ` loaded${label(round)}`),
        );
        background.push(bg);
        if (bg.non2xx + bg.errors + bg.timeouts > 0) {
          note(`background 16M load: ${bg.non2xx} non-2xx, ${bg.errors} errors, ${bg.timeouts} timeouts`);
        }
        return measured;
      },
    ]);
    const p99Idle = median(idle.map((r) => r.p99));
    const p99Loaded = median(loaded.map((r) => r.p99));
    const done = background.reduce((sum, bg) => sum + bg.ok, 0);
    const seconds = background.reduce((sum, bg) => sum + bg.seconds, 0);
    addRow({
      section,
      case: name,
      figure: p99Loaded,
      figureText: `p99 ${fmt(p99Loaded)} ms (${fmt(median(loaded.map((r) => r.rps)))} req/s; background ${done} x 64 MiB done, ${fmt((done * 64) / seconds)} MiB/s)`,
      baseline: p99Idle,
      baselineText: `p99 ${fmt(p99Idle)} ms idle (${fmt(median(idle.map((r) => r.rps)))} req/s)`,
      target,
      ratioSpread: spread(loaded.map((r, i) => r.p99 / idle[i].p99)),
      foreignCores: Math.max(...idle.map((r) => r.foreignCores), ...loaded.map((r) => r.foreignCores)),
      detail: { idle, loaded, background },
    });
  } catch (e) {
    errorRow(section, name, failed(section, e), target);
  }
}

/** The background's 64 MiB body, built once. */
let backgroundBody: Buffer | undefined;

/**
 * Runs `measure` while 16M-element binary requests flow to the service from a second load generator of the same
 * kind as the probe's. wrk, in C, is a child of the harness itself: the exit handlers kill it and the CPU meter
 * counts it as ours. autocannon runs in JavaScript: its own process (bench/background-load.ts), so that it does not
 * share the harness's event loop.
 */
async function underBackgroundLoad(
  serviceUrl: string,
  measure: () => Promise<Measured>,
): Promise<{ measured: Measured; bg: LoadResult }> {
  const duration = 1 + SETTINGS.warmup + SETTINGS.duration + 1;
  log(
    `background: 16M-element binary requests, ${BACKGROUND_CONNECTIONS} connection(s), ${duration}s (${LOADER.name})`,
  );
  const url = `${serviceUrl}/v1/dropout?p=0.5&seed=1`;
  let done: Promise<LoadResult>;
  if (LOADER.name === 'wrk') {
    backgroundBody ??= float32Body(16 * M, 2);
    const spec = { url, method: 'POST' as const, headers: BINARY_HEADERS, body: backgroundBody };
    done = runLoad({ ...spec, connections: BACKGROUND_CONNECTIONS, duration, warmup: 0 }, 'wrk');
  } else {
    const spec = JSON.stringify({ url, elements: 16 * M, connections: BACKGROUND_CONNECTIONS, duration });
    const args = ['--import', 'tsx', 'bench/background-load.ts', spec];
    const child = spawnChild('background load', process.execPath, args, { cwd: ROOT });
    await waitForOutput(child, /^started$/m, 60_000);
    done = child.exited.then(() => JSON.parse(child.output().trim().split('\n').pop() ?? '') as LoadResult);
  }
  // Settled now so that a failing background cannot become an unhandled rejection while the probe runs.
  const settled = done.then(
    (bg) => ({ bg }),
    (error: unknown) => ({ error }),
  );
  await sleep(1000);
  const measured = await measure();
  const outcome = await settled;
  if ('error' in outcome) throw outcome.error;
  return { measured, bg: outcome.bg };
}
