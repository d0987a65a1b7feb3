/** .npy through POST /v1/dropout: NumPy's own files in, files np.load reads back out. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { decodeNpy } from '../../../src/codec/npy.js';
import { startApp } from '../../helpers.js';

const DIR = new URL('../../codec/fixtures/npy/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as {
  positive: Record<string, { dtype: string; shape: number[]; bits: string[] }>;
  negative: Record<string, string>;
  roundtrip: Record<string, { dtype: string; shape: number[] }>;
};
const limits = { maxElements: 1e6, maxRank: 32, inlineMaxElements: 0 };

function post(app: Awaited<ReturnType<typeof startApp>>, body: Buffer, query: string, accept?: string) {
  return app.inject({
    method: 'POST',
    url: `/v1/dropout?${query}`,
    headers: { 'content-type': 'application/x-npy', ...(accept ? { accept } : {}) },
    payload: body,
  });
}

t.test(
  'every NumPy-written fixture round-trips in eval mode to the same values, as a C-order little-endian .npy',
  async (t) => {
    const app = await startApp(t);
    for (const [name, info] of Object.entries(expected.positive)) {
      const res = await post(app, readFileSync(new URL(name, DIR)), 'mode=eval');
      t.equal(res.statusCode, 200, name);
      t.equal(res.headers['content-type'], 'application/x-npy');
      const back = decodeNpy(new Uint8Array(res.rawPayload), limits);
      t.same(back.shape, info.shape, `${name}: shape`);
      t.equal(back.dtype, info.dtype, `${name}: dtype`);
      const width = info.dtype === 'float16' ? 4 : info.dtype === 'float32' ? 8 : 16;
      const bits = Array.from(new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength))
        .reduce<string[]>((words, byte, i) => {
          const w = Math.floor(i / (width / 2));
          words[w] = byte.toString(16).padStart(2, '0') + (words[w] ?? '');
          return words;
        }, [])
        .slice(0, info.bits.length);
      t.same(bits, info.bits, `${name}: values bit for bit`);
    }
  },
);

t.test('train mode on .npy equals the same tensor sent raw, and the reply is what np.save writes', async (t) => {
  const app = await startApp(t);
  for (const [name, info] of Object.entries(expected.roundtrip)) {
    const file = readFileSync(new URL(name, DIR));
    const eval_ = await post(app, file, 'mode=eval');
    t.ok(eval_.rawPayload.equals(file), `${name}: the eval reply is byte-identical to NumPy's file`);
    const tensor = decodeNpy(new Uint8Array(file), limits);
    const raw = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    const viaNpy = await post(app, file, 'p=0.5&seed=3');
    const viaRaw = await app.inject({
      method: 'POST',
      url: `/v1/dropout?p=0.5&seed=3&dtype=${info.dtype}&shape=${info.shape.join(',')}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: raw,
    });
    const out = decodeNpy(new Uint8Array(viaNpy.rawPayload), limits);
    t.ok(
      Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength).equals(viaRaw.rawPayload),
      `${name}: train`,
    );
  }
});

t.test('bad .npy files get clear 4xx problems; bfloat16 cannot be written as .npy', async (t) => {
  const app = await startApp(t, { MAX_ELEMENTS: '1000000' });
  for (const [name, code] of Object.entries(expected.negative)) {
    const res = await post(app, readFileSync(new URL(name, DIR)), 'p=0.5');
    t.equal(res.json().code, code, `${name}: ${res.json().detail}`);
    t.ok(res.statusCode >= 400 && res.statusCode < 500);
  }
  const bf16 = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json', accept: 'application/x-npy' },
    payload: { input: [1, 2], dtype: 'bfloat16' },
  });
  t.equal(bf16.statusCode, 415);
  t.match(bf16.json(), { code: 'UNSUPPORTED_DTYPE', detail: /bfloat16 has no NumPy dtype/ });
  const conflict = await post(app, readFileSync(new URL('roundtrip_f4_2x3.npy', DIR)), 'shape=6');
  t.equal(conflict.statusCode, 400);
  const json = await app.inject({
    method: 'POST',
    url: '/v1/dropout',
    headers: { 'content-type': 'application/json', accept: 'application/x-npy' },
    payload: { input: [[1, 2, 3]], mode: 'eval' },
  });
  t.same(decodeNpy(new Uint8Array(json.rawPayload), limits).shape, [1, 3], 'JSON in, .npy out');
});
