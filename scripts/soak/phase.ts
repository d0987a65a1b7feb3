/** One load phase of the soak: the mix through autocannon, every reply tallied by kind and checked. */
import autocannon from 'autocannon';
import { keepBodyChunks } from '../../bench/lib/autocannon.js';
import { cpuSeconds, foreignCpuMeter } from '../../bench/lib/proc.js';
import { type Case, KINDS, type Kind, nextCase, shedReply, verify } from './mix.js';

keepBodyChunks();

interface PerKind {
  ok: number;
  verified: number;
  mismatched: number;
  shed: number;
  other: number;
}

export interface Phase {
  name: string;
  seconds: number;
  byKind: Record<Kind, PerKind>;
  errors: number;
  timeouts: number;
  badShed: number;
  /** 503s by reason (the problem detail up to its first digit or parenthesis). */
  shedReasons: Map<string, number>;
  /** CPU seconds used during the phase by the service and by this (load) process; other processes in cores. */
  cpu: { service: number; load: number; foreign: number };
  mismatches: string[];
}

export const sum = (phase: Phase, key: keyof PerKind) => KINDS.reduce((n, k) => n + phase.byKind[k][key], 0);

export const replies = (phase: Phase) => sum(phase, 'ok') + sum(phase, 'shed') + sum(phase, 'other');

function newPhase(name: string): Phase {
  const byKind = Object.fromEntries(
    KINDS.map((k) => [k, { ok: 0, verified: 0, mismatched: 0, shed: 0, other: 0 }]),
  ) as Record<Kind, PerKind>;
  return {
    name,
    seconds: 0,
    byKind,
    errors: 0,
    timeouts: 0,
    badShed: 0,
    shedReasons: new Map(),
    cpu: { service: 0, load: 0, foreign: 0 },
    mismatches: [],
  };
}

function tally(phase: Phase, c: Case, status: number, body: Buffer, headers: Record<string, unknown>): void {
  const counts = phase.byKind[c.kind];
  if (status === 200) {
    counts.ok++;
    let problem: string | null;
    try {
      problem = verify(c, body, headers);
    } catch (error) {
      problem = `unreadable reply: ${(error as Error).message}`;
    }
    if (problem === null) counts.verified++;
    else {
      counts.mismatched++;
      if (phase.mismatches.length < 10) phase.mismatches.push(`${c.kind} ${c.path}: ${problem}`);
    }
  } else if (status === 503) {
    counts.shed++;
    const { reason, ok } = shedReply(c, body, headers);
    phase.shedReasons.set(reason, (phase.shedReasons.get(reason) ?? 0) + 1);
    if (!ok && ++phase.badShed === 1) {
      phase.mismatches.push(
        `${c.kind}: 503 that does not say it is overloaded, or has no Retry-After: ${JSON.stringify(headers)} ${body.toString('utf8').slice(0, 300)}`,
      );
    }
  } else {
    counts.other++;
    if (phase.mismatches.length < 10) {
      phase.mismatches.push(`${c.kind} ${c.path}: status ${status} ${body.toString('utf8').slice(0, 200)}`);
    }
  }
}

/** Runs the mix against `url` for `seconds`, closed-loop or at `overallRate` requests per second in all. */
export async function runPhase(
  name: string,
  url: string,
  servicePid: number,
  options: { seconds: number; connections: number; overallRate?: number },
): Promise<Phase> {
  const phase = newPhase(name);
  const started = performance.now();
  const cpuStart = { service: cpuSeconds(servicePid), load: cpuSeconds(process.pid) };
  const foreign = foreignCpuMeter();
  await new Promise<void>((resolve, reject) => {
    autocannon(
      {
        url,
        connections: options.connections,
        duration: options.seconds,
        overallRate: options.overallRate,
        timeout: 30,
        sampleInt: 250,
        requests: [
          {
            setupRequest: (request: Record<string, unknown>, context: Record<string, unknown>) => {
              const c = nextCase();
              context.case = c;
              return { ...request, method: 'POST', path: c.path, headers: c.headers, body: c.body };
            },
            onResponse: (status: number, body: unknown, context: Record<string, unknown>, headers: unknown) => {
              const bytes = Array.isArray(body) ? Buffer.concat(body as Buffer[]) : Buffer.alloc(0);
              tally(phase, context.case as Case, status, bytes, headers as Record<string, unknown>);
            },
          },
        ],
      } as autocannon.Options,
      (error, result) => {
        if (error) return reject(error);
        phase.errors += result.errors - result.timeouts;
        phase.timeouts += result.timeouts;
        resolve();
      },
    );
  });
  phase.seconds = (performance.now() - started) / 1000;
  phase.cpu = {
    service: cpuSeconds(servicePid) - cpuStart.service,
    load: cpuSeconds(process.pid) - cpuStart.load,
    foreign: foreign(),
  };
  return phase;
}
