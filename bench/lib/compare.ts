/** Measured HTTP load runs, and the comparison row: a subject against a reference in alternating rounds. */
import { fmt } from './format.js';
import { type LoadResult, runLoad } from './load.js';
import { LOADER, SETTINGS } from './options.js';
import { foreignCpuMeter } from './proc.js';
import { addRow, failed, log, note, type Target } from './report.js';
import { type HttpCase, verify } from './requests.js';
import { alternate, median, spread } from './rounds.js';

export type Measured = LoadResult & { foreignCores: number };

/** One warm-up run then one measured run of `c` (req/s and p99 from the measured run), metered for foreign CPU. */
export async function measureRun(c: HttpCase, label = ''): Promise<Measured> {
  const { connections, duration, warmup } = SETTINGS;
  log(`load: ${c.name}${label} (${LOADER.name}, ${connections} connections, ${warmup}s warm-up + ${duration}s)`);
  const foreign = foreignCpuMeter();
  const load = await runLoad({ ...c.spec, connections, duration, warmup }, LOADER.name);
  const result: Measured = { ...load, foreignCores: foreign() };
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    note(`${c.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts under load`);
  }
  return result;
}

/** One side of a comparison row over its rounds. */
interface Side {
  c: HttpCase;
  runs: Measured[];
  /** The table's text for a failure ('' if none); a side that fails is not measured again. */
  error: string;
}

/** Medians of one side's rounds: req/s and p99 separately (each the median of its own per-round figures). */
function summarize(side: Side) {
  if (side.error !== '' || side.runs.length === 0) return null;
  const sum = (key: 'non2xx' | 'errors' | 'timeouts') => side.runs.reduce((n, r) => n + r[key], 0);
  return {
    rps: median(side.runs.map((r) => r.rps)),
    p99: median(side.runs.map((r) => r.p99)),
    rounds: side.runs.length,
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
  };
}

type Summary = NonNullable<ReturnType<typeof summarize>>;

function summaryText(s: Summary): string {
  const problems = s.non2xx + s.errors + s.timeouts;
  return `${fmt(s.rps)} req/s, p99 ${fmt(s.p99)} ms${problems > 0 ? `, ${problems} non-2xx/errors` : ''}`;
}

export interface Comparison {
  name: string;
  subject: HttpCase;
  reference: HttpCase;
  /** On the row's ratio (see `judge`); null for a row shown for reference only. */
  target: Target | null;
  /**
   * The row's ratio: 'median-ratio' (the default), median(subject req/s) / median(reference req/s);
   * 'per-round-median', the median of the per-round ratios (subject round i / reference round i), for a reference
   * whose req/s moves between modes from round to round: each round's ratio sets the subject against the reference
   * in the same conditions, where the medians of the two sides may come from rounds in different modes. Such a row
   * lists both sides' per-round req/s, the median round's in brackets.
   */
  judge?: 'median-ratio' | 'per-round-median';
}

/** The rounds whose ratio is the median of all of them: the middle one, or the middle two of an even count. */
function medianRounds(ratios: Array<number | null>): Set<number> {
  const order = ratios
    .map((ratio, round) => ({ ratio, round }))
    .filter((x): x is { ratio: number; round: number } => x.ratio !== null && Number.isFinite(x.ratio))
    .sort((a, b) => a.ratio - b.ratio);
  if (order.length === 0) return new Set();
  const mid = order.length >> 1;
  return new Set(order.length % 2 === 1 ? [order[mid].round] : [order[mid - 1].round, order[mid].round]);
}

/** One side's req/s round by round, the median rounds in brackets: "rounds 9,812 / [14,901] / 14,650 req/s". */
function perRoundText(runs: Array<Measured | null>, marked: Set<number>): string {
  const figures = runs.map((run, round) => {
    const text = run === null ? '—' : fmt(run.rps);
    return marked.has(round) ? `[${text}]` : text;
  });
  return `rounds ${figures.join(' / ')} req/s`;
}

/**
 * One row: the subject against the reference in alternating rounds (the service's cases are measured again for each
 * baseline). The figures are the medians of each side's rounds, the ratio as `judge` says; the per-round ratios go
 * to the JSON detail, and their range to the table. Each side's first round starts with one checked request.
 */
export async function compare(
  section: string,
  { name, subject, reference, target, judge = 'median-ratio' }: Comparison,
): Promise<void> {
  const sides: Side[] = [subject, reference].map((c) => ({ c, runs: [], error: '' }));
  await alternate(
    SETTINGS.rounds,
    sides.map((side) => async (round) => {
      if (side.error !== '') return;
      try {
        if (round === 0) await verify(side.c);
        side.runs.push(await measureRun(side.c, ` [round ${round + 1}/${SETTINGS.rounds}]`));
      } catch (e) {
        side.error = failed(side.c.name, e);
      }
    }),
  );
  const [subjectSide, referenceSide] = sides;
  const s = summarize(subjectSide);
  const r = summarize(referenceSide);
  const rounds = Array.from({ length: SETTINGS.rounds }, (_, i) => {
    const sr = subjectSide.runs[i];
    const rr = referenceSide.runs[i];
    return {
      round: i + 1,
      subject: sr ?? null,
      reference: rr ?? null,
      ratio: sr && rr && rr.rps > 0 ? sr.rps / rr.rps : null,
      foreignCores: Math.max(sr?.foreignCores ?? 0, rr?.foreignCores ?? 0),
    };
  });
  const ratios = rounds.map((x) => x.ratio).filter((x): x is number => x !== null && Number.isFinite(x));
  const measuredRounds = rounds.filter((x) => x.subject !== null || x.reference !== null);
  const perRound = judge === 'per-round-median';
  const marked = perRound ? medianRounds(rounds.map((x) => x.ratio)) : new Set<number>();
  const sideText = (summary: Summary | null, side: 'subject' | 'reference', error: string): string => {
    if (summary === null) return error;
    if (!perRound) return summaryText(summary);
    const list = perRoundText(
      rounds.map((x) => x[side]),
      marked,
    );
    return `${summaryText(summary)}; ${list}`;
  };
  if (perRound) {
    note(
      'rows whose sides list "rounds ..." are judged on the median of the per-round ratios: ratio = median(subject round i / reference round i), not median/median; the round with the median ratio is in [brackets] (which mode a bimodal reference was in for the judged figure)',
    );
  }
  const ratioOfMedians = s && r && r.rps > 0 ? s.rps / r.rps : null;
  addRow({
    section,
    case: name,
    figure: s?.rps ?? null,
    figureText: sideText(s, 'subject', subjectSide.error),
    baseline: r?.rps ?? null,
    baselineText: sideText(r, 'reference', referenceSide.error),
    ratio: perRound ? (ratios.length > 0 ? median(ratios) : null) : ratioOfMedians,
    target,
    // A round is as noisy as the noisier of its two runs; the row, as its median round.
    foreignCores: measuredRounds.length > 0 ? median(measuredRounds.map((x) => x.foreignCores)) : null,
    ratioSpread: spread(ratios),
    detail: {
      subject: subject.name,
      reference: reference.name,
      loader: LOADER.name,
      judge,
      subjectMedian: s,
      referenceMedian: r,
      ratioOfMedians,
      medianOfRoundRatios: ratios.length > 0 ? median(ratios) : null,
      roundRatios: rounds.map((x) => x.ratio),
      rounds,
    },
  });
}
