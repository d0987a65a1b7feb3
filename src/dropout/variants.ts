/**
 * The dropout variants of docs/semantics.md §1, declared once, with what differs from one to the next. Settings
 * resolution (./settings.ts), the schemas and so the OpenAPI document (./settings-schema.ts), the kernel choice
 * (../service/apply-dropout.ts), the client's types and the fuzz arbitraries all read this table: a new variant is
 * an entry here, plus its kernel in ../kernel/variants.ts when it computes something no kernel does yet.
 * Type-only imports, so that the client can take its types from here without bundling anything of the server.
 */
import type { KernelVariant } from '../kernel/variants.js';

/**
 * How a variant's draws map onto the input. `element`: one draw per element, or per element of an explicit
 * noise_shape broadcast over the input (TensorFlow/Keras semantics). `channel`: one draw per (N, C) channel of an
 * input of rank ≥ 2, i.e. noise shape [N, C, 1, …]; the variant sets the noise shape, so noise_shape is refused.
 */
export type NoiseRule = 'element' | 'channel';

export interface VariantSpec {
  /** The kernel that computes it (gaussian ones reject p = 1 and the torch stream, which draws keep decisions). */
  readonly kernel: KernelVariant;
  readonly noise: NoiseRule;
  /** One line for the schema docs; variants with the same line, next to each other, are documented together. */
  readonly description: string;
}

const FEATURE = 'whole channels of an (N, C, ...) tensor dropped together (Dropout1d/2d/3d, FeatureAlphaDropout)';

/** In the order the documentation lists them. */
export const VARIANTS = {
  standard: { kernel: 'standard', noise: 'element', description: 'torch.nn.Dropout' },
  alpha: { kernel: 'alpha', noise: 'element', description: 'torch.nn.AlphaDropout (SELU-preserving)' },
  feature: { kernel: 'standard', noise: 'channel', description: FEATURE },
  feature_alpha: { kernel: 'alpha', noise: 'channel', description: FEATURE },
  gaussian: {
    kernel: 'gaussian',
    noise: 'element',
    description: 'Keras GaussianDropout, x·(1 + σz) with σ = sqrt(p/(1−p))',
  },
} as const satisfies Record<string, VariantSpec>;

export type Variant = keyof typeof VARIANTS;

export const VARIANT_NAMES = Object.keys(VARIANTS) as Variant[];

export const DEFAULT_VARIANT: Variant = 'standard';
