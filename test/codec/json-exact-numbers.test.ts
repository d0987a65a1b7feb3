/**
 * JSON replies that every client reads exactly: the values of a reply's `output` (/v1) or output `data` (/v2),
 * read the way Python's json (and rapidjson, orjson) reads them and converted the way tritonclient converts them
 * (FP16 and BF16 data into float32), equal the binary reply's values bit for bit, signed zeros included. Checked
 * on every dtype, /v1 and /v2, nested and flat, written on the main thread and by a pool worker, and once by
 * python3 itself where the machine has it.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { createClient } from '../../src/client/index.js';
import { shortestFloat32BySearch } from '../../src/codec/json/float-format.js';
import { parseJsonNumbers } from '../../src/codec/json/numbers.js';
import { type ReplyEcho, writeDropoutReply } from '../../src/codec/json/reply.js';
import { JsonWriter } from '../../src/codec/json/writer.js';
import { encodeInferHeader, type InferReplyCall } from '../../src/codec/v2-infer.js';
import type { Dtype, TensorData } from '../../src/kernel/dtype.js';
import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '../../src/kernel/half.js';
import { encodeJsonReply } from '../../src/offload/json-tasks.js';
import { postBinary, postJson, startApp } from '../helpers.js';
import { xorshift } from '../reference.js';

const decoder = new TextDecoder();
const DTYPES: Dtype[] = ['float32', 'float64', 'float16', 'bfloat16'];
const DATATYPE: Record<Dtype, string> = { float32: 'FP32', float64: 'FP64', float16: 'FP16', bfloat16: 'BF16' };
const ROW = 64;
const ECHO: ReplyEcho = { p: 0.5, mode: 'train', variant: 'standard', rng: 'philox', seed: '1', offset: 0, kept: 0 };
const NON_FINITE: Record<string, number> = {
  '"NaN"': Number.NaN,
  '"Infinity"': Number.POSITIVE_INFINITY,
  '"-Infinity"': Number.NEGATIVE_INFINITY,
};

/**
 * 8,192 values of `dtype` (a multiple of ROW): both signs of zero, the extremes, non-finite values and random bit
 * patterns. For a 16-bit dtype, every eighth pattern, ±0 and ±Infinity among them, with random low bits in a third
 * of them; `all`: every one of the 65,536.
 */
function sample(dtype: Dtype, all = false): TensorData {
  const next = xorshift(dtype === 'float32' || dtype === 'float16' ? 0x2545f491 : 0x9e3779b9);
  if (all) return Uint16Array.from({ length: 65536 }, (_, i) => i);
  if (dtype === 'float16' || dtype === 'bfloat16')
    return Uint16Array.from({ length: 8192 }, (_, i) => i * 8 + (i % 3 === 1 ? next() & 7 : 0));
  const specials = [0, -0, 0.1, -0.1, 1 / 3, -2.5, 1e-45, -1e-45, 3.4028234663852886e38, 5e-324, -5e-324];
  specials.push(1.7976931348623157e308, 16777216, 1e21, -1e-7, Number.NaN, Number.POSITIVE_INFINITY, -Infinity);
  const n = 8192;
  if (dtype === 'float32') {
    const data = new Float32Array(n);
    const bits = new Uint32Array(data.buffer);
    for (let i = 0; i < n; i++) bits[i] = next();
    for (let i = 0; i < n; i += 3) data[i] = ((next() / 2 ** 32 - 0.5) * 8) / (1 + (next() % 1000));
    data.set(specials.map(Math.fround));
    return data;
  }
  const data = new Float64Array(n);
  const bits = new Uint32Array(data.buffer);
  for (let i = 0; i < bits.length; i++) bits[i] = next();
  for (let i = 0; i < n; i += 3) data[i] = ((next() / 2 ** 32 - 0.5) * 8) / (1 + (next() % 1000));
  data.set(specials);
  return data;
}

function bytesOf(data: TensorData): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function viewBytes(dtype: Dtype, bytes: Uint8Array): TensorData {
  const copy = new Uint8Array(bytes).buffer;
  if (dtype === 'float32') return new Float32Array(copy);
  if (dtype === 'float64') return new Float64Array(copy);
  return new Uint16Array(copy);
}

/** The element's value (a 16-bit one decoded, exactly). */
function elementOf(dtype: Dtype, data: TensorData, i: number): number {
  if (dtype === 'float16') return f16ToNumber(data[i]);
  if (dtype === 'bfloat16') return bf16ToNumber(data[i]);
  return data[i];
}

