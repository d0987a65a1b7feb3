/**
 * Property-based fuzzing of every route and body format: hostile JSON, raw binary, .npy and /v2 requests
 * and headers. Every reply must be a 4xx with a problem document naming something actually wrong (/v2: {"error"}
 * with Content-Type application/json), or, for a valid request, a 2xx with exactly the reference bytes; never a
 * 5xx; and known-good requests keep returning the reference bytes after every batch. The properties live in
 * test/fuzz/properties.ts; `npm run fuzz` runs them ≥ 10,000 times.
 *
 * FUZZ_RUNS: base runs per property (× the property's weight; default 80, 1,120 cases, a few seconds). FUZZ_SEED: the seed
 * (default fixed, so a CI failure replays locally with the same command).
 */
import t from 'tap';
import { closeFuzzApps, fuzzSettings, PROPERTIES, runProperty, runsFor, startFuzzApps } from './properties.js';

const { runs, seed } = fuzzSettings(process.env, 80);

t.test(`fuzz every route and body format (FUZZ_SEED=${seed} FUZZ_RUNS=${runs})`, async (t) => {
  t.comment(`fuzz seed ${seed} (FUZZ_SEED), ${runs} base runs per property (FUZZ_RUNS)`);
  const env = await startFuzzApps();
  t.teardown(() => closeFuzzApps(env));
  for (const property of PROPERTIES) {
    // No shrinking here (a hang costs REQUEST_TIMEOUT_MS a step): `npm run fuzz` shrinks to a minimal case.
    const report = await runProperty(env, property, runsFor(property, runs), seed, 'stop');
    t.notOk(report.failed, `${property.name}: ${report.runs} cases in ${Math.round(report.ms)} ms`, {
      diagnostic: report.failed,
      seed,
      replay: `FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npx tap test/fuzz/fuzz.test.ts`,
      counterexamplePath: report.counterexamplePath ?? undefined,
      error: report.error,
    });
  }
  t.ok(env.goodChecks >= PROPERTIES.length, `known-good requests stayed exact (${env.goodChecks} checks)`);
});
