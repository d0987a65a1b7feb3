/**
 * The TypeBox schemas of the dropout settings' fields: what validates them, what the OpenAPI document says about
 * them, and (Static) the type of the settings as a request carries them. They live here, under the settings'
 * resolution (./settings.ts), because that takes their type; ../schemas/ builds each route's schemas from them.
 */
import { type Static, Type } from 'typebox';
import { DEFAULT_MODE, DEFAULT_RNG, MODES, RNGS } from './choices.js';
import { DEFAULT_VARIANT, VARIANT_NAMES, VARIANTS } from './variants.js';

/**
 * "a: line. b / c: line. …": each variant with its line, variants that share a line named together (as the feature
 * variants do, whose line is their pair's).
 */
function describeVariants(): string {
  const groups: { names: string[]; description: string }[] = [];
  for (const name of VARIANT_NAMES) {
    const { description } = VARIANTS[name];
    const last = groups.at(-1);
    if (last?.description === description) last.names.push(name);
    else groups.push({ names: [name], description });
  }
  return groups.map(({ names, description }) => `${names.join(' / ')}: ${description}.`).join(' ');
}

export const PSchema = Type.Number({
  minimum: 0,
  maximum: 1,
  default: 0.5,
  description: 'Probability of dropping each element (torch.nn.Dropout p).',
  examples: [0.5],
});
export const ModeSchema = Type.Enum([...MODES], {
  default: DEFAULT_MODE,
  description: '"train" applies dropout; "eval" returns the input bit for bit and draws nothing.',
});
export const VariantSchema = Type.Enum([...VARIANT_NAMES], {
  default: DEFAULT_VARIANT,
  description: describeVariants(),
});
export const RngSchema = Type.Enum([...RNGS], {
  default: DEFAULT_RNG,
  description:
    "philox: Philox4x32-10 keyed by the seed, counter = draw index (parallel, shardable). torch: PyTorch's CPU generator (MT19937), bit-identical to torch.manual_seed(seed) then F.dropout; serial; offset = noise elements already drawn.",
});
export const SEED_DESCRIPTION =
  'Integer in [0, 2^64): a JSON number up to 2^53 − 1 or a decimal string; negatives down to −2^63 wrap modulo 2^64 as torch.manual_seed does. Omitted in train mode: drawn from a CSPRNG and reported in the reply.';
export const OFFSET_DESCRIPTION =
  'Draw index of the first element. A shard x[a:b] sent with offset = a gets exactly that slice of the whole-tensor result.';
export const SeedSchema = Type.Union([Type.Integer(), Type.String()], {
  description: SEED_DESCRIPTION,
  examples: [42, '18446744073709551615'],
});
export const OffsetSchema = Type.Union([Type.Integer({ minimum: 0 }), Type.String()], {
  default: 0,
  description: OFFSET_DESCRIPTION,
  examples: [0],
});

/**
 * Every settings field, each in any form some body format carries it: noise_shape is an array in a JSON body, a
 * comma-separated string in a query, either in /v2 parameters; seed and offset numbers or decimal strings.
 */
export const SettingsFields = Type.Object({
  p: Type.Optional(PSchema),
  mode: Type.Optional(ModeSchema),
  seed: Type.Optional(SeedSchema),
  offset: Type.Optional(OffsetSchema),
  variant: Type.Optional(VariantSchema),
  rng: Type.Optional(RngSchema),
  noise_shape: Type.Optional(Type.Union([Type.Array(Type.Integer({ minimum: 1 })), Type.String()])),
});

/** The settings of one request as it carried them, before resolveSettings checks and completes them. */
export type RawSettings = Static<typeof SettingsFields>;
