/**
 * Runs of float32 values as JSON text through the WebAssembly formatter of ./wasm/float32-json.as.ts: the same
 * bytes as JsonWriter.float32 value by value, several times faster. Each thread (main or worker) gets its own
 * instance on first use; where WebAssembly is unavailable, float32Json() returns undefined and JsonWriter keeps
 * writing value by value.
 */
import { wasmModule } from '../../kernel/wasm-module.js';

interface Float32JsonExports {
  memory: { buffer: ArrayBuffer };
  inputPtr(): number;
  outputPtr(): number;
  capacity(): number;
  format(n: number): number;
}

export interface Float32Json {
  /** Values per format() call. */
  readonly capacity: number;
  /** Where format() reads its values. */
  readonly input: Float32Array;
  /** Where format() writes its text. */
  readonly output: Uint8Array;
  /** Writes input[0 … n) (n ≤ capacity) comma-separated to output; returns the number of bytes. */
  format(n: number): number;
}

// Resolved against this file so the same code finds the module under tsx (src/) and after `npm run build` (dist/).
const module = wasmModule<Float32JsonExports>(new URL('./wasm/float32-json.wasm', import.meta.url));
let instance: Float32Json | null | undefined;

/** This thread's formatter, or undefined where the module cannot run. */
export function float32Json(): Float32Json | undefined {
  if (instance === undefined) {
    instance = null;
    if (module.supported()) {
      const exports = module.exports();
      // The module never grows its memory, so these views stay valid for the instance's life.
      const { buffer } = exports.memory;
      const capacity = exports.capacity();
      instance = {
        capacity,
        input: new Float32Array(buffer, exports.inputPtr(), capacity),
        // 24 bytes a value hold the longest text and its comma (see the .as.ts).
        output: new Uint8Array(buffer, exports.outputPtr(), capacity * 24),
        format: (n) => exports.format(n),
      };
    }
  }
  return instance ?? undefined;
}
