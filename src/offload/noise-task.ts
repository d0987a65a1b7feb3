/** Drawing the noise of a call ahead of applying it: serial for the torch stream, once per noise element. */
import { torchKeepMaskFast } from '../kernel/mt19937.js';
import { philoxNoise } from '../kernel/variants.js';
import type { NoiseTask } from './range-task.js';

export function drawNoise(task: NoiseTask): void {
  const { plan, count, out } = task;
  if (task.rng === 'torch') torchKeepMaskFast(task.seed, plan.offset, count, plan.p, out as Uint8Array);
  else philoxNoise(plan, count, out);
}
