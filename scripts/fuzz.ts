/**
 * npm run fuzz: the long run of the fuzz properties of test/fuzz/properties.ts (≥ 10,000 cases by default), with
 * per-property case counts, failures and durations. FUZZ_RUNS sets the base runs per property (× its weight),
 * FUZZ_SEED the seed (default fixed; FUZZ_SEED=random draws one and prints it). Exits 1 if any property fails.
 */
import {
  closeFuzzApps,
  FUZZ_LIMITS,
  fuzzSettings,
  KNOWN_BUGS,
  PROPERTIES,
  type PropertyReport,
  runProperty,
  runsFor,
  startFuzzApps,
} from '../test/fuzz/properties.js';

const MIN_TOTAL = 10_000;
const weights = PROPERTIES.reduce((sum, p) => sum + p.weight, 0);
const env = { ...process.env };
if (env.FUZZ_SEED === 'random') env.FUZZ_SEED = String(Math.floor(Math.random() * 2 ** 31));
const { runs, seed } = fuzzSettings(env, Math.ceil(MIN_TOTAL / weights));

// FUZZ_ONLY: a regular expression selecting properties by name (all by default).
const only = env.FUZZ_ONLY === undefined ? null : new RegExp(env.FUZZ_ONLY, 'i');
const selected = PROPERTIES.filter((p) => only === null || only.test(p.name));
const total = selected.reduce((sum, p) => sum + runsFor(p, runs), 0);
process.stdout.write(
  `fuzz: seed ${seed} (FUZZ_SEED), base runs ${runs} (FUZZ_RUNS) → ${total} cases over ${selected.length} properties\n` +
    `apps: main-thread and worker-pool paths, MAX_ELEMENTS=${FUZZ_LIMITS.maxElements} MAX_BODY_BYTES=${FUZZ_LIMITS.maxBodyBytes}\n\n`,
);

if (env.FUZZ_KNOWN_BUGS === 'skip') {
  process.stdout.write(`FUZZ_KNOWN_BUGS=skip: leaving out inputs of ${KNOWN_BUGS.map((b) => b.id).join(', ')}\n\n`);
}
const fuzz = await startFuzzApps();
const reports: PropertyReport[] = [];
const started = performance.now();
const replies = (r: PropertyReport) =>
  Object.entries(r.replies)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
try {
  for (const property of selected) {
    // Every case runs and failing ones are counted; then a second run stops at the first failure and shrinks it.
    const report = await runProperty(fuzz, property, runsFor(property, runs), seed, 'collect');
    reports.push(report);
    process.stdout.write(
      `${report.failed ? 'FAIL' : 'ok  '} ${String(report.runs).padStart(6)} cases ${String(report.failures).padStart(5)} failing ` +
        `${(report.ms / 1000).toFixed(1).padStart(6)} s  ${property.name}  [${replies(report)}]` +
        `${report.skipped > 0 ? ` (${report.skipped} known-bug inputs skipped)` : ''}\n`,
    );
    if (report.failed) {
      const shrunk = await runProperty(fuzz, property, runsFor(property, runs), seed, 'shrink');
      const example = shrunk.error ?? report.error ?? '';
      process.stdout.write(`     minimal failing case (shrunk):\n     ${example.replaceAll('\n', '\n     ')}\n`);
      report.counterexamplePath = shrunk.counterexamplePath;
    }
  }
} finally {
  await closeFuzzApps(fuzz);
}
const seconds = (performance.now() - started) / 1000;
const cases = reports.reduce((sum, r) => sum + r.runs, 0);
const failing = reports.reduce((sum, r) => sum + r.failures, 0);
const failed = reports.filter((r) => r.failed);
process.stdout.write(
  `\n${cases} cases in ${seconds.toFixed(1)} s (${Math.round(cases / seconds)}/s, shrinking included), ` +
    `${failing} failing cases, ${fuzz.goodChecks} known-good checks, ` +
    `${failed.length} failing propert${failed.length === 1 ? 'y' : 'ies'}\n`,
);
for (const r of failed) {
  process.stdout.write(
    `replay: FUZZ_SEED=${r.seed} FUZZ_RUNS=${runs} FUZZ_ONLY='${r.name.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' npm run fuzz   (fast-check path ${String(r.counterexamplePath).slice(0, 120)})\n`,
  );
}
process.exitCode = failed.length > 0 ? 1 : 0;
