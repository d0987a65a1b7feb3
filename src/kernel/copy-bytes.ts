/**
 * A plain memcpy between byte views where either side may be a SharedArrayBuffer. V8 copies into or out of shared
 * memory with relaxed atomic word stores (TypedArray#set, and Buffer#copy, which uses it on Node 20): on 4 MiB
 * request bodies that was a fifth of the event loop's time, and 1M-element binary requests ran ~20 % faster with a
 * native memcpy. Buffer#fill with a buffer exactly as long as the range is one memcpy in native code, on every Node
 * version. Callers own both ranges for the duration (no other thread touches them), so a plain copy is safe.
 */
export function copyBytes(target: Buffer, targetOffset: number, source: Uint8Array): void {
  // fill() refuses an empty value; an empty copy is a no-op anyway.
  if (source.length > 0) target.fill(source, targetOffset, targetOffset + source.length);
}
