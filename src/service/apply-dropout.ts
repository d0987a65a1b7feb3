/**
 * One dropout call of docs/semantics.md §1 on a decoded tensor: identity when nothing is drawn; the fused SIMD kernel
 * for the common case (standard, one Philox draw per element, float32/float64); otherwise the general variant kernel,
 * with the noise drawn first when it is serial (torch stream) or shared by many elements (broadcast noise_shape).
 */

import type { Settings } from '../dropout/settings.js';
import type { Tensor } from '../dropout/tensor.js';
import { VARIANTS } from '../dropout/variants.js';
import { isFloatDtype } from '../kernel/dtype.js';
import { philoxKey } from '../kernel/philox.js';
import type { VariantPlan } from '../kernel/variants.js';
import { type MaybePromise, then } from '../maybe-promise.js';
import type { KernelResult, OffloadPool } from '../offload/pool.js';

export function applyDropout(
  pool: OffloadPool,
  tensor: Tensor,
  settings: Settings,
  wantMask: boolean,
  signal?: AbortSignal,
): MaybePromise<KernelResult> {
  const n = tensor.data.length;
  if (settings.mode === 'eval' || settings.seed === null || n === 0 || settings.p === 0) {
    return { kept: n, mask: wantMask ? new Uint8Array(n).fill(1) : undefined };
  }
  const [key0, key1] = philoxKey(settings.seed);
  const variant = VARIANTS[settings.variant].kernel;
  const { data, dtype } = tensor;
  if (variant === 'standard' && settings.rng === 'philox' && settings.noiseShape === null && isFloatDtype(dtype)) {
    return pool.run(
      data as Float32Array | Float64Array,
      { dtype, p: settings.p, key0, key1, offset: settings.offset },
      wantMask,
      signal,
    );
  }
  const plan: VariantPlan = {
    dtype,
    variant,
    p: settings.p,
    shape: tensor.shape,
    noiseShape: settings.noiseShape,
    key0,
    key1,
    offset: settings.offset,
  };
  if (settings.p < 1 && (settings.rng === 'torch' || settings.noiseShape !== null)) {
    const count = settings.noiseShape === null ? n : settings.noiseShape.reduce((a, b) => a * b, 1);
    const drawn = pool.drawNoise(plan, settings.rng, settings.seed, count, signal);
    return then(drawn, () => pool.runVariant(data, plan, wantMask, signal));
  }
  return pool.runVariant(data, plan, wantMask, signal);
}
