/**
 * Offline proof that the WebAssembly float32 formatter (src/codec/json/wasm/float32-json.wasm) writes the same bytes as
 * the JavaScript one (JsonWriter.float32) for every one of the 2^32 float32 bit patterns. Not part of npm test.
 *
 * Where JsonWriter.float32 takes its fast path (1e−13 ≤ |v| < 1e14, a third of the patterns) it runs as is. Elsewhere
 * it prints String(shortestFloat32BySearch(v)), the first d = 1 … 8 whose v.toPrecision(d) reads back (else d = 9),
 * at 2-4 µs a value on this VM: hours for the 2.8e9 such patterns. There the script runs the same search from the
 * WebAssembly text's digit count D instead of from 1: it checks, with toPrecision, that D digits give that text (and
 * read back if D ≤ 8) and that D − 1 digits do not read back. That settles the search because, except at the
 * patterns below, the set of decimals that read back as v (through the double, then float32) is an interval
 * symmetric about v: the float32 neighbours are one ulp away on both sides and, lying in one binade, have equal
 * double ulps. toPrecision(D − 1) is the (D − 1)-digit decimal nearest v, so when it does not read back no decimal of
 * D − 1 digits or fewer does, and so no toPrecision(d) with d < D. The exceptions (significand a power of two or all
 * ones, where a neighbour or v sits on a binade edge) run the full search, and so does every 64th pattern as a
 * check of the argument.
 *
 * Any pattern where the sides differ is checked against shortestFloat32BySearch, the definition, to say which side
 * is wrong. Two variants of the module, compiled here from the .as.ts with its CHECK switch changed, are compared
 * with the committed one as well: CHECK=1 (every candidate decided by the f64 round trip) on all patterns, CHECK=2
 * (by exact big-integer comparison) on every 64th; they check the shortcuts against the slower paths they stand for.
 *
 *   npx tsx scripts/float32-exhaustive.ts [--workers N] [--from HEX] [--to HEX]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import asc from 'assemblyscript/asc';
import { type DecimalParts, shortestFloat32BySearch, shortestFloat32Parts } from '../src/codec/json/float-format.js';
import { JsonWriter } from '../src/codec/json/writer.js';

const ROOT = new URL('..', import.meta.url);
const SOURCE = 'src/codec/json/wasm/float32-json.as.ts';
const COMMITTED = 'src/codec/json/wasm/float32-json.wasm';
/** Patterns per work item; workers take items from a shared counter, since their cost varies 10x by range. */
const BLOCK = 1 << 16;
const SAMPLE = 64;

// The project's lib (ES2022) and @types/node 20 do not declare the WebAssembly global; this is the part used here.
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface Exports {
  memory: { buffer: ArrayBuffer };
  inputPtr(): number;
  outputPtr(): number;
  capacity(): number;
  format(n: number): number;
}

interface Job {
  modules: { committed: Uint8Array; check1: Uint8Array; check2: Uint8Array };
  counter: SharedArrayBuffer;
  firstBlock: number;
  lastBlock: number;
}

interface Difference {
  bits: string;
  what: string;
  got: string;
  expected: string;
  definition?: string;
}

interface Report {
  blocks: number;
  patterns: number;
  /** Patterns compared with JsonWriter.float32 run as is (fast path, edges, every 64th). */
  literal: number;
  /** Patterns compared through the search from the text's digit count. */
  searched: number;
  differences: number;
  check1Differences: number;
  check2Differences: number;
  check2Patterns: number;
  examples: Difference[];
}

/** Text of the values through one instance, chunk by chunk, comma-separated like JsonWriter.float32Run. */
function formatter(bytes: Uint8Array): (bits: Uint32Array) => Buffer {
  const ex = new wasm.Instance(new wasm.Module(bytes), {}).exports as Exports;
  const capacity = ex.capacity();
  const input = new Uint32Array(ex.memory.buffer, ex.inputPtr(), capacity);
  const output = new Uint8Array(ex.memory.buffer, ex.outputPtr(), capacity * 24);
  const text = Buffer.alloc(BLOCK * 24);
  return (bits) => {
    let length = 0;
    for (let at = 0; at < bits.length; at += capacity) {
      const n = Math.min(capacity, bits.length - at);
      input.set(bits.subarray(at, at + n));
      if (at > 0) text[length++] = 44;
      const written = ex.format(n);
      text.set(output.subarray(0, written), length);
      length += written;
    }
    return text.subarray(0, length);
  };
}

