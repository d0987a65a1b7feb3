/**
 * SIGTERM and SIGINT start the shutdown once. A terminal's Ctrl-C or systemd's KillMode=control-group signal the
 * whole process group, and `npm start` forwards what it gets to this process too, so one stop arrives here as two
 * signals a few milliseconds apart. close-with-grace exits at once on a second signal, dropping requests that were
 * being served; here a repeat within REPEAT_WINDOW_MS is the same stop, and only a later one (someone insisting)
 * exits at once.
 */

/**
 * Longest the shutdown may take, drain window included, before the process exits anyway. The deployment's grace
 * periods are checked against it (test/deploy), which is why it lives here and not in server.ts: importing that
 * starts a server.
 */
export const SHUTDOWN_GRACE_MS = 10_000;

const REPEAT_WINDOW_MS = 1000;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export function onShutdownSignal(start: (signal: string) => void): void {
  let first: number | undefined;
  const onSignal = (signal: string) => {
    const now = performance.now();
    if (first === undefined) {
      first = now;
      start(signal);
    } else if (now - first > REPEAT_WINDOW_MS) {
      process.stderr.write(`second ${signal}, exiting now\n`);
      process.exit(1);
    }
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
}
