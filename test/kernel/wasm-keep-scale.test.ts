import t from 'tap';
import { applyKeepScaleWasm, wasmKeepScaleSupported } from '../../src/kernel/wasm-keep-scale.js';
import { checkCommittedWasm } from '../wasm-drift.js';

const bytes = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

t.test('the module validates on this runtime', async (t) => {
  t.equal(wasmKeepScaleSupported(), true);
});

/** Values whose x·s or x·0 is easy to get wrong: NaN (with payloads and sign), ±Inf, ±0, subnormals, overflow. */
function input(wide: boolean, n: number): Float32Array | Float64Array {
  const nan = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
  const specials = [Number.NaN, -Number.NaN, nan(0x7fc01234), nan(0xffc00001), Infinity, -Infinity, -0, 0, 1, -1];
  specials.push(...(wide ? [5e-324, -2.2e-310, 1.7976931348623157e308, -1.7e308] : [1e-45, -1e-40, 3.4028235e38]));
  const x = wide ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = i % 3 === 0 ? specials[(i / 3) % specials.length] : Math.sin(i) * 10 ** (i % 9);
  return x;
}

function applyJs(
  data: Float32Array | Float64Array,
  start: number,
  end: number,
  keep: Uint8Array,
  keepOffset: number,
  scale: number,
  mask?: Uint8Array,
): number {
  let kept = 0;
  for (let i = start; i < end; i++) {
    const k = keep[i - start + keepOffset] ? 1 : 0;
    data[i] = data[i] * (k ? scale : 0);
    kept += k;
    if (mask) mask[i] = k;
  }
  return kept;
}

t.test('applyKeepScaleWasm is the JS loop bit for bit: dtypes, sizes, ranges, keep offsets, masks', async (t) => {
  const failures: string[] = [];
  for (const wide of [false, true]) {
    for (const scale of [2, Math.fround(1 / 0.9), Math.fround(1 / Math.fround(1 - 1e-9)), 1 / 0.7, -0.5, Infinity]) {
      for (const size of [0, 1, 15, 16, 17, 33, 100, 8191, 8192, 8193, 16_385, 70_003]) {
        const x = input(wide, size + 9);
        const keep = new Uint8Array(size + 20);
        for (let i = 0; i < keep.length; i++) keep[i] = (i * 7919) % 5 === 0 ? 0 : i % 11 === 0 ? 7 : 1;
        const start = size % 5;
        const keepOffset = size % 3;
        const a = x.slice();
        const b = x.slice();
        const ma = size % 2 ? new Uint8Array(x.length).fill(9) : undefined;
        const mb = size % 2 ? new Uint8Array(x.length).fill(9) : undefined;
        const ka = applyJs(a, start, start + size, keep, keepOffset, scale, ma);
        const kb = applyKeepScaleWasm(b, start, start + size, keep, keepOffset, scale, mb);
        const what = `${wide ? 'f64' : 'f32'} scale=${scale} size=${size}`;
        if (ka !== kb) failures.push(`${what}: kept ${kb}, expected ${ka}`);
        if (!Buffer.from(a.buffer).equals(Buffer.from(b.buffer))) failures.push(`${what}: data differs`);
        if (ma && mb && !bytes(ma).equals(bytes(mb))) failures.push(`${what}: mask differs`);
      }
    }
  }
  t.same(failures.slice(0, 5), [], 'no differences');
  // A keep array shorter than the range reads as dropped past its end, as undefined does in JS.
  const a = input(false, 40);
  const b = a.slice();
  const keep = new Uint8Array(20).fill(1);
  t.equal(applyKeepScaleWasm(b, 0, 40, keep, 2, 2), applyJs(a, 0, 40, keep, 2, 2));
  t.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)));
});

t.test('the committed keep-scale.wasm is what `npm run build:wasm` compiles (run it after editing the .as.ts)', (t) =>
  checkCommittedWasm(t, 'src/kernel/wasm/keep-scale.as.ts', 'src/kernel/wasm/keep-scale.wasm'),
);
