/** What the soak prints: a row per phase, the soak phase by kind, the 503s' reasons, and the checks that decide it. */
import { fmt, textTable } from '../../bench/lib/format.js';
import { ELEMENTS, KINDS } from './mix.js';
import { type Phase, replies, sum } from './phase.js';

export const RSS_GROWTH_LIMIT = 0.2;

export interface Outcome {
  calibration: Phase;
  warmup: Phase;
  soak: Phase;
  /** 200s per second, closed-loop, and the rate offered after it. */
  capacity: number;
  rate: number;
  rss: { start: number; end: number; samples: number[] };
  alive: boolean;
  /** Connections open and /readyz's answer once the load has stopped. */
  leftover: number;
  readyz: string;
  exitCode: number | null;
  stopSeconds: number;
  /** The service's last output, shown when it did not exit 0. */
  serviceOutput: string;
}

export const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function phaseRow(p: Phase): string[] {
  const responses = replies(p);
  return [
    p.name,
    `${p.seconds.toFixed(1)} s`,
    String(responses),
    fmt(responses / p.seconds),
    String(sum(p, 'ok')),
    fmt(sum(p, 'ok') / p.seconds),
    String(sum(p, 'shed')),
    String(sum(p, 'other')),
    String(p.errors),
    String(p.timeouts),
    `${sum(p, 'verified')}/${sum(p, 'ok')}`,
    String(sum(p, 'mismatched')),
    `${(p.cpu.service / p.seconds).toFixed(2)} / ${(p.cpu.load / p.seconds).toFixed(2)} / ${p.cpu.foreign.toFixed(2)}`,
  ];
}

/** Prints the tables and the checks; returns how many checks failed. */
export function report(o: Outcome): number {
  const { soak } = o;
  const phases = [o.calibration, o.warmup, soak];
  const phaseHeader = ['phase', 'time', 'replies', 'replies/s', '200', '200/s', '503', 'other', 'errors', 'timeouts'];
  const cpuHeader = 'CPU cores: service / load / rest (kernel net, other processes)';
  process.stdout.write(`\n${textTable([...phaseHeader, 'verified', 'wrong', cpuHeader], phases.map(phaseRow))}\n\n`);
  const kindRows = KINDS.map((k) => {
    const t = soak.byKind[k];
    return [k, ...[ELEMENTS[k], t.ok, t.verified, t.mismatched, t.shed, t.other].map(String)];
  });
  const kindHeader = ['soak by kind', 'elements', '200', 'verified', 'wrong', '503', 'other'];
  process.stdout.write(`${textTable(kindHeader, kindRows)}\n\n`);

  const reasons = new Map<string, number>();
  for (const p of phases) for (const [r, n] of p.shedReasons) reasons.set(r, (reasons.get(r) ?? 0) + n);
  if (reasons.size > 0) {
    const rows = [...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => [r, String(n)]);
    process.stdout.write(`${textTable(['503 reason (all phases)', 'count'], rows)}\n\n`);
  }

  const total = (count: (p: Phase) => number) => phases.reduce((n, p) => n + count(p), 0);
  const ok = total((p) => sum(p, 'ok'));
  const verified = total((p) => sum(p, 'verified'));
  const other = total((p) => sum(p, 'other'));
  const shed = total((p) => sum(p, 'shed'));
  const badShed = total((p) => p.badShed);
  const errors = total((p) => p.errors + p.timeouts);
  const { start, end, samples } = o.rss;
  const growth = end / start - 1;
  const checks: Array<[string, boolean, string]> = [
    ['requests served (200)', ok > 0, `${ok} (soak: ${sum(soak, 'ok')}, ${fmt(sum(soak, 'ok') / soak.seconds)}/s)`],
    [
      'offered load ≈ 2 × capacity',
      true,
      `${o.rate} req/s asked, ${fmt(replies(soak) / soak.seconds)} replies/s got (capacity ${fmt(o.capacity)}/s)`,
    ],
    [
      '503s say "overloaded", with Retry-After',
      badShed === 0,
      `${shed} 503s (${fmt((100 * shed) / Math.max(1, shed + ok))}% of answers); ${badShed} do not`,
    ],
    ['other non-2xx (must be 0)', other === 0, String(other)],
    ['connection errors and timeouts (must be 0)', errors === 0, String(errors)],
    [
      '200 bodies verified (must be 100%)',
      verified === ok,
      `${verified}/${ok} (${ok ? ((100 * verified) / ok).toFixed(2) : '0'}%)`,
    ],
    [
      `RSS growth after warm-up (≤ ${RSS_GROWTH_LIMIT * 100}%)`,
      Number.isFinite(growth) && growth <= RSS_GROWTH_LIMIT,
      `${MiB(start)} → ${MiB(end)} (${(growth * 100).toFixed(1)}%; min ${MiB(Math.min(...samples))}, max ${MiB(Math.max(...samples))})`,
    ],
    [
      'service alive at the end, exit 0 on SIGTERM',
      o.alive && o.exitCode === 0,
      `alive ${o.alive}; 1 s after the load: ${o.leftover} connections open, /readyz ${o.readyz.trim()}; ` +
        `SIGTERM → exit code ${o.exitCode} after ${o.stopSeconds.toFixed(1)} s`,
    ],
  ];
  const checkRows = checks.map(([n, passed, f]) => [n, passed ? 'ok' : 'FAIL', f]);
  process.stdout.write(`${textTable(['check', 'result', 'figures'], checkRows)}\n`);
  if (o.exitCode !== 0) process.stdout.write(`\nservice output (last lines):\n${o.serviceOutput.slice(-3000)}\n`);
  const mismatches = phases.flatMap((p) => p.mismatches);
  if (mismatches.length > 0) process.stdout.write(`\nfirst problems:\n  ${mismatches.slice(0, 10).join('\n  ')}\n`);
  return checks.filter(([, passed]) => !passed).length;
}
