/** What scripts/chaos.ts takes from the harness, under the path it imports. */
export { fmt, textTable } from './lib/format.js';
export { ROOT } from './lib/paths.js';
export { spawnChild, stopChild } from './lib/processes.js';