const roundTrips = (v: number, text: string) => Math.fround(Number(text)) === v;
const parts: DecimalParts = { digits: 0, scale: 0 };

/** JsonWriter.float32(v) as is. */
function literal(v: number): string {
  const w = new JsonWriter(32);
  w.float32(v);
  return Buffer.from(w.bytes()).toString('latin1');
}

/**
 * Whether `text` is what JsonWriter.float32 writes for the float32 v with these bits, run as is or, away from its
 * fast path and the edge patterns, as the search from the text's digit count (see the header).
 */
function agrees(bits: number, v: number, text: string, report: Report): boolean {
  const m = bits & 0x7fffff;
  const edge = (bits & 0x7f800000) === 0 ? (m & (m - 1)) === 0 : m === 0 || m === 0x7fffff;
  if (!Number.isFinite(v) || v === 0 || edge || bits % SAMPLE === 0 || shortestFloat32Parts(Math.abs(v), parts)) {
    report.literal++;
    return literal(v) === text;
  }
  report.searched++;
  // The significant digits of the text: its mantissa without sign, point, exponent, and leading or trailing zeros.
  const digits = text
    .replace(/^-/, '')
    .replace(/e.*$/, '')
    .replace('.', '')
    .replace(/^0+|0+$/g, '').length;
  if (digits < 1 || digits > 9) return false;
  const candidate = v.toPrecision(digits);
  if (String(Number(candidate)) !== text) return false;
  if (digits <= 8 && !roundTrips(v, candidate)) return false;
  return digits === 1 || !roundTrips(v, v.toPrecision(digits - 1));
}

function work(job: Job): Report {
  const committed = formatter(job.modules.committed);
  const check1 = formatter(job.modules.check1);
  const check2 = formatter(job.modules.check2);
  const next = new Int32Array(job.counter);
  const bits = new Uint32Array(BLOCK);
  const values = new Float32Array(bits.buffer);
  const sample = new Uint32Array(BLOCK / SAMPLE);
  const report: Report = {
    blocks: 0,
    patterns: 0,
    literal: 0,
    searched: 0,
    differences: 0,
    check1Differences: 0,
    check2Differences: 0,
    check2Patterns: 0,
    examples: [],
  };
  const compare = (what: string, got: Buffer, expected: Buffer, patterns: Uint32Array): number => {
    if (got.equals(expected)) return 0;
    const a = got.toString('latin1').split(',');
    const b = expected.toString('latin1').split(',');
    let count = 0;
    for (let i = 0; i < patterns.length; i++) {
      if (a[i] === b[i]) continue;
      count++;
      if (report.examples.length < 50) {
        const v = new Float32Array(new Uint32Array([patterns[i]]).buffer)[0];
        const definition = Number.isFinite(v) && v !== 0 ? String(shortestFloat32BySearch(v)) : undefined;
        report.examples.push({ bits: patterns[i].toString(16), what, got: a[i], expected: b[i], definition });
      }
    }
    // A misaligned split (a value with a comma would be a bug too) still counts.
    return Math.max(count, 1);
  };
  for (;;) {
    const block = job.firstBlock + Atomics.add(next, 0, 1);
    if (block > job.lastBlock) break;
    const base = block * BLOCK;
    for (let i = 0; i < BLOCK; i++) bits[i] = base + i;
    // Each formatter reuses its buffer: compare before the next call of the same one.
    const text = committed(bits);
    const texts = text.toString('latin1').split(',');
    for (let i = 0; i < BLOCK; i++) {
      if (agrees(bits[i], values[i], texts[i], report)) continue;
      report.differences++;
      if (report.examples.length < 50) {
        const v = values[i];
        const definition = Number.isFinite(v) && v !== 0 ? String(shortestFloat32BySearch(v)) : undefined;
        report.examples.push({
          bits: bits[i].toString(16),
          what: 'wasm vs js',
          got: texts[i],
          expected: literal(v),
          definition,
        });
      }
    }
    report.check1Differences += compare('CHECK=1 vs wasm', check1(bits), text, bits);
    for (let i = 0; i < sample.length; i++) sample[i] = base + i * SAMPLE + (block % SAMPLE);
    report.check2Differences += compare('CHECK=2 vs wasm', check2(sample), committed(sample), sample);
    report.check2Patterns += sample.length;
    report.blocks++;
    report.patterns += BLOCK;
    if (report.blocks % 64 === 0) {
      const { differences, check1Differences, check2Differences } = report;
      parentPort?.postMessage({
        progress: report.blocks,
        differences: differences + check1Differences + check2Differences,
      });
    }
  }
  return report;
}

