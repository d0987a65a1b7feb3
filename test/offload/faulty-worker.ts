/**
 * The service's worker (every task, and its thread setup), with range tasks that fail on command: see ./faults.ts.
 * The command travels in the task itself, as the Philox key of the request's seed, so nothing has to reach the
 * worker's thread ahead of the task.
 */
import { philoxKey } from '../../src/kernel/philox.js';
import type { RangeTask } from '../../src/offload/range-task.js';
import { range as serviceRange } from '../../src/offload/worker.js';
import { FAULT_SEEDS } from './faults.js';

export * from '../../src/offload/worker.js';

function seededWith(task: RangeTask, seed: bigint): boolean {
  const [key0, key1] = philoxKey(seed);
  return task.kernel.kind === 'standard' && task.kernel.params.key0 === key0 && task.kernel.params.key1 === key1;
}

export function range(task: RangeTask): number {
  if (task.index === 0 && seededWith(task, FAULT_SEEDS.throw)) throw new Error('injected worker fault');
  // In a worker thread process.exit ends the thread only: the pool sees a dead worker and replaces it.
  if (task.index === 0 && seededWith(task, FAULT_SEEDS.exit)) process.exit(1);
  return serviceRange(task);
}

export default range;
