/** HTTP load: what a run asks for and gives, which generator runs it (wrk or autocannon), and a run after a warm-up. */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { autocannonOnce, autocannonVersion } from './autocannon.js';
import { writeWrkScript, wrkOnce, wrkVersion } from './wrk.js';

export interface LoadSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  connections: number;
  /** Measured seconds. */
  duration: number;
  /** Seconds of unmeasured load first (0: none). */
  warmup: number;
}

export interface LoadResult {
  /** Completed 2xx responses per second. */
  rps: number;
  /**
   * Latency percentiles, ms. autocannon: of 2xx responses, exact (computed from every response, not autocannon's
   * 1 ms bins). wrk: its --latency distribution (every response, 2xx or not, to the microsecond).
   */
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

export type LoaderName = 'wrk' | 'autocannon';

export interface Loader {
  name: LoaderName;
  /** wrk's version line (`wrk -v`), autocannon's package version; null if unknown. */
  version: string | null;
  /** Why this one (found on PATH, forced by --loader, ...). */
  reason: string;
}

/** The full path of `command` in a PATH directory, if it is there and executable. */
function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Picks the load generator: `requested` ('wrk' or 'autocannon', from --loader=...) if given, else wrk when it is on
 * PATH, else autocannon. Throws if wrk is requested and missing, or the name is unknown.
 */
export async function chooseLoader(requested?: string): Promise<Loader> {
  if (requested !== undefined && requested !== 'wrk' && requested !== 'autocannon') {
    throw new Error(`unknown loader "${requested}" (use --loader=wrk or --loader=autocannon)`);
  }
  const wrkPath = findOnPath('wrk');
  if (requested === 'autocannon' || (requested === undefined && wrkPath === null)) {
    return {
      name: 'autocannon',
      version: autocannonVersion(),
      reason: requested === 'autocannon' ? '--loader=autocannon' : 'wrk is not on PATH',
    };
  }
  if (wrkPath === null) throw new Error('--loader=wrk: wrk is not on PATH (Debian/Ubuntu: apt-get install wrk)');
  return {
    name: 'wrk',
    version: await wrkVersion(),
    reason: requested === 'wrk' ? '--loader=wrk' : `found ${wrkPath}`,
  };
}

/**
 * A load run after a warm-up run (same generator, same connections); req/s and latency from the measured run only.
 * wrk's script and body go to a temporary directory, removed after.
 */
export async function runLoad(spec: LoadSpec, loader: LoaderName = 'autocannon'): Promise<LoadResult> {
  const dir = loader === 'wrk' ? await mkdtemp(join(tmpdir(), 'dropout-bench-wrk-')) : null;
  try {
    const script = dir === null ? null : await writeWrkScript(spec, dir);
    const once = (seconds: number) =>
      script === null ? autocannonOnce(spec, seconds) : wrkOnce(spec, seconds, script);
    if (spec.warmup > 0) await once(spec.warmup);
    return await once(spec.duration);
  } finally {
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  }
}
