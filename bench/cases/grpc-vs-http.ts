/**
 * [gRPC vs binary HTTP] rows: gRPC ModelInfer against the same tensors over /v2 binary HTTP, in alternating rounds
 * (gRPC, HTTP, gRPC, ...) after an unmeasured run of each, both sides driven by h2load (lib/h2load.ts says why);
 * medians per side, as the HTTP comparison rows take them.
 */
import { K, M } from '../lib/bodies.js';
import { fmt } from '../lib/format.js';
import { ensureH2load, grpcBench, type H2loadResult } from '../lib/h2load.js';
import { SETTINGS } from '../lib/options.js';
import { foreignCpuMeter } from '../lib/proc.js';
import { addRow, atLeast, errorRow, failed, log, note, type Target } from '../lib/report.js';
import { alternate, median, spread } from '../lib/rounds.js';

const section = 'gRPC vs binary HTTP';

function summary(runs: H2loadResult[]): { rps: number; text: string } {
  const failures = runs.reduce((n, r) => n + r.failed, 0);
  const rps = median(runs.map((r) => r.rps));
  const mean = median(runs.map((r) => r.meanMs));
  return { rps, text: `${fmt(rps)} req/s, mean ${fmt(mean)} ms${failures > 0 ? `, ${failures} failed` : ''}` };
}

export async function grpcRows(httpUrl: string, grpcTarget: string): Promise<void> {
  const cases: Array<{ name: string; elements: number; target: Target | null }> = [
    { name: 'ModelInfer FP32 64K: gRPC vs /v2 binary', elements: 64 * K, target: null },
    { name: 'ModelInfer FP32 1M: gRPC vs /v2 binary', elements: M, target: atLeast(1) },
  ];
  if (!(await ensureH2load())) {
    for (const c of cases) errorRow(section, c.name, 'skipped (no h2load: apt-get install nghttp2-client)', c.target);
    return;
  }
  let bench: Awaited<ReturnType<typeof grpcBench>>;
  try {
    bench = await grpcBench(
      httpUrl,
      grpcTarget,
      cases.map((c) => c.elements),
    );
  } catch (e) {
    const reason = failed('preparing the gRPC rows', e);
    for (const c of cases) errorRow(section, c.name, reason, c.target);
    return;
  }
  note(
    `gRPC rows: h2load (nghttp2) for both sides, ${SETTINGS.connections} connections with one request in flight each (gRPC over h2c, HTTP/1.1 for /v2), one thread; gRPC calls that ended other than OK, counted by the service's own grpc_server_handled_total, are reported as failures`,
  );
  const done = new Set<string>();
  const spec = { connections: SETTINGS.connections, seconds: SETTINGS.duration, warmupSeconds: SETTINGS.warmup };
  try {
    for (const { name, elements, target } of cases) {
      // The HTTP path has served every row before this one; one unmeasured run of each side gives gRPC's code and
      // buffers the same chance to warm up before the rounds that count.
      log(`warm-up: ${name}`);
      for (const side of ['grpc', 'http'] as const) await bench.run(side, elements, spec);
      const foreign = foreignCpuMeter();
      const [grpcRuns, httpRuns] = await alternate(
        SETTINGS.rounds,
        (['grpc', 'http'] as const).map((side) => async (round: number) => {
          log(`load: ${name}, ${side} [round ${round + 1}/${SETTINGS.rounds}]`);
          return bench.run(side, elements, spec);
        }),
      );
      const [grpc, http] = [summary(grpcRuns), summary(httpRuns)];
      const ratios = grpcRuns.map((r, k) => r.rps / httpRuns[k].rps);
      addRow({
        section,
        case: name,
        figure: grpc.rps,
        figureText: grpc.text,
        baseline: http.rps,
        baselineText: http.text,
        target,
        foreignCores: foreign(),
        ratioSpread: spread(ratios),
        detail: { grpc: grpcRuns, http: httpRuns, ratios },
      });
      done.add(name);
    }
  } catch (e) {
    const reason = failed('the gRPC rows', e);
    for (const c of cases) if (!done.has(c.name)) errorRow(section, c.name, reason, c.target);
  } finally {
    await bench.close();
  }
}
