/** Open Inference Protocol (KServe V2) shapes, with Triton's binary tensor extension (docs/semantics.md §3). */
import { type Static, Type } from 'typebox';
import { SettingsFields } from '../dropout/settings-schema.js';

export const V2_DATATYPES = { FP32: 'float32', FP64: 'float64', FP16: 'float16', BF16: 'bfloat16' } as const;
export type V2Datatype = keyof typeof V2_DATATYPES;

const Parameters = Type.Record(
  Type.String(),
  Type.Union([Type.Boolean(), Type.Number(), Type.String(), Type.Array(Type.Integer())]),
  {
    description: 'Protocol parameters (booleans, numbers, strings).',
  },
);

export const InferInput = Type.Object({
  name: Type.String({ description: 'Must be "input".', examples: ['input'] }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { examples: [[2, 3]] }),
  datatype: Type.String({ description: 'FP32, FP64, FP16 or BF16.', examples: ['FP32'] }),
  parameters: Type.Optional(Parameters),
  data: Type.Optional(
    Type.Array(Type.Unknown(), {
      description: 'Row-major values (flat or nested); omitted when binary_data_size is set.',
    }),
  ),
});

export const InferRequestedOutput = Type.Object({
  name: Type.String({ description: '"output" or "mask".' }),
  parameters: Type.Optional(Parameters),
});

export const InferRequest = Type.Object(
  {
    id: Type.Optional(Type.String()),
    parameters: Type.Optional(Parameters),
    inputs: Type.Array(InferInput, { minItems: 1 }),
    outputs: Type.Optional(Type.Array(InferRequestedOutput)),
  },
  {
    title: 'InferenceRequest',
    description:
      'Request-level parameters carry p, mode, seed, offset, variant, noise_shape, rng and binary_data_output; p, seed and offset may also be decimal strings ("0.5", "42").',
    examples: [
      {
        id: '1',
        parameters: { p: 0.5, seed: 42 },
        inputs: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }],
      },
    ],
  },
);
export type InferRequest = Static<typeof InferRequest>;

/** The dropout settings as request-level parameters; validated once the header is parsed and a string p is read. */
export const InferParameters = Type.Object({
  ...SettingsFields.properties,
  binary_data_output: Type.Optional(Type.Boolean()),
});

export const V2Error = Type.Object({ error: Type.String() }, { title: 'V2Error' });

const TensorMetadata = Type.Object({
  name: Type.String(),
  datatype: Type.String(),
  shape: Type.Array(Type.Integer()),
});

export const ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMetadata),
  outputs: Type.Array(TensorMetadata),
});

export const ServerMetadata = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String()),
});
