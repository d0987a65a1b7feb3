/**
 * Fault injection for the pool, from the test side: an app built with FAULTY_WORKER runs the service's own worker,
 * except that a request seeded with one of FAULT_SEEDS breaks the worker that runs its tensor's first range.
 */

/** The worker module to pass as the app's `workerFile` (tests run under tsx, so it is the .ts file). */
export const FAULTY_WORKER = new URL('./faulty-worker.ts', import.meta.url).href;

/** What each seed does to its request's first range task: throw from the task, or end the worker's thread. */
export const FAULT_SEEDS = { throw: 0xfa17_0001n, exit: 0xfa17_0002n } as const;
