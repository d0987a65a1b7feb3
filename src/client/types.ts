/**
 * The client's vocabulary: tensors, options and results of POST /v1/dropout (docs/semantics.md §2).
 *
 * The names the service accepts (dtypes, modes, variants, rngs, problem codes) are the server's own declarations,
 * taken with type-only imports: they vanish from the compiled client, which so bundles nothing of the server at run
 * time (a test checks), and they cannot fall out of step with the server. The modules they come from import no
 * dependency, even for types, so the client's declaration files need nothing but this package's dist/.
 */
import type { Mode, Rng } from '../dropout/choices.js';
import type { Variant } from '../dropout/variants.js';
import type { ProblemCode } from '../errors.js';
import type { Dtype } from '../kernel/dtype.js';

export type { Dtype, Mode, ProblemCode, Rng, Variant };
/** An integer in [−2^63, 2^64): a number up to 2^53 − 1, a bigint, or a decimal string. */
export type Seed = number | bigint | string;

/** A tensor value: a number (NaN and ±Infinity are sent as the strings the API uses) or one of those strings. */
export type TensorValue = number | 'NaN' | 'Infinity' | '-Infinity';
/** A rectangular nested array (shape inferred), or a flat row-major one (with `shape` unless 1-D). */
export type NestedInput = readonly (TensorValue | NestedInput)[];
/** Values as the reply nests them. */
export type Nested<V> = (V | Nested<V>)[];
/** Raw tensor memory, sent as application/octet-stream: float32, float64, or the bits of float16/bfloat16. */
export type TypedTensor = Float32Array | Float64Array | Uint16Array;

/** The typed array that holds a dtype's values (16-bit types as their bit patterns). */
export type DataOf<D extends Dtype> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'float16' | 'bfloat16'
      ? Uint16Array
      : never;
/** The input's nesting with every value replaced by V (a flat input gives a flat array). */
export type Leaves<T, V> = NestedInput extends T ? Nested<V> : T extends readonly (infer E)[] ? Leaves<E, V>[] : V;

/** Settings of one call; each maps to the API field in brackets and defaults as the API does. */
export interface DropoutSettings {
  /** Drop probability in [0, 1] (`p`, default 0.5). */
  p?: number;
  /** `eval` returns the input bit for bit (`mode`, default `train`). */
  mode?: Mode;
  /** Omitted in train mode: drawn by the service and returned (`seed`). */
  seed?: Seed;
  /** Draw index of the first element, for shards (`offset`, default 0). */
  offset?: number | bigint | string;
  /** `variant`, default `standard`. */
  variant?: Variant;
  /** Shape of the dropout noise, broadcast over the input (`noise_shape`). */
  noiseShape?: readonly number[];
  /** `rng`, default `philox`. */
  rng?: Rng;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/** Options for a nested or flat array, sent as JSON. */
export interface ArrayInputOptions<D extends Dtype = Dtype> extends DropoutSettings {
  /** Dims of a flat input (`[]`: 0-d); inferred from a nested one. */
  shape?: readonly number[];
  /** Default float32. */
  dtype?: D;
}

/** Options for a typed array, sent as raw little-endian bytes with the settings in the query. */
export interface TypedInputOptions extends DropoutSettings {
  /** Default: 1-D. */
  shape?: readonly number[];
}

/** A typed array's dtype option: implied by Float32Array/Float64Array, required for Uint16Array. */
export type TypedDtypeOption<A extends TypedTensor> = A extends Float32Array
  ? { dtype?: 'float32' }
  : A extends Float64Array
    ? { dtype?: 'float64' }
    : { dtype: 'float16' | 'bfloat16' };

/** A JSON reply (the default for array input); `returnMask: true` adds `mask`. */
export interface JsonReplyOptions<M extends boolean = boolean> {
  format?: 'json';
  returnMask?: M;
}

/** A binary reply (the default for typed-array input); the mask needs a JSON reply. */
export interface BinaryReplyOptions {
  format?: 'binary';
  returnMask?: false;
}

export interface DropoutJsonResultBase<O, K> {
  /** Same nesting as the input (a typed array's JSON form nests by shape). */
  output: O;
  shape: number[];
  dtype: Dtype;
  p: number;
  mode: Mode;
  variant: Variant;
  rng: Rng;
  /** The seed used, as a decimal string (exact for all 64 bits); null in eval mode. */
  seed: string | null;
  offset: number;
  /** How many elements were kept. */
  kept: number;
  /** With `returnMask`: true where kept, same nesting as `output`. */
  mask?: K;
}

/** A JSON result; `mask` is present exactly when `returnMask: true` was passed. */
export type DropoutJsonResult<O = Nested<number>, K = Nested<boolean>, M extends boolean = boolean> = [M] extends [true]
  ? DropoutJsonResultBase<O, K> & { mask: K }
  : [M] extends [false]
    ? DropoutJsonResultBase<O, K> & { mask?: undefined }
    : DropoutJsonResultBase<O, K>;

/** A binary result: the output values in the typed array of their dtype, and the settings the headers report. */
export type DropoutBinaryResult<D extends Dtype = Dtype> = D extends Dtype
  ? {
      data: DataOf<D>;
      shape: number[];
      dtype: D;
      /** Decimal string; null in eval mode. */
      seed: string | null;
      kept: number;
      offset: number;
    }
  : never;

export interface ClientOptions {
  /** Where the service answers, e.g. `http://127.0.0.1:3000` (a path prefix is kept). */
  baseUrl: string | URL;
  /** Sent as `Authorization: Bearer <apiKey>` when the service has API_KEYS set. */
  apiKey?: string;
  /** A fetch implementation; default the global fetch (Node ≥ 18, browsers). */
  fetch?: typeof globalThis.fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface DropoutClient {
  /** A nested or flat array, JSON reply (the default). */
  dropout<T extends NestedInput, M extends boolean = false>(
    tensor: T,
    options?: ArrayInputOptions & JsonReplyOptions<M>,
  ): Promise<DropoutJsonResult<Leaves<T, number>, Leaves<T, boolean>, M>>;
  /** A nested or flat array, binary reply. */
  dropout<D extends Dtype = 'float32'>(
    tensor: NestedInput,
    options: ArrayInputOptions<D> & BinaryReplyOptions & { format: 'binary' },
  ): Promise<DropoutBinaryResult<D>>;
  /** A Float32Array, binary reply (the default). */
  dropout(
    tensor: Float32Array,
    options?: TypedInputOptions & { dtype?: 'float32' } & BinaryReplyOptions,
  ): Promise<DropoutBinaryResult<'float32'>>;
  /** A Float64Array, binary reply (the default). */
  dropout(
    tensor: Float64Array,
    options?: TypedInputOptions & { dtype?: 'float64' } & BinaryReplyOptions,
  ): Promise<DropoutBinaryResult<'float64'>>;
  /** float16 or bfloat16 bit patterns, binary reply (the default): the dtype must be named. */
  dropout<D extends 'float16' | 'bfloat16'>(
    tensor: Uint16Array,
    options: TypedInputOptions & { dtype: D } & BinaryReplyOptions,
  ): Promise<DropoutBinaryResult<D>>;
  /** A typed array, JSON reply (nested by shape; a 0-d tensor gives a bare number). No mask for binary input. */
  dropout<A extends TypedTensor>(
    tensor: A,
    options: TypedInputOptions & TypedDtypeOption<A> & { format: 'json'; returnMask?: false },
  ): Promise<DropoutJsonResult<number | Nested<number>, never, false>>;
}
