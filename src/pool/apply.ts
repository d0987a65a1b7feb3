/** One dropout call of API.md §1 on a decoded tensor: identity when nothing is drawn, else the kernel via the pool. */
import type { Tensor } from '../codec/json-tensor.js';
import type { Settings } from '../codec/settings.js';
import { philoxKey } from '../kernel/philox.js';
import type { DropoutPool, DropoutResult } from './dropout-pool.js';

export async function applyDropout(
  pool: DropoutPool,
  tensor: Tensor,
  settings: Settings,
  wantMask: boolean,
): Promise<DropoutResult> {
  const n = tensor.data.length;
  if (settings.mode === 'eval' || settings.seed === null || n === 0) {
    return { kept: n, mask: wantMask ? new Uint8Array(n).fill(1) : undefined };
  }
  const [key0, key1] = philoxKey(settings.seed);
  return pool.run(tensor.data, { dtype: tensor.dtype, p: settings.p, key0, key1, offset: settings.offset }, wantMask);
}
