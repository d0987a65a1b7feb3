/**
 * The README's shell examples run against the service, so they cannot drift from it. Every ```sh block that calls
 * the service is run with bash in a scratch directory, with localhost:3000 pointed at a test server; each command
 * must exit 0, and where the README shows a result the output must match it: a `# {…}` comment (on the command's
 * line or the lines after it) is compared as JSON, "…" matching any value, and a `# Name: value   Name: value`
 * comment as response headers. Other comments are prose. Blocks without curl (npm, docker, kubectl) are not run.
 *
 * npm test has to pass on a machine with only Node and npm. curl is not on every such machine (Node's slim images
 * lack it), so without it the commands get a small curl made of Node's fetch that knows the options the README
 * uses and refuses others (README_CURL=node forces it where curl exists). The .npy example is NumPy's: it runs
 * where python3 can import numpy (CI installs it), and is skipped, saying so, elsewhere.
 *
 * The TypeScript client example runs too, on the client's source: each `expr; // value` line with a JSON value
 * (optionally after a typed array's name) is checked.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startApp } from '../helpers.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const CLIENT = fileURLToPath(new URL('../../src/client/index.ts', import.meta.url));
const MARK = '\x1eREADME-COMMAND';

type Block = { lang: string; line: number; lines: string[] };
type Command = { line: number; text: string; results: string[] };

function blocks(markdown: string): Block[] {
  const found: Block[] = [];
  let open: Block | undefined;
  markdown.split('\n').forEach((line, i) => {
    const fence = /^```(\w*)\s*$/.exec(line);
    if (fence && !open) open = { lang: fence[1], line: i + 1, lines: [] };
    else if (fence && open) {
      found.push(open);
      open = undefined;
    } else open?.lines.push(line);
  });
  return found;
}

/** Where a line's trailing comment starts (a `#` after whitespace, outside quotes), or -1. */
function commentAt(line: string): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return i;
  }
  return -1;
}

const complete = (script: string) => spawnSync('bash', ['-n'], { input: script }).status === 0;

/** Splits a block into complete shell commands, each with the result comments the README shows for it. */
function commands(block: Block): Command[] {
  const found: Command[] = [];
  let pending: string[] = [];
  let start = 0;
  block.lines.forEach((line, i) => {
    if (pending.length === 0 && /^\s*#/.test(line)) {
      found.at(-1)?.results.push(line.replace(/^\s*#\s?/, ''));
      return;
    }
    if (pending.length === 0) start = block.line + 1 + i;
    pending.push(line);
    const text = pending.join('\n');
    // bash -n takes a trailing backslash at the end of its input as complete.
    if (line.endsWith('\\') || !complete(text)) return;
    const at = commentAt(line);
    found.push({ line: start, text, results: at >= 0 ? [line.slice(at + 1).trim()] : [] });
    pending = [];
  });
  if (pending.length > 0) throw new Error(`README.md:${start}: an incomplete shell command`);
  return found;
}

/** The JSON value at the start of a comment (`{"ready":true}, or 503` gives {ready: true}), if there is one. */
function leadingJson(text: string): { value: unknown } | undefined {
  if (!/^[[{]/.test(text)) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) return { value: JSON.parse(text.slice(0, i + 1)) };
  }
  throw new Error(`an unbalanced JSON result: ${text}`);
}

/** "…" in the README's value stands for any value. */
function matches(actual: unknown, expected: unknown): boolean {
  if (expected === '…') return true;
  if (Array.isArray(expected)) {
    return (
      Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e))
    );
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(actual).length &&
      keys.every((k) => matches((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]))
    );
  }
  return Object.is(actual, expected);
}

/** curl for the options the README uses, on Node's fetch; anything else is refused, like curl's exit code 2. */
const NODE_CURL = String.raw`
const { readFileSync, writeFileSync } = require('node:fs');
const args = process.argv.slice(2);
const headers = new Headers();
let url, body, method = 'GET', dump, out, compressed = false;
const data = (v) => (v.startsWith('@') ? readFileSync(v === '@-' ? 0 : v.slice(1)) : Buffer.from(v));
while (args.length) {
  const a = args.shift();
  if (a === '-s' || a === '--silent') continue;
  else if (a === '--compressed') compressed = true;
  else if (a === '-H' || a === '--header') { const h = args.shift(); const i = h.indexOf(':'); headers.set(h.slice(0, i).trim(), h.slice(i + 1).trim()); }
  else if (a === '-d' || a === '--data') { body = data(args.shift()); method = 'POST'; if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded'); }
  else if (a === '--data-binary') { body = data(args.shift()); method = 'POST'; if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded'); }
  else if (a === '-D' || a === '--dump-header') dump = args.shift();
  else if (a === '-o' || a === '--output') out = args.shift();
  else if (!a.startsWith('-') && url === undefined) url = /^https?:\/\//.test(a) ? a : 'http://' + a;
  else { process.stderr.write('curl (Node): option not supported: ' + a + '\n'); process.exit(2); }
}
headers.set('accept-encoding', compressed ? 'gzip' : 'identity');
(async () => {
  // fetch inflates a gzip reply, as curl --compressed does.
  const res = await fetch(url, { method, headers, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (dump !== undefined) {
    let text = 'HTTP/1.1 ' + res.status + ' ' + res.statusText + '\r\n';
    for (const [k, v] of res.headers) text += k + ': ' + v + '\r\n';
    text += '\r\n';
    if (dump === '-') process.stdout.write(text); else writeFileSync(dump, text);
  }
  if (out !== undefined && out !== '-') writeFileSync(out, bytes); else process.stdout.write(bytes);
})().catch((e) => { process.stderr.write('curl (Node): ' + e.message + '\n'); process.exit(7); });
`;