async function variant(check: number): Promise<Uint8Array> {
  const source = readFileSync(new URL(SOURCE, ROOT), 'utf8');
  const changed = source.replace(/^const CHECK: i32 = 0;$/m, `const CHECK: i32 = ${check};`);
  if (changed === source) throw new Error(`no CHECK switch in ${SOURCE}`);
  let compiled: Uint8Array | undefined;
  const { error, stderr } = await asc.main(
    [
      'variant.ts',
      '--enable',
      'simd',
      '-O3',
      '--runtime',
      'stub',
      '--noAssert',
      '--use',
      'abort=',
      '-o',
      'variant.wasm',
    ],
    {
      readFile: (name) => (name === 'variant.ts' ? changed : null),
      writeFile: (name, contents) => {
        if (name.endsWith('.wasm')) compiled = typeof contents === 'string' ? Buffer.from(contents) : contents;
      },
    },
  );
  if (error || !compiled) throw new Error(`asc: ${error?.message}\n${stderr.toString()}`);
  return compiled;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: String(availableParallelism()) },
      from: { type: 'string', default: '0' },
      to: { type: 'string', default: 'ffffffff' },
    },
  });
  const firstBlock = Math.floor(Number.parseInt(values.from, 16) / BLOCK);
  const lastBlock = Math.floor(Number.parseInt(values.to, 16) / BLOCK);
  const modules = {
    committed: new Uint8Array(readFileSync(new URL(COMMITTED, ROOT))),
    check1: await variant(1),
    check2: await variant(2),
  };
  const counter = new SharedArrayBuffer(4);
  const total = lastBlock - firstBlock + 1;
  const started = performance.now();
  let done = 0;
  const differing: number[] = [];
  const timer = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    const eta = done > 0 ? ((total - done) * seconds) / done : Number.NaN;
    const found = differing.reduce((a, b) => a + b, 0);
    console.log(
      `${done}/${total} blocks (${((100 * done) / total).toFixed(1)}%), ${found} differences so far, ` +
        `${seconds.toFixed(0)} s, ETA ${eta.toFixed(0)} s`,
    );
  }, 30_000);
  const reports = await Promise.all(
    Array.from({ length: Number(values.workers) }, (_, index) => {
      // On Node 20 tsx registers its hooks in the main thread only, so the worker registers them itself first.
      const entry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
      const worker = new Worker(entry, {
        eval: true,
        workerData: { modules, counter, firstBlock, lastBlock } satisfies Job,
      });
      let seen = 0;
      return new Promise<Report>((resolve, reject) => {
        worker.on('message', (message: { progress?: number; differences?: number; report?: Report }) => {
          if (message.progress !== undefined) {
            done += message.progress - seen;
            seen = message.progress;
            differing[index] = message.differences ?? 0;
          }
          if (message.report) {
            done += message.report.blocks - seen;
            resolve(message.report);
          }
        });
        worker.on('error', reject);
      });
    }),
  );
  clearInterval(timer);
  const sum = (key: keyof Omit<Report, 'examples'>) => reports.reduce((n, r) => n + r[key], 0);
  const summary = {
    range: [values.from, values.to],
    patterns: sum('patterns'),
    literal: sum('literal'),
    searched: sum('searched'),
    differences: sum('differences'),
    check1Differences: sum('check1Differences'),
    check2Patterns: sum('check2Patterns'),
    check2Differences: sum('check2Differences'),
    seconds: Math.round((performance.now() - started) / 1000),
    workers: Number(values.workers),
    examples: reports.flatMap((r) => r.examples).slice(0, 50),
  };
  console.log(JSON.stringify(summary, null, 2));
  process.exitCode = summary.differences + summary.check1Differences + summary.check2Differences === 0 ? 0 : 1;
}

if (isMainThread) await main();
else parentPort?.postMessage({ report: work(workerData as Job) });
