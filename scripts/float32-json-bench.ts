/**
 * float32 JSON replies written value by value and by the WebAssembly formatter, side by side in one process: the
 * reply of a 64K-element tensor with dropout's zeros (p = 0.5: half of the values 0) and of one with no zeros, flat
 * and nested. "before" writes every value through JsonWriter.float32 (defined below); "after" is writeDropoutReply,
 * which formats rows of float32 values in WebAssembly. Both must give the same bytes. Rounds alternate and the
 * medians are reported, since the machine is shared.
 *
 *   npx tsx scripts/float32-json-bench.ts [--rounds N]
 */
import { parseArgs } from 'node:util';
import { echoMembers, type ReplyEcho, type ReplyTensor, writeDropoutReply } from '../src/codec/json/reply.js';
import { JsonWriter } from '../src/codec/json/writer.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '21' } } });
const ROUNDS = Number(values.rounds);
const N = 65536;

/** writeDropoutReply with every value through JsonWriter.float32, one by one: the baseline of the comparison. */
function writeDropoutReplyBefore(tensor: ReplyTensor, echo: ReplyEcho, mask?: Uint8Array): Uint8Array {
  const { data, shape, nested } = tensor;
  const w = new JsonWriter(data.length * (tensor.dtype === 'float64' ? 20 : 12) + 256);
  const writeArray = (n: number, item: (i: number) => void): void => {
    if (!nested || shape.length <= 1) {
      w.byte(91);
      for (let i = 0; i < n; i++) {
        if (i > 0) w.byte(44);
        item(i);
      }
      w.byte(93);
      return;
    }
    let next = 0;
    const emit = (depth: number): void => {
      w.byte(91);
      const last = depth === shape.length - 1;
      for (let i = 0; i < shape[depth]; i++) {
        if (i > 0) w.byte(44);
        if (last) item(next++);
        else emit(depth + 1);
      }
      w.byte(93);
    };
    emit(0);
  };
  w.ascii('{"output":');
  const write = w.writerFor(tensor.dtype);
  writeArray(data.length, (i) => write(data[i]));
  w.ascii(echoMembers(shape, tensor.dtype, echo));
  if (mask) {
    w.ascii(',"mask":');
    writeArray(mask.length, (i) => w.bool(mask[i] === 1));
  }
  w.byte(125);
  return w.bytes();
}

let state = 0x2545f491;
const next = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
};
/** Roughly normal inputs (sum of four uniforms), scaled by 1 / (1 − p) = 2 where kept, as dropout leaves them. */
function tensorData(zeros: boolean): Float32Array {
  const data = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const x = (next() + next() + next() + next()) / 2 ** 32 - 2;
    data[i] = zeros && next() % 2 === 0 ? 0 : 2 * x;
  }
  return data;
}

const echo: ReplyEcho = { p: 0.5, mode: 'train', variant: 'standard', rng: 'philox', seed: '42', offset: 0, kept: 0 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

console.log(`node ${process.version}, ${N} float32 values, ${ROUNDS} alternating rounds, medians`);
for (const zeros of [true, false]) {
  const data = tensorData(zeros);
  for (const shape of [[N], [256, 256]]) {
    const tensor: ReplyTensor = { data, shape, dtype: 'float32', nested: shape.length > 1 };
    const before = Buffer.from(writeDropoutReplyBefore(tensor, echo));
    const after = Buffer.from(writeDropoutReply(tensor, echo));
    if (!before.equals(after)) throw new Error('the replies differ');
    const times: Record<'before' | 'after', number[]> = { before: [], after: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, write] of [
        ['before', writeDropoutReplyBefore],
        ['after', writeDropoutReply],
      ] as const) {
        const t0 = performance.now();
        write(tensor, echo);
        times[name].push(performance.now() - t0);
      }
    }
    const b = median(times.before);
    const a = median(times.after);
    const what = `${zeros ? 'half zeros' : 'no zeros  '} shape ${JSON.stringify(shape).padEnd(10)}`;
    console.log(
      `${what} before ${b.toFixed(2)} ms  after ${a.toFixed(2)} ms  ×${(b / a).toFixed(1)}  (${before.length} bytes)`,
    );
  }
}
