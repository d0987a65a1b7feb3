/**
 * A committed WebAssembly module, loaded synchronously and once per thread (main or worker): synchronous so the
 * WASM kernels stay drop-ins for the synchronous JS ones; the modules are a few KB.
 */
import { readFileSync } from 'node:fs';

// The project's lib (ES2022) and @types/node 20 do not declare the WebAssembly global; this is the part used here.
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export interface WasmModule<Exports> {
  /** Whether this runtime can run the module (it uses SIMD); when false, callers use the JS kernel. */
  supported(): boolean;
  /** This thread's instance, created on first use. */
  exports(): Exports;
}

/** `url` is resolved by the caller against its own file, so the module is found under tsx (src/) and in dist/. */
export function wasmModule<Exports>(url: URL): WasmModule<Exports> {
  let bytes: Uint8Array | undefined;
  let supported: boolean | undefined;
  let exports: Exports | undefined;
  const moduleBytes = (): Uint8Array => {
    bytes ??= readFileSync(url);
    return bytes;
  };
  return {
    supported() {
      if (supported === undefined) {
        try {
          supported = typeof wasm?.validate === 'function' && wasm.validate(moduleBytes());
        } catch {
          supported = false;
        }
      }
      return supported;
    },
    exports() {
      if (!wasm) throw new Error('WebAssembly is not available in this runtime');
      exports ??= new wasm.Instance(new wasm.Module(moduleBytes()), {}).exports as Exports;
      return exports;
    },
  };
}
