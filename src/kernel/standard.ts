/**
 * The standard-dropout kernel this runtime should use: the WebAssembly SIMD one where the engine supports SIMD
 * (every Node.js the service runs on), else the plain JS one. Both give the same bytes.
 */
import { dropoutRange } from './dropout.js';
import { dropoutRangeWasm, wasmSimdSupported } from './wasm-dropout.js';

export const standardDropout: typeof dropoutRange = wasmSimdSupported() ? dropoutRangeWasm : dropoutRange;