/** The tokens of the JSON array that starts at text[start] (a `[`), nested arrays flattened. */
function arrayTokens(text: string, start: number): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let i = start;
  do {
    const c = text[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      tokens.push(text.slice(i, end + 1));
      i = end;
    } else if (c !== ',' && c !== ' ') {
      let end = i;
      while (!',] '.includes(text[end])) end++;
      tokens.push(text.slice(i, end));
      i = end - 1;
    }
    i++;
  } while (depth > 0);
  return tokens;
}

/** The tokens of /v1's `output` or `mask` member. */
function v1Tokens(text: string, member: 'output' | 'mask'): string[] {
  return arrayTokens(text, text.indexOf(`"${member}":`) + member.length + 3);
}

/** The tokens of a /v2 output's `data`. */
function v2Tokens(text: string, name: 'output' | 'mask'): string[] {
  return arrayTokens(text, text.indexOf('"data":', text.indexOf(`"name":"${name}"`)) + 7);
}

/**
 * What Python's json gives for a number token: a float when the token has a fraction or an exponent, else an int,
 * which becomes a float (an unsigned 0 for "-0") when tritonclient or NumPy converts it.
 */
function pythonReads(token: string): number {
  if (token in NON_FINITE) return NON_FINITE[token];
  return /[.eE]/.test(token) ? Number(token) : Number(BigInt(token));
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

/**
 * The first few tokens read wrongly against `exact`: by a Python reader, in float32 for float32 and the 16-bit
 * dtypes (tritonclient's conversion) and float64 for float64; by a reader of the 16-bit dtype itself; or not in the
 * shortest form (the float32 one for the 16-bit dtypes), with negative zero as -0.0.
 */
function misread(tokens: string[], dtype: Dtype, exact: TensorData): string[] {
  const wrong: string[] = [];
  if (tokens.length !== exact.length) return [`${tokens.length} tokens for ${exact.length} values`];
  const toHalf = dtype === 'float16' ? numberToF16 : numberToBf16;
  for (let i = 0; i < tokens.length && wrong.length < 5; i++) {
    const token = tokens[i];
    const v = elementOf(dtype, exact, i);
    const read = pythonReads(token);
    const problem = (what: string) => wrong.push(`#${i} ${v === 0 && 1 / v < 0 ? '-0' : v}: ${token} ${what}`);
    if (!same(dtype === 'float64' ? read : Math.fround(read), v)) problem('reads back as another value');
    if ((dtype === 'float16' || dtype === 'bfloat16') && !Number.isNaN(v) && toHalf(read) !== exact[i])
      problem(`reads as another ${dtype}`);
    if (token in NON_FINITE) continue;
    const shortest =
      v === 0 ? (1 / v < 0 ? '-0.0' : '0') : dtype === 'float64' ? String(v) : String(shortestFloat32BySearch(v));
    if (token !== shortest) problem(`is not the shortest form ${shortest}`);
  }
  return wrong;
}

t.test('the writer: every dtype, /v1 replies flat and nested, the pool worker task, /v2 replies', async (t) => {
  for (const dtype of DTYPES) {
    const data = sample(dtype, dtype === 'float16' || dtype === 'bfloat16');
    const shape = [data.length / ROW, ROW];
    const mask = Uint8Array.from(data, (_, i) => (elementOf(dtype, data, i) === 0 ? 0 : 1));
    for (const nested of [false, true]) {
      const tensor = { data, shape, dtype, nested };
      const text = decoder.decode(writeDropoutReply(tensor, ECHO, mask));
      t.same(misread(v1Tokens(text, 'output'), dtype, data), [], `${dtype} /v1 nested=${nested}`);
      t.equal(v1Tokens(text, 'mask').join(), Array.from(mask, (m) => m === 1).join(), `${dtype} mask`);
      // The pool worker's task, with the tensor in shared memory as the pool hands it over.
      const buffer = new SharedArrayBuffer(data.byteLength);
      new Uint8Array(buffer).set(bytesOf(data));
      const worker = encodeJsonReply({
        tensor: { buffer, byteOffset: 0, length: data.length, shape, dtype, nested },
        echo: ECHO,
      });
      t.equal(decoder.decode(worker), decoder.decode(writeDropoutReply(tensor, ECHO)), `${dtype} worker task`);
    }
    const call: InferReplyCall = {
      outputs: [
        { name: 'output', binary: false },
        { name: 'mask', binary: false },
      ],
    };
    const result = { tensor: { data, shape, dtype }, mask, seed: '1', offset: 0, kept: 0 };
    const text = decoder.decode(encodeInferHeader(call, result, '1'));
    t.same(misread(v2Tokens(text, 'output'), dtype, data), [], `${dtype} /v2`);
    // Value by value (writerFor) and in runs (runFor): the same bytes.
    const items = new JsonWriter();
    const item = items.writerFor(dtype);
    data.forEach((v, i) => {
      if (i > 0) items.byte(44);
      item(v);
    });
    const runs = new JsonWriter();
    runs.runFor(dtype, data)(0, data.length);
    t.equal(decoder.decode(runs.bytes()), decoder.decode(items.bytes()), `${dtype} runs`);
  }
});

t.test('negative zero is -0.0 on every path; other numbers keep their shortest form', async (t) => {
  const texts: Record<Dtype, string> = {
    float32: '[-0.0,0,1,-2.5,0.1,1e-45,3.4028235e+38,-0.0]',
    float64: '[-0.0,0,1,-2.5,0.1,5e-324,3.4028234663852886e+38,-0.0]',
    float16: '[-0.0,0,1,-2.5,0.099975586,5.9604645e-8,65504,-0.0]',
    bfloat16: '[-0.0,0,1,-2.5,0.100097656,9.1835e-41,3.3895314e+38,-0.0]',
  };
  const values = [-0, 0, 1, -2.5, 0.1, 1e-45, 3.4028234663852886e38, -0];
  const typed: Record<Dtype, TensorData> = {
    float32: Float32Array.from(values),
    float64: Float64Array.from(values.map((v, i) => (i === 5 ? 5e-324 : v))),
    float16: Uint16Array.from([0x8000, 0, 0x3c00, 0xc100, numberToF16(0.1), 1, 0x7bff, 0x8000]),
    bfloat16: Uint16Array.from([0x8000, 0, 0x3f80, 0xc020, numberToBf16(0.1), 1, 0x7f7f, 0x8000]),
  };
  for (const dtype of DTYPES) {
    const data = typed[dtype];
    const reply = writeDropoutReply(
      { data, shape: [data.length], dtype, nested: false },
      { p: 0, mode: 'eval', variant: 'standard', rng: 'philox', seed: null, offset: 0, kept: data.length },
    );
    const text = decoder.decode(reply);
    t.equal(text.slice(10, text.indexOf(']') + 1), texts[dtype], dtype);
    const parsed = (JSON.parse(text) as { output: number[] }).output;
    t.ok(Object.is(parsed[0], -0) && Object.is(parsed[1], 0), `${dtype}: JSON.parse keeps the sign`);
  }
});

t.test('the JSON number reader reads -0.0 (and its other spellings) as negative zero', async (t) => {
  const text = Buffer.from('[-0.0,-0,-0.000,-0e0,-0.0E+5,0.0,-0.0]');
  const parsed = parseJsonNumbers(text, 0, 4, 100);
  t.ok(parsed, 'the WebAssembly reader takes it');
  const values = Array.from(parsed?.chunks[0] ?? []);
  t.same(
    values.map((v) => (Object.is(v, -0) ? '-0' : String(v))),
    ['-0', '-0', '-0', '-0', '-0', '0', '-0'],
  );
});

const ENVS: Record<string, Record<string, string>> = {
  'main thread': { MAX_EVENT_LOOP_DELAY_MS: '0' },
  'pool workers': {
    INLINE_MAX_JSON_BYTES: '0',
    INLINE_MAX_ELEMENTS: '0',
    CHUNK_ELEMENTS: '4096',
    MAX_EVENT_LOOP_DELAY_MS: '0',
  },
};

interface Replies {
  json: string;
  exact: TensorData;
  /** /v2 only: the mask from the binary reply. */
  mask?: Uint8Array;
}

/**
 * Train mode, where the dropped negative values are the -0 to check (eval mode writes the input as is, as the
 * writer test does). /v1, binary in: the binary reply and the JSON one (nested by shape).
 */
async function v1Replies(app: FastifyInstance, dtype: Dtype): Promise<Replies> {
  const data = sample(dtype);
  const query = `shape=${data.length / ROW},${ROW}&dtype=${dtype}&p=0.5&seed=7`;
  const binary = await postBinary(app, bytesOf(data), query);
  const json = await postBinary(app, bytesOf(data), query, { accept: 'application/json' });
  if (binary.statusCode !== 200 || json.statusCode !== 200) throw new Error(`${binary.body} ${json.body}`);
  return { json: json.body, exact: viewBytes(dtype, binary.rawPayload) };
}

/** /v2, train mode, binary in as tritonclient sends it: the outputs as binary data, and as JSON. */
async function v2Replies(app: FastifyInstance, dtype: Dtype): Promise<Replies> {
  const data = sample(dtype);
  const call = (binary: boolean) => {
    const header = JSON.stringify({
      inputs: [
        {
          name: 'input',
          shape: [data.length],
          datatype: DATATYPE[dtype],
          parameters: { binary_data_size: data.byteLength },
        },
      ],
      outputs: [
        { name: 'output', parameters: { binary_data: binary } },
        { name: 'mask', parameters: { binary_data: binary } },
      ],
      parameters: { p: 0.5, seed: '7' },
    });
    return app.inject({
      method: 'POST',
      url: '/v2/models/dropout/infer',
      headers: { 'inference-header-content-length': String(Buffer.byteLength(header)) },
      payload: Buffer.concat([Buffer.from(header), bytesOf(data)]),
    });
  };
  const [binary, json] = [await call(true), await call(false)];
  if (binary.statusCode !== 200 || json.statusCode !== 200) throw new Error(`${binary.body} ${json.body}`);
  const length = Number(binary.headers['inference-header-content-length']);
  const rest = binary.rawPayload.subarray(length);
  return {
    json: json.body,
    exact: viewBytes(dtype, rest.subarray(0, data.byteLength)),
    mask: rest.subarray(data.byteLength),
  };
}

t.test('/v1 and /v2 JSON replies read back exactly, on the main thread and from pool workers', async (t) => {
  for (const [name, env] of Object.entries(ENVS)) {
    const app = await startApp(t, env);
    for (const dtype of DTYPES) {
      const v1 = await v1Replies(app, dtype);
      const v1Output = v1Tokens(v1.json, 'output');
      t.same(misread(v1Output, dtype, v1.exact), [], `${name}: /v1 ${dtype}`);
      const zeros = v1Output.filter((token) => token === '-0.0').length;
      t.ok(zeros > 1000, `${name}: /v1 ${dtype}: ${zeros} dropped negative values are -0.0`);

      // The reply's output sent back as input reads as the same values: -0.0 through the JSON readers too. NaN
      // payloads are not kept (JSON has only "NaN"); everything else is, bit for bit.
      const output = v1.json.slice(v1.json.indexOf('"output":') + 9, v1.json.indexOf(',"shape":'));
      const body = `{"input":${output},"dtype":"${dtype}","mode":"eval"}`;
      const again = await postJson(app, body, { accept: 'application/octet-stream' });
      t.equal(again.statusCode, 200);
      const read = viewBytes(dtype, again.rawPayload);
      const differ = v1.exact.findIndex((_, i) => !same(elementOf(dtype, read, i), elementOf(dtype, v1.exact, i)));
      t.equal(differ, -1, `${name}: /v1 ${dtype} output sent back ${differ < 0 ? '' : `differs at #${differ}`}`);

      const v2 = await v2Replies(app, dtype);
      t.same(misread(v2Tokens(v2.json, 'output'), dtype, v2.exact), [], `${name}: /v2 ${dtype}`);
      const mask = Array.from(v2.mask ?? [], (m) => m === 1).join();
      t.equal(v2Tokens(v2.json, 'mask').join(), mask, `${name}: /v2 ${dtype} mask`);
    }
  }
});

t.test('the TypeScript client reads the JSON forms exactly: -0.0 as -0, 16-bit values as their float32s', async (t) => {
  const app = await startApp(t, ENVS['main thread']);
  const client = createClient({ baseUrl: await app.listen({ host: '127.0.0.1', port: 0 }) });
  for (const dtype of DTYPES) {
    const data = sample(dtype);
    const settings = { shape: [data.length / ROW, ROW], p: 0.5, seed: 7 };
    // The overloads pair each typed array with its dtype, as sample() does; one call site serves all four.
    const typed = data as Float32Array;
    const options = { ...settings, dtype: dtype as 'float32' };
    const [binary, json] = [
      await client.dropout(typed, options),
      await client.dropout(typed, { ...options, format: 'json' }),
    ];
    const values = (json.output as unknown[]).flat() as unknown[];
    const differ = values.findIndex((v, i) => {
      const exact = elementOf(dtype, binary.data, i);
      const read = typeof v === 'number' ? v : Number.NaN;
      return !same(dtype === 'float64' ? read : Math.fround(read), exact);
    });
    t.equal(differ, -1, `${dtype}${differ < 0 ? '' : `: differs at #${differ}`}`);
    t.ok(values.filter((v) => Object.is(v, -0)).length > 1000, `${dtype}: dropped negative values are -0`);
  }
});

/**
 * Reads each reply with Python's json (and rapidjson and orjson where installed), converts each value as
 * tritonclient does (np.float32 for FP32, FP16 and BF16 data; a float for FP64) by way of struct, and compares the
 * bits with the binary reply's, zeros' signs by math.copysign too. Prints what it found as JSON.
 */
const PYTHON_CHECK = `
import json, math, struct, sys
readers = {'json': json.loads}
for name in ('rapidjson', 'orjson'):
    try:
        readers[name] = __import__(name).loads
    except ImportError:
        pass
def flat(v):
    if isinstance(v, list):
        for x in v:
            yield from flat(x)
    else:
        yield v
def exact_values(dtype, raw):
    if dtype == 'float64':
        return [struct.unpack_from('<d', raw, i)[0] for i in range(0, len(raw), 8)]
    if dtype == 'float32':
        return [struct.unpack_from('<f', raw, i)[0] for i in range(0, len(raw), 4)]
    if dtype == 'float16':
        return [struct.unpack_from('<e', raw, i)[0] for i in range(0, len(raw), 2)]
    bits = [struct.unpack_from('<H', raw, i)[0] for i in range(0, len(raw), 2)]
    return [struct.unpack('<f', struct.pack('<I', b << 16))[0] for b in bits]
cases = json.load(open(sys.argv[1]))
found = {'readers': sorted(readers), 'checked': 0, 'wrong': []}
for case in cases:
    text = open(case['reply'], 'rb').read()
    exact = exact_values(case['dtype'], open(case['exact'], 'rb').read())
    fmt = '<d' if case['dtype'] == 'float64' else '<f'
    for reader, loads in readers.items():
        reply = loads(text)
        data = reply['output'] if case['api'] == 'v1' else reply['outputs'][0]['data']
        values = [float(v) for v in flat(data)]
        if len(values) != len(exact):
            found['wrong'].append([case['name'], reader, 'count', len(values), len(exact)])
            continue
        for got, want in zip(values, exact):
            found['checked'] += 1
            if math.isnan(want):
                ok = math.isnan(got)
            else:
                ok = struct.pack(fmt, got) == struct.pack(fmt, want)
                if want == 0:
                    ok = ok and math.copysign(1.0, got) == math.copysign(1.0, want)
            if not ok and len(found['wrong']) < 10:
                found['wrong'].append([case['name'], reader, repr(got), repr(want)])
print(json.dumps(found))
`;

const probe = spawnSync('python3', ['-c', 'import json, math, struct'], { encoding: 'utf8' });
const noPython =
  probe.error || probe.status !== 0
    ? `python3 is not available here (${probe.error?.message ?? probe.stderr.trim()}): the check with Python's own readers is skipped`
    : false;

t.test(
  'python3 reads every JSON reply exactly (json, and rapidjson/orjson where installed)',
  { skip: noPython },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'json-exact-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const app = await startApp(t, ENVS['main thread']);
    const cases: Array<Record<string, string>> = [];
    for (const dtype of DTYPES) {
      for (const [api, replies] of [
        ['v1', v1Replies],
        ['v2', v2Replies],
      ] as const) {
        const { json, exact } = await replies(app, dtype);
        const name = `${api}-${dtype}`;
        const reply = join(dir, `${name}.json`);
        const exactPath = join(dir, `${name}.bin`);
        await writeFile(reply, json);
        await writeFile(exactPath, bytesOf(exact));
        cases.push({ name, api, dtype, reply, exact: exactPath });
      }
    }
    const manifest = join(dir, 'cases.json');
    await writeFile(manifest, JSON.stringify(cases));
    const { stdout } = await promisify(execFile)('python3', ['-c', PYTHON_CHECK, manifest], {
      maxBuffer: 1 << 20,
    });
    const found = JSON.parse(stdout) as { readers: string[]; checked: number; wrong: unknown[] };
    t.same(found.wrong, [], `python3 (${found.readers.join(', ')}) read ${found.checked} values`);
    t.equal(found.checked, found.readers.length * 8 * 8192, 'every value of every reply');
  },
);