function run(
  script: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const hasCurl = spawnSync('curl', ['--version']).status === 0;
const useNodeCurl = !hasCurl || process.env.README_CURL === 'node';
const hasNumpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;

t.test('the README shell examples give what the README shows', async (t) => {
  const app = await startApp(t);
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  const host = new URL(origin).host;
  const dir = await mkdtemp(join(tmpdir(), 'dropout-readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const env = { ...process.env };
  if (useNodeCurl) {
    await writeFile(join(dir, 'curl'), `#!${process.execPath}\n${NODE_CURL}`);
    await chmod(join(dir, 'curl'), 0o755);
    env.PATH = `${dir}:${env.PATH}`;
  }
  t.comment(
    `curl: ${useNodeCurl ? "Node's fetch" : execFileSync('curl', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`,
  );

  const runnable = blocks(await readFile(README, 'utf8')).filter(
    (b) => b.lang === 'sh' && /\bcurl\b/.test(b.lines.join('\n')),
  );
  t.ok(runnable.length >= 6, `the README has its curl examples (${runnable.length} blocks)`);
  for (const block of runnable) {
    await t.test(`README.md:${block.line}`, async (t) => {
      if (/\bpython3\b.*\bnumpy\b/.test(block.lines.join('\n')) && !hasNumpy) {
        t.pass('the NumPy example', {
          skip: 'needs python3 with NumPy (CI installs it): python3 -c "import numpy" fails',
        });
        return;
      }
      const cmds = commands(block);
      const script = cmds
        .map((c, i) => `${c.text.replaceAll('localhost:3000', host)}\nprintf '\\n${MARK} ${i} %d\\n' $?`)
        .join('\n');
      const { status, stdout, stderr } = await run(script, dir, env);
      t.equal(status, 0, 'bash exits 0', { stderr });
      const outputs = stdout.split(new RegExp(`\\n${MARK} (\\d+) (\\d+)\\n`));
      for (const [i, c] of cmds.entries()) {
        const output = outputs[i * 3] ?? '';
        t.equal(outputs[i * 3 + 2], '0', `line ${c.line} exits 0: ${c.text.split('\n')[0]}`, { stderr });
        const joined = c.results.join('');
        const json = leadingJson(joined);
        if (json) {
          let actual: unknown;
          try {
            actual = JSON.parse(output);
          } catch {
            actual = output;
          }
          t.ok(matches(actual, json.value), `line ${c.line} gives ${joined}`, { found: actual, wanted: json.value });
        } else if (joined.split(/\s{2,}/).every((pair) => /^([A-Z][a-z]*-)+[A-Z][a-z]*: \S/.test(pair))) {
          const received = new Map(
            output
              .split(/\r?\n/)
              .map((l) => /^([\w-]+):\s*(.*?)\s*$/.exec(l))
              .filter((m) => m !== null)
              .map((m) => [m[1].toLowerCase(), m[2]]),
          );
          for (const pair of joined.split(/\s{2,}/)) {
            const [name, value] = [pair.slice(0, pair.indexOf(':')), pair.slice(pair.indexOf(':') + 1).trim()];
            t.equal(received.get(name.toLowerCase()), value, `line ${c.line} answers ${name}: ${value}`);
          }
        }
      }
    });
  }
});

t.test('the README client example gives what its comments show', async (t) => {
  const app = await startApp(t);
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'dropout-readme-client-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const example = blocks(await readFile(README, 'utf8')).find(
    (b) => b.lang === 'ts' && b.lines.some((l) => l.includes("from 'dropout-service/client'")),
  );
  if (!example) throw new Error('README.md has no client example');
  const checks: { expr: string; kind: string; wanted: unknown; line: number }[] = [];
  const source = example.lines
    .map((line, i) => {
      const m = /^(\w[\w.]*); \/\/ (Float32Array |Float64Array |Uint16Array )?(.*)$/.exec(line);
      if (!m) return line;
      const text = m[3];
      const value = text.startsWith('"')
        ? { value: JSON.parse(text.slice(0, text.indexOf('"', 1) + 1)) }
        : leadingJson(text);
      if (!value) return line;
      checks.push({ expr: m[1], kind: (m[2] ?? '').trim(), wanted: value.value, line: example.line + 1 + i });
      return `checks.push(${m[1]});`;
    })
    .join('\n')
    .replace("'dropout-service/client'", JSON.stringify(CLIENT))
    .replace("'http://127.0.0.1:3000'", JSON.stringify(origin));
  t.ok(checks.length >= 4, `the example shows ${checks.length} results`);
  // .mts: the example awaits at top level, which needs an ES module.
  const file = join(dir, 'example.mts');
  await writeFile(
    file,
    `const checks: unknown[] = [];\n${source}\nprocess.stdout.write(JSON.stringify(checks.map((v) => (ArrayBuffer.isView(v) ? [v.constructor.name, Array.from(v as Float32Array)] : v))));\n`,
  );
  // Asynchronously: the server answering the example runs in this process.
  const result = await run(
    `${JSON.stringify(process.execPath)} --import=tsx ${JSON.stringify(file)}`,
    process.cwd(),
    process.env,
  );
  t.equal(result.status, 0, 'the example runs', { stderr: result.stderr });
  const values = JSON.parse(result.stdout || '[]') as unknown[];
  for (const [i, c] of checks.entries()) {
    const found = values[i];
    if (c.kind) {
      t.same(found, [c.kind, c.wanted], `line ${c.line}: ${c.expr} is ${c.kind} ${JSON.stringify(c.wanted)}`);
    } else t.ok(matches(found, c.wanted), `line ${c.line}: ${c.expr} is ${JSON.stringify(c.wanted)}`, { found });
  }
});
