import t from 'tap';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../src/kernel/half.js';
import { philoxKey } from '../../src/kernel/philox.js';
import { applyVariantRange } from '../../src/kernel/variants.js';

type Codec = {
  name: string;
  decode: (b: number) => number;
  encode: (x: number) => number;
  isNaN: (b: number) => boolean;
};
const codecs: Codec[] = [
  {
    name: 'float16',
    decode: f16ToNumber,
    encode: numberToF16,
    isNaN: (b) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0,
  },
  {
    name: 'bfloat16',
    decode: bf16ToNumber,
    encode: numberToBf16,
    isNaN: (b) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0,
  },
];

for (const c of codecs) {
  t.test(`${c.name}: all 65,536 bit patterns decode and re-encode; every midpoint rounds to even`, (t) => {
    let bad = 0;
    const fail = (msg: string) => {
      if (bad++ < 5) t.fail(msg);
    };
    for (let b = 0; b < 0x10000; b++) {
      const v = c.decode(b);
      if (c.isNaN(b)) {
        if (!Number.isNaN(v)) fail(`${b.toString(16)} should decode to NaN`);
        if (!c.isNaN(c.encode(v))) fail(`NaN ${b.toString(16)} must stay NaN`);
        continue;
      }
      if (c.encode(v) !== b) fail(`${b.toString(16)} → ${v} → ${c.encode(v).toString(16)}`);
      // The next pattern up in magnitude (same sign); the midpoint is exact in float32 and must go to the even one.
      const next = b + 1;
      if (
        (b & 0x7fff) === (c.name === 'float16' ? 0x7bff : 0x7f7f) ||
        (b & 0x7fff) >= (c.name === 'float16' ? 0x7c00 : 0x7f80)
      )
        continue;
      const w = c.decode(next);
      const mid = (v + w) / 2;
      const even = (b & 1) === 0 ? b : next;
      if (c.encode(mid) !== even)
        fail(`midpoint of ${b.toString(16)} and ${next.toString(16)} gave ${c.encode(mid).toString(16)}`);
      const nudge = Math.abs(w - v) / 1024;
      const sign = b & 0x8000 ? -1 : 1;
      if (c.encode(mid - sign * nudge) !== b) fail(`just below the midpoint after ${b.toString(16)}`);
      if (c.encode(mid + sign * nudge) !== next) fail(`just above the midpoint after ${b.toString(16)}`);
    }
    t.equal(bad, 0);
    t.end();
  });
}

t.test('overflow, underflow and signs', (t) => {
  t.equal(numberToF16(65520), 0x7c00, 'float16: 65520 rounds to infinity');
  t.equal(numberToF16(65519), 0x7bff, 'float16: 65519 rounds to the largest finite');
  t.equal(numberToF16(-0), 0x8000);
  t.equal(numberToF16(2 ** -25), 0, 'half the smallest subnormal ties to zero (even)');
  t.equal(numberToF16(2 ** -25 * 1.0001), 1);
  t.equal(numberToBf16(3.4e38), 0x7f80, 'bfloat16: 3.4e38 is past the largest finite (3.39e38) and rounds to infinity');
  t.equal(numberToBf16(Number.NaN), 0x7fc0, 'bfloat16 NaN is PyTorch’s 0x7fc0');
  t.equal(numberToF16(Number.NEGATIVE_INFINITY), 0xfc00);
  t.end();
});

t.test('16-bit kernels equal float32 reference arithmetic rounded to 16 bits after each operation', (t) => {
  const [key0, key1] = philoxKey(99n);
  for (const c of codecs) {
    const R = (x: number) => c.decode(c.encode(Math.fround(x)));
    for (const p of [0.1, 0.5, 0.77]) {
      const n = 4096;
      const bits = new Uint16Array(n);
      for (let i = 0; i < n; i++) bits[i] = c.encode((((i * 2654435761) % 2 ** 32) / 2 ** 32 - 0.5) * 50);
      const source = bits.slice();
      const mask = new Uint8Array(n);
      const plan = { dtype: c.name as 'float16' | 'bfloat16', p, shape: [n], noiseShape: null, key0, key1, offset: 0 };
      applyVariantRange(bits, 0, n, { ...plan, variant: 'standard' }, mask);
      const s = R(1 / R(1 - p));
      let bad = 0;
      for (let i = 0; i < n; i++) {
        const expected = c.encode(R(c.decode(source[i]) * (mask[i] ? s : 0)));
        if (bits[i] !== expected) bad++;
      }
      t.equal(bad, 0, `${c.name} standard p=${p}`);
      const alpha = source.slice();
      applyVariantRange(alpha, 0, n, { ...plan, variant: 'alpha' }, mask);
      const A = 1.7580993408473766;
      const a = 1 / Math.sqrt((A * A * p + 1) * (1 - p));
      const [ra, c1, c2] = [R(a), R(A * a), R(A * a * p)];
      bad = 0;
      for (let i = 0; i < n; i++) {
        const x = c.decode(source[i]);
        const expected = c.encode(mask[i] ? R(R(x * ra) + c2) : R(R(x * 0) + R(c2 - c1)));
        if (alpha[i] !== expected) bad++;
      }
      t.equal(bad, 0, `${c.name} alpha p=${p}`);
    }
  }
  t.end();
});
