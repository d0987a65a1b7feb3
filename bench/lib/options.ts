/**
 * The run's options, from the command line: `--quick` (shorter runs, no reference rows) and
 * `--loader=wrk|autocannon` (or `--loader wrk`; default: wrk when it is on PATH).
 */
import { chooseLoader, type Loader } from './load.js';

export const QUICK = process.argv.includes('--quick');

/**
 * HTTP: `rounds` alternating rounds per comparison row (S R S R S R), each a `warmup`-second run then a measured
 * `duration`-second run of `connections` connections. Kernel: `reps` repetitions of at least `minMs`.
 */
export const SETTINGS = QUICK
  ? { duration: 1, warmup: 0.3, rounds: 3, connections: 10, reps: 3, minMs: 30, poolMinMs: 200 }
  : { duration: 5, warmup: 1, rounds: 3, connections: 10, reps: 7, minMs: 100, poolMinMs: 500 };

function loaderArgument(): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith('--loader=')) return args[i].slice('--loader='.length);
    if (args[i] === '--loader') return args[i + 1];
  }
  return undefined;
}

/** The HTTP load generator of every HTTP row. */
export const LOADER: Loader = await chooseLoader(loaderArgument());
