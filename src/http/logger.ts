/**
 * The process logger: pino writing to stdout in the background. pino's default destination writes each line with a
 * synchronous write(2), one system call per request on the hot path; here lines are gathered and written together
 * (sonic-boom's own buffering), at the latest FLUSH_MS after they were logged, and flushed when the app closes.
 * pino flushes what is left when the process exits.
 */
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';

/** Longest a log line waits in memory before it is written. */
const FLUSH_MS = 200;
/** Bytes gathered before a write starts on its own (a few dozen request lines). */
const BATCH_BYTES = 4096;

export interface ServiceLogger {
  logger: FastifyBaseLogger;
  /** Writes out what is buffered and stops the flush timer. */
  close(): Promise<void>;
}

export function createLogger(level: string): ServiceLogger {
  if (level === 'silent') return { logger: pino({ level }), close: async () => {} };
  const destination = pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES });
  const timer = setInterval(() => destination.flush(), FLUSH_MS);
  timer.unref();
  return {
    logger: pino({ level }, destination),
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        // A write error (stdout closed) must not stop the shutdown; there is nowhere left to report it.
        destination.flush(() => resolve());
      }),
  };
}
