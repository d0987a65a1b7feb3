/** Schemas shared by several routes: the problem document and the tensor settings. */
import { Type } from 'typebox';
import { MODES, RNGS, VARIANTS } from '../dropout/settings.js';
import { PROBLEMS } from '../errors.js';
import { DTYPES } from '../kernel/dtype.js';

export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      description: 'URI naming the problem type',
      examples: ['urn:dropout-service:problem:p-out-of-range'],
    }),
    title: Type.String({ description: 'Short summary of the problem type' }),
    status: Type.Integer({ description: 'HTTP status code' }),
    detail: Type.String({ description: 'What was wrong with this request and what to change' }),
    code: Type.Enum(Object.keys(PROBLEMS), { description: 'Stable machine-readable error code' }),
    requestId: Type.Optional(Type.String({ description: 'Request id, on 5xx answers, for the logs' })),
  },
  { $id: 'Problem', title: 'Problem (RFC 9457)' },
);

export const DtypeSchema = Type.Enum([...DTYPES], {
  default: 'float32',
  description:
    'Element type of the tensor. float16/bfloat16 compute in float32 and round to 16 bits after each operation.',
});
export const PSchema = Type.Number({
  minimum: 0,
  maximum: 1,
  default: 0.5,
  description: 'Probability of dropping each element (torch.nn.Dropout p).',
  examples: [0.5],
});
export const ModeSchema = Type.Enum([...MODES], {
  default: 'train',
  description: '"train" applies dropout; "eval" returns the input bit for bit and draws nothing.',
});
export const VariantSchema = Type.Enum([...VARIANTS], {
  default: 'standard',
  description:
    'standard: torch.nn.Dropout. alpha: torch.nn.AlphaDropout (SELU-preserving). feature / feature_alpha: whole channels of an (N, C, ...) tensor dropped together (Dropout1d/2d/3d, FeatureAlphaDropout). gaussian: Keras GaussianDropout, x·(1 + σz) with σ = sqrt(p/(1−p)).',
});
export const RngSchema = Type.Enum([...RNGS], {
  default: 'philox',
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
