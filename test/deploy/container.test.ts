/**
 * The container image, proven without a Docker engine.
 *
 * buildImage() reads the Dockerfile with a real parser (dockerfile-ast) and rebuilds, in temporary folders, what
 * `docker build` would put in each stage: every COPY copies exactly its sources, from the build context filtered by
 * the .dockerignore rules (Docker's pattern semantics, re-implemented below) or, with --from, from the reproduced
 * folder of that stage; every RUN runs its npm steps there with the same flags; FROM/WORKDIR/ENV/USER/EXPOSE/
 * HEALTHCHECK/STOPSIGNAL/CMD make up the image config. An instruction, flag or shell syntax it does not model fails
 * the build by name (UnsupportedInstruction) instead of being skipped. checkImage() then checks the final stage
 * statically, and runImage() starts its CMD, through the node image's docker-entrypoint.sh logic, with the image's
 * ENV, as the image's user and, when this machine allows it, as PID 1 of a new PID namespace; it checks /healthz,
 * the HEALTHCHECK command, /readyz and two dropout calls, sends SIGTERM and expects exit 0 within the shutdown bound.
 *
 * The base image (node:26-trixie-slim) is stood in for by the Node.js and npm running this test; `npm run
 * test:image-node` runs it on that image's Node line (with this machine's npm: the official binary package has no
 * npm). npm's download cache is shared with the host: it is content-addressed and npm ci checks every tarball
 * against the lockfile's integrity, so it only saves downloads.
 * npm ci gets --prefer-offline, --no-audit and --no-fund (as npm_config_*): with a lockfile the installed tree is
 * the same; they only skip registry round trips.
 *
 * Like Docker's build cache, a stage whose instructions and inputs hash the same as one built earlier in this run is
 * reused, and an npm ci whose file set, ENV and flags hash the same reuses the earlier node_modules (hard links), so
 * the broken Dockerfiles below only redo what differs.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerfileParser, type Env, type Healthcheck, type ModifiableInstruction } from 'dockerfile-ast';
import t from 'tap';
import { referenceDropout } from '../reference.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** close-with-grace's delay in src/server.ts: the longest a graceful shutdown may take. */
function shutdownBoundMs(): number {
  const source = readFileSync(join(REPO, 'src/server.ts'), 'utf8');
  const match = /SHUTDOWN_GRACE_MS\s*=\s*([\d_]+)/.exec(source);
  if (!match) throw new Error('src/server.ts no longer declares SHUTDOWN_GRACE_MS; update the container test');
  return Number(match[1].replaceAll('_', ''));
}
const SHUTDOWN_BOUND_MS = shutdownBoundMs();

/** A Dockerfile construct this reproduction does not model: the image is not proven, so the test must fail. */
class UnsupportedInstruction extends Error {
  override name = 'UnsupportedInstruction';
}

const sha256 = (...parts: string[]): string => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};

// ---------------------------------------------------------------------------------------------------------------
// .dockerignore: moby/patternmatcher semantics (what BuildKit applies to the build context)

interface IgnoreRule {
  exclusion: boolean;
  regex: RegExp;
}

/** Go's filepath.Clean for a slash-separated pattern or path. */
function cleanPath(p: string): string {
  const cleaned = posix.normalize(p);
  return cleaned.length > 1 && cleaned.endsWith('/') ? cleaned.slice(0, -1) : cleaned;
}

const escapeRegex = (ch: string): string => (/[\w]/.test(ch) ? ch : `\\${ch}`);

/** patternmatcher's pattern → regexp: `*` and `?` stop at `/`, `**` spans directories, `[...]` is a class. */
function compileIgnorePattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') i++;
      re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[' || ch === ']') re += ch;
    else if (ch === '\\') re += i + 1 < pattern.length ? escapeRegex(pattern[++i]) : '\\\\';
    else re += escapeRegex(ch);
  }
  return new RegExp(`${re}$`);
}

/** ignorefile.ReadAll + patternmatcher.New: comments, trimming, `!` exceptions, cleaned, leading `/` dropped. */
function parseIgnoreFile(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const exclusion = pattern.startsWith('!');
    if (exclusion) pattern = pattern.slice(1).trim();
    if (pattern === '') throw new Error('.dockerignore: illegal exclusion pattern "!"');
    pattern = cleanPath(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    rules.push({ exclusion, regex: compileIgnorePattern(pattern) });
  }
  return rules;
}

/** MatchesOrParentMatches: the last rule that matches the path, or one of its parent directories, decides. */
function isExcluded(rules: IgnoreRule[], file: string): boolean {
  const parent = posix.dirname(file);
  const parentDirs = parent === '.' ? [] : parent.split('/');
  let matched = false;
  for (const rule of rules) {
    if (rule.exclusion !== matched) continue;
    let match = rule.regex.test(file);
    for (let i = 0; !match && i < parentDirs.length; i++) match = rule.regex.test(parentDirs.slice(0, i + 1).join('/'));
    if (match) matched = !rule.exclusion;
  }
  return matched;
}

// ---------------------------------------------------------------------------------------------------------------
// The Dockerfile as a plan: stages of typed steps; anything not modeled throws UnsupportedInstruction

type Step = { line: number; text: string } & (
  | { kind: 'workdir'; path: string }
  | { kind: 'copy'; from: number | null; sources: string[]; dest: string }
  | { kind: 'run'; commands: string[][] }
  | { kind: 'env'; pairs: [string, string][] }
  | { kind: 'user'; uid: number; gid: number }
  | { kind: 'expose'; ports: string[] }
  | { kind: 'healthcheck'; argv: string[] | null; timeoutMs: number }
  | { kind: 'stopsignal'; signal: string }
  | { kind: 'cmd'; argv: string[] }
  | { kind: 'label' }
);

interface StagePlan {
  index: number;
  name: string | null;
  /** The official node image, or an earlier stage (FROM <stage>). */
  base: { image: string } | { stage: number };
  steps: Step[];
}

/** The users of the node image's /etc/passwd: name → [uid, primary gid]. */
const IMAGE_USERS: Record<string, [number, number]> = { root: [0, 0], node: [1000, 1000] };
const IMAGE_GROUPS: Record<string, number> = { root: 0, node: 1000 };
const NODE_IMAGE = /^(docker\.io\/(library\/)?)?node:[\w.-]+(@sha256:[0-9a-f]{64})?$/;
/** RUN shell words this reproduction can run without a shell: no quoting, expansion, redirection or globbing. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

function parseExecForm(content: string): string[] | null {
  if (!content.trim().startsWith('[')) return null;
  try {
    const value: unknown = JSON.parse(content);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : null;
  } catch {
    return null; // Docker treats an invalid JSON array as the shell form
  }
}

function parseDuration(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 };
  let ms = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g, (_, n: string, unit: string) => {
    ms += Number(n) * units[unit];
    return '';
  });
  if (rest !== '' || text === '') throw new Error(`bad duration ${JSON.stringify(text)}`);
  return ms;
}

function classifyRunCommand(argv: string[]): 'npm-ci' | 'npm-run' | 'npm-cache-clean' | 'npx' | null {
  if (argv[0] === 'npm' && argv[1] === 'ci') return 'npm-ci';
  if (argv[0] === 'npm' && (argv[1] === 'run' || argv[1] === 'run-script') && argv[2]) return 'npm-run';
  if (argv[0] === 'npm' && argv[1] === 'cache' && argv[2] === 'clean') return 'npm-cache-clean';
  if (argv[0] === 'npx' && argv[1] && !argv[1].startsWith('-')) return 'npx';
  return null;
}

function planDockerfile(text: string): StagePlan[] {
  const dockerfile = DockerfileParser.parse(text);
  for (const directive of dockerfile.getDirectives()) {
    if (!['syntax', 'escape', 'check'].includes(directive.getName().toLowerCase()))
      throw new UnsupportedInstruction(`parser directive ${directive.getName()} is not modeled`);
  }
  const stages: StagePlan[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    const line = instruction.getRange().start.line + 1;
    const text = instruction.toString();
    const unsupported = (why: string): never => {
      throw new UnsupportedInstruction(
        `Dockerfile line ${line}: ${text}: ${why}. The reproduction does not model it, so the image is not proven; ` +
          'extend test/container.test.ts to model it',
      );
    };
    const flags = 'getFlags' in instruction ? (instruction as ModifiableInstruction).getFlags() : [];
    const allowFlags = (...names: string[]) => {
      for (const flag of flags) if (!names.includes(flag.getName())) unsupported(`flag --${flag.getName()}`);
    };
    const flag = (name: string) => flags.find((f) => f.getName() === name)?.getValue() ?? null;
    const content = instruction.getArgumentsContent() ?? '';
    const args = instruction.getArguments().map((a) => a.getValue());
    const stage = stages.at(-1);
    if (keyword !== 'FROM' && !stage) unsupported('an instruction before the first FROM');
    if (['WORKDIR', 'COPY', 'ENV', 'USER', 'EXPOSE', 'FROM', 'STOPSIGNAL'].includes(keyword) && content.includes('$'))
      unsupported('variable expansion');
    const push = (step: Step) => stage!.steps.push(step);
    switch (keyword) {
      case 'FROM': {
        allowFlags();
        if (!(args.length === 1 || (args.length === 3 && args[1].toUpperCase() === 'AS'))) unsupported('its form');
        const parent = stages.find((s) => s.name !== null && s.name === args[0].toLowerCase());
        if (!parent && !NODE_IMAGE.test(args[0]))
          unsupported('only the official node image is modeled as a base (by the Node.js running this test)');
        stages.push({
          index: stages.length,
          name: args[2]?.toLowerCase() ?? null,
          base: parent ? { stage: parent.index } : { image: args[0] },
          steps: [],
        });
        break;
      }
      case 'WORKDIR':
        if (args.length !== 1) unsupported('its form');
        push({ kind: 'workdir', line, text, path: args[0] });
        break;
      case 'COPY': {
        allowFlags('from');
        if ((instruction as unknown as { getHeredocs(): unknown[] }).getHeredocs().length > 0) unsupported('heredoc');
        const parts = parseExecForm(content) ?? args;
        if (parts.length < 2) unsupported('its form');
        const fromName = flag('from');
        let from: number | null = null;
        if (fromName !== null) {
          const source = stages.find((s) => s.name === fromName.toLowerCase() || String(s.index) === fromName);
          if (!source || source === stage) unsupported('copying from an image rather than an earlier stage');
          from = source!.index;
        }
        push({ kind: 'copy', line, text, from, sources: parts.slice(0, -1), dest: parts.at(-1)! });
        break;
      }
      case 'RUN': {
        allowFlags();
        const exec = parseExecForm(content);
        let commands: string[][];
        if (exec) commands = [exec];
        else {
          const words = content.split(/\s+/).filter((w) => w !== '');
          const bad = words.find((w) => w !== '&&' && !PLAIN_WORD.test(w));
          if (bad !== undefined) unsupported(`shell syntax ${JSON.stringify(bad)}`);
          commands = [[]];
          for (const word of words) {
            if (word === '&&') commands.push([]);
            else commands.at(-1)!.push(word);
          }
        }
        for (const argv of commands) {
          if (argv.length === 0) unsupported('an empty command');
          if (!classifyRunCommand(argv))
            unsupported(`the command "${argv.join(' ')}" (only npm ci/run/cache clean, npx)`);
        }
        push({ kind: 'run', line, text, commands });
        break;
      }
      case 'ENV': {
        const pairs: [string, string][] = [];
        for (const property of (instruction as Env).getProperties()) {
          const value = property.getUnescapedValue();
          if (value === null) unsupported(`ENV ${property.getName()} without a value`);
          pairs.push([property.getName(), value!]);
        }
        push({ kind: 'env', line, text, pairs });
        break;
      }
      case 'USER': {
        const [user, group] = (args[0] ?? '').split(':');
        const known = IMAGE_USERS[user];
        const uid = /^\d+$/.test(user) ? Number(user) : known?.[0];
        if (uid === undefined) unsupported(`user ${user} (the base image's /etc/passwd is modeled for root and node)`);
        const primary = Object.values(IMAGE_USERS).find(([u]) => u === uid)?.[1] ?? 0;
        const gid = group === undefined ? primary : /^\d+$/.test(group) ? Number(group) : IMAGE_GROUPS[group];
        if (gid === undefined) unsupported(`group ${group}`);
        push({ kind: 'user', line, text, uid: uid!, gid: gid! });
        break;
      }
      case 'EXPOSE':
        for (const port of args) if (!/^\d+(\/(tcp|udp))?$/.test(port)) unsupported(`port ${port}`);
        push({ kind: 'expose', line, text, ports: args.map((p) => p.replace(/\/tcp$/, '')) });
        break;
      case 'HEALTHCHECK': {
        allowFlags('interval', 'timeout', 'start-period', 'start-interval', 'retries');
        const sub = (instruction as Healthcheck).getSubcommand()?.getValue().toUpperCase();
        if (sub === 'NONE') {
          push({ kind: 'healthcheck', line, text, argv: null, timeoutMs: 0 });
          break;
        }
        const argv = sub === 'CMD' ? parseExecForm(content.replace(/^\s*CMD\s*/i, '')) : null;
        if (!argv) unsupported('a HEALTHCHECK that is not `CMD [exec form]`');
        push({ kind: 'healthcheck', line, text, argv, timeoutMs: parseDuration(flag('timeout') ?? '30s') });
        break;
      }
      case 'STOPSIGNAL': {
        const signal = args[0]?.toUpperCase() ?? '';
        push({ kind: 'stopsignal', line, text, signal: signal === '15' || signal === 'TERM' ? 'SIGTERM' : signal });
        break;
      }
      case 'CMD': {
        allowFlags();
        const argv = parseExecForm(content);
        if (!argv)
          unsupported('the shell form (it runs through /bin/sh -c; the exec form ["node", ...] makes node PID 1)');
        push({ kind: 'cmd', line, text, argv: argv! });
        break;
      }
      case 'LABEL':
        push({ kind: 'label', line, text });
        break;
      default:
        unsupported(`${keyword} is not modeled`);
    }
  }
  if (stages.length === 0) throw new Error('the Dockerfile has no FROM');
  return stages;
}

// ---------------------------------------------------------------------------------------------------------------
// File sets

interface Entry {
  /** Path below the COPY source ('' for the source itself). */
  sub: string;
  abs: string;
  kind: 'dir' | 'file' | 'symlink';
  mode: number;
}

/**
 * What a COPY takes from one source: a file is itself, a directory contributes its contents. With ignore rules
 * (sources from the build context), excluded entries are left out; an excluded directory is still walked when some
 * rule re-includes paths (`!`), since one of them may be inside it.
 */
async function* selectEntries(abs: string, rel: string, rules: IgnoreRule[] | null, sub = ''): AsyncGenerator<Entry> {
  const info = await lstat(abs);
  if (!info.isDirectory()) {
    yield { sub, abs, kind: info.isSymbolicLink() ? 'symlink' : 'file', mode: info.mode };
    return;
  }
  for (const name of (await readdir(abs)).sort()) {
    const childAbs = join(abs, name);
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const childSub = sub === '' ? name : `${sub}/${name}`;
    const excluded = rules !== null && isExcluded(rules, childRel);
    const child = await lstat(childAbs);
    if (child.isDirectory()) {
      if (!excluded) yield { sub: childSub, abs: childAbs, kind: 'dir', mode: child.mode };
      else if (!rules!.some((r) => r.exclusion)) continue;
      yield* selectEntries(childAbs, childRel, rules, childSub);
    } else if (!excluded) {
      yield { sub: childSub, abs: childAbs, kind: child.isSymbolicLink() ? 'symlink' : 'file', mode: child.mode };
    }
  }
}

async function hashEntry(hash: Hash, entry: Entry): Promise<void> {
  hash.update(`${entry.sub}\0${entry.kind}\0${entry.mode}\0`);
  if (entry.kind === 'file') hash.update(await readFile(entry.abs));
  if (entry.kind === 'symlink') hash.update(await readlink(entry.abs));
  hash.update('\0');
}

/** A digest of everything under dir except node_modules folders (the inputs of an npm ci). */
async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const visit = async (abs: string, sub: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      if (name === 'node_modules') continue;
      const entry: Entry = { sub: `${sub}/${name}`, abs: join(abs, name), kind: 'file', mode: 0 };
      const info = await lstat(entry.abs);
      entry.mode = info.mode;
      entry.kind = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : 'file';
      await hashEntry(hash, entry);
      if (entry.kind === 'dir') await visit(entry.abs, entry.sub);
    }
  };
  await visit(dir, '');
  return hash.digest('hex');
}

interface Source {
  abs: string;
  /** Path relative to the context or stage root; '' for the root itself. */
  rel: string;
  wildcard: boolean;
}

/** Go's filepath.Match for one path segment. */
function globSegment(segment: string): RegExp {
  let re = '^';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[' || ch === ']') re += ch;
    else if (ch === '\\' && i + 1 < segment.length) re += escapeRegex(segment[++i]);
    else re += escapeRegex(ch);
  }
  return new RegExp(`${re}$`);
}

/** A COPY source spec resolved against its root (the context, or a stage's `/`), wildcards expanded. */
async function resolveSources(
  base: string,
  spec: string,
  rules: IgnoreRule[] | null,
  where: string,
): Promise<Source[]> {
  const rel = cleanPath(spec.replace(/^\/+/, '') || '.');
  if (rel === '..' || rel.startsWith('../')) throw new Error(`${where}: source ${spec} is outside the build context`);
  const excluded = (r: string) => rules !== null && r !== '.' && isExcluded(rules, r);
  const notFound = () =>
    new Error(
      `${where}: source "${spec}" not found${rules ? ' (missing, or excluded by the .dockerignore rules)' : ''}`,
    );
  if (!/[*?[]/.test(rel)) {
    if (!existsSync(join(base, rel)) || excluded(rel)) throw notFound();
    return [{ abs: join(base, rel), rel: rel === '.' ? '' : rel, wildcard: false }];
  }
  let candidates = [''];
  for (const segment of rel.split('/')) {
    const pattern = /[*?[]/.test(segment) ? globSegment(segment) : null;
    const next: string[] = [];
    for (const dir of candidates) {
      const dirAbs = join(base, dir);
      if (!existsSync(dirAbs) || !statSync(dirAbs).isDirectory()) continue;
      if (pattern === null) {
        if (existsSync(join(dirAbs, segment))) next.push(posix.join(dir, segment));
      } else
        for (const name of (await readdir(dirAbs)).sort()) if (pattern.test(name)) next.push(posix.join(dir, name));
    }
    candidates = next;
  }
  const kept = candidates.filter((c) => !excluded(c));
  if (kept.length === 0) throw notFound();
  return kept.map((c) => ({ abs: join(base, c), rel: c, wildcard: true }));
}

/** The host folder that stands for an absolute path inside a stage. */
const hostPath = (root: string, imagePath: string): string => join(root, posix.resolve('/', imagePath));

async function writeEntry(entry: Entry, target: string): Promise<void> {
  if (entry.kind === 'dir') {
    await mkdir(target, { recursive: true });
    return;
  }
  await mkdir(dirname(target), { recursive: true });
  // Unlink first: the target may be a hard link into the build cache, which must never be written through.
  await rm(target, { force: true, recursive: true });
  if (entry.kind === 'symlink') await symlink(await readlink(entry.abs), target);
  else {
    await copyFile(entry.abs, target);
    await chmod(target, entry.mode & 0o7777);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Building stages

interface ImageConfig {
  env: Map<string, string>;
  workdir: string;
  uid: number;
  gid: number;
  exposed: string[];
  healthcheck: { argv: string[]; timeoutMs: number } | null;
  stopSignal: string;
  cmd: string[];
}

/** The node image's own config: its PATH, `/`, root, ENTRYPOINT docker-entrypoint.sh (modeled in runImage), CMD node. */
const nodeImageConfig = (): ImageConfig => ({
  env: new Map([['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']]),
  workdir: '/',
  uid: 0,
  gid: 0,
  exposed: [],
  healthcheck: null,
  stopSignal: 'SIGTERM',
  cmd: ['node'],
});

const cloneConfig = (c: ImageConfig): ImageConfig => ({ ...c, env: new Map(c.env), exposed: [...c.exposed] });

interface BuiltStage {
  name: string | null;
  root: string;
  config: ImageConfig;
  key: string;
}

class BuildCache {
  readonly stages = new Map<string, BuiltStage>();
  readonly npmCi = new Map<string, string>();
  readonly npmCache = process.env.npm_config_cache || join(homedir(), '.npm');
  constructor(readonly dir: string) {}
}

interface BuildResult {
  stages: Map<number, BuiltStage>;
  final: BuiltStage;
  /** What happened, step by step, with timings. */
  log: string[];
}

/** `command` on the PATH of `env`, as execvp would find it. */
function which(command: string, env: NodeJS.ProcessEnv): string {
  if (command.includes('/')) return command;
  for (const dir of (env.PATH ?? '').split(':')) {
    const candidate = join(dir, command);
    if (existsSync(candidate) && (statSync(candidate).mode & 0o111) !== 0) return candidate;
  }
  throw new Error(`${command} is not on the PATH`);
}

/**
 * `env -i NAME=value... command args`: the program gets exactly `env`, nothing inherited. Besides the host's
 * variables this keeps out the NODE_OPTIONS that tap's process-info hook adds to every child process.
 */
function exactEnv(command: string, args: string[], env: NodeJS.ProcessEnv): [string, string[]] {
  const pairs = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return ['env', ['-i', ...pairs, which(command, env), ...args]];
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number; timeoutMs?: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const [program, programArgs] = exactEnv(command, args, options.env);
    const child = spawn(program, programArgs, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, output });
    });
  });
}

function hardlinkCopy(from: string, to: string): void {
  const result = spawnSync('cp', ['-al', from, to], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cp -al ${from} ${to} failed: ${result.stderr}`);
}

/** Environment of a RUN step: the stage's ENV, the host's node/npm first on PATH, and npm's settings (see top). */
function runEnv(config: ImageConfig, root: string, cache: BuildCache): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(config.env);
  env.PATH = `${dirname(process.execPath)}:${env.PATH}`;
  env.HOME = hostPath(root, env.HOME ?? '/root');
  Object.assign(env, {
    npm_config_cache: cache.npmCache,
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_logs_dir: join(cache.dir, 'npm-logs'),
  });
  // Docker passes these through to RUN when given as build args (predefined ARGs).
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'])
    if (process.env[name]) env[name] = process.env[name];
  return env;
}

async function buildImage(dockerfilePath: string, contextDir: string, cache: BuildCache): Promise<BuildResult> {
  const plans = planDockerfile(await readFile(dockerfilePath, 'utf8'));
  // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile first, then the context's .dockerignore.
  const ignoreFile = [`${dockerfilePath}.dockerignore`, join(contextDir, '.dockerignore')].find((f) => existsSync(f));
  const rules = ignoreFile ? parseIgnoreFile(await readFile(ignoreFile, 'utf8')) : [];
  const log: string[] = [];

  // Like BuildKit, build only the stages the final one needs.
  const needed = new Set<number>();
  const need = (index: number) => {
    if (needed.has(index)) return;
    needed.add(index);
    const plan = plans[index];
    if ('stage' in plan.base) need(plan.base.stage);
    for (const step of plan.steps) if (step.kind === 'copy' && step.from !== null) need(step.from);
  };
  need(plans.length - 1);

  const built = new Map<number, BuiltStage>();
  for (const plan of plans) {
    if (!needed.has(plan.index)) continue;
    const label = plan.name ?? `stage ${plan.index}`;
    const parent = 'stage' in plan.base ? built.get(plan.base.stage)! : null;

    // The stage's cache key: its base, then each instruction with the content it copies.
    let key = sha256('base', parent ? parent.key : (plan.base as { image: string }).image);
    for (const step of plan.steps) {
      let inputs = '';
      if (step.kind === 'copy') {
        const hash = createHash('sha256');
        const fromStage = step.from === null ? null : built.get(step.from)!;
        if (fromStage) hash.update(fromStage.key);
        else
          for (const spec of step.sources)
            for (const source of await resolveSources(contextDir, spec, rules, `Dockerfile line ${step.line}`))
              for await (const entry of selectEntries(source.abs, source.rel, rules)) await hashEntry(hash, entry);
        inputs = hash.digest('hex');
      }
      key = sha256(key, step.text, inputs);
    }
    const cached = cache.stages.get(key);
    if (cached) {
      log.push(`${label}: reused (same instructions and inputs as a stage built earlier)`);
      built.set(plan.index, cached);
      continue;
    }

    const root = await mkdtemp(join(cache.dir, 'stage-'));
    await chmod(root, 0o755);
    const config = parent ? cloneConfig(parent.config) : nodeImageConfig();
    if (parent) hardlinkCopy(`${parent.root}/.`, root);
    for (const step of plan.steps) {
      const started = Date.now();
      const where = `Dockerfile line ${step.line} (${step.text})`;
      switch (step.kind) {
        case 'workdir':
          config.workdir = posix.resolve(config.workdir, step.path);
          await mkdir(hostPath(root, config.workdir), { recursive: true });
          break;
        case 'copy': {
          const fromStage = step.from === null ? null : built.get(step.from)!;
          const base = fromStage ? fromStage.root : contextDir;
          const sourceRules = fromStage ? null : rules;
          const sources: Source[] = [];
          for (const spec of step.sources) sources.push(...(await resolveSources(base, spec, sourceRules, where)));
          const destImage = posix.resolve(config.workdir, step.dest);
          const destIsDir = step.dest.endsWith('/') || step.dest === '.' || step.dest.endsWith('/.');
          if ((sources.length > 1 || sources.some((s) => s.wildcard)) && !destIsDir)
            throw new Error(`${where}: with more than one source the destination must be a directory ending in /`);
          for (const source of sources) {
            const isDir = (await lstat(source.abs)).isDirectory();
            const dest = hostPath(root, destImage);
            const intoDir = isDir || destIsDir || (existsSync(dest) && statSync(dest).isDirectory());
            const fileTarget = intoDir ? join(dest, posix.basename(source.rel || '.')) : dest;
            if (isDir) await mkdir(dest, { recursive: true });
            for await (const entry of selectEntries(source.abs, source.rel, sourceRules))
              await writeEntry(entry, isDir ? join(dest, entry.sub) : fileTarget);
          }
          break;
        }
        case 'run':
          if (config.uid !== 0)
            throw new UnsupportedInstruction(`${where}: RUN as a non-root USER is not modeled; run it before USER`);
          for (const argv of step.commands) {
            const cwd = hostPath(root, config.workdir);
            const env = runEnv(config, root, cache);
            await mkdir(env.HOME!, { recursive: true });
            const kind = classifyRunCommand(argv);
            if (kind === 'npm-cache-clean') continue; // only empties npm's cache, which lives outside the file set here
            if (kind === 'npx' && !existsSync(join(cwd, 'node_modules/.bin', argv[1])))
              throw new Error(`${where}: npx ${argv[1]} is not installed in ${config.workdir}/node_modules`);
            let ciKey: string | null = null;
            let before = '';
            if (kind === 'npm-ci') {
              before = await treeDigest(root);
              ciKey = sha256(argv.join(' '), JSON.stringify([...config.env]), config.workdir, before);
              const reuse = cache.npmCi.get(ciKey);
              if (reuse) {
                await rm(join(cwd, 'node_modules'), { recursive: true, force: true });
                hardlinkCopy(reuse, join(cwd, 'node_modules'));
                log.push(`${label}: ${argv.join(' ')}: reused the node_modules of an identical npm ci`);
                continue;
              }
            }
            const result = await run(argv[0], argv.slice(1), { cwd, env });
            if (result.code !== 0)
              throw new Error(
                `${where}: \`${argv.join(' ')}\` failed (exit ${result.code}):\n${result.output.slice(-4000)}`,
              );
            // npm ci deletes node_modules before installing, so hard links to these files are never written through.
            if (ciKey && existsSync(join(cwd, 'node_modules')) && (await treeDigest(root)) === before) {
              const keep = join(cache.dir, `npm-ci-${ciKey.slice(0, 16)}`);
              hardlinkCopy(join(cwd, 'node_modules'), keep);
              cache.npmCi.set(ciKey, keep);
            }
          }
          break;
        case 'env':
          for (const [name, value] of step.pairs) config.env.set(name, value);
          break;
        case 'user':
          config.uid = step.uid;
          config.gid = step.gid;
          break;
        case 'expose':
          config.exposed.push(...step.ports);
          break;
        case 'healthcheck':
          config.healthcheck = step.argv ? { argv: step.argv, timeoutMs: step.timeoutMs } : null;
          break;
        case 'stopsignal':
          config.stopSignal = step.signal;
          break;
        case 'cmd':
          config.cmd = step.argv;
          break;
        case 'label':
          break;
      }
      if (step.kind === 'run' || step.kind === 'copy')
        log.push(`${label}: ${step.text} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    const stage: BuiltStage = { name: plan.name, root, config, key };
    cache.stages.set(key, stage);
    built.set(plan.index, stage);
  }
  return { stages: built, final: built.get(plans.length - 1)!, log };
}

// ---------------------------------------------------------------------------------------------------------------
// Checking and running the final stage

/** The process the container starts: ENTRYPOINT docker-entrypoint.sh + CMD, as that script resolves it. */
function containerArgv(stage: BuiltStage): string[] {
  const { cmd, workdir } = stage.config;
  if (cmd.length === 0) throw new Error('the image has an empty CMD: the container would exit at once');
  // docker-entrypoint.sh: "node" if the first word starts with "-", or is not a command (e.g. a non-executable
  // script), then `exec "$@"`: the shell is replaced, so the program is PID 1.
  if (cmd[0] === 'node') return cmd;
  if (cmd[0].startsWith('-')) return ['node', ...cmd];
  const file = hostPath(stage.root, posix.resolve(workdir, cmd[0]));
  if (existsSync(file) && statSync(file).isFile() && (statSync(file).mode & 0o111) === 0) return ['node', ...cmd];
  throw new UnsupportedInstruction(`CMD ${JSON.stringify(cmd)}: only node is modeled as the container's program`);
}

async function* appFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) yield* appFiles(abs);
    else if (/\.(m?js|cjs)$/.test(entry.name)) yield abs;
  }
}

/** What is wrong with the final stage before it runs: its config, its dependencies, the files its code loads. */
async function checkImage(stage: BuiltStage, contextDir: string): Promise<void> {
  const { config, root } = stage;
  const problems: string[] = [];
  const port = config.env.get('PORT') ?? '3000';
  if (config.uid === 0) problems.push('the image runs as root (no USER, or USER root/0)');
  if (config.env.get('HOST') !== '0.0.0.0')
    problems.push('ENV HOST is not 0.0.0.0: the service would not be reachable');
  if (!config.exposed.includes(port)) problems.push(`EXPOSE does not list PORT ${port}`);
  if (!config.healthcheck?.argv.join(' ').includes('/healthz')) problems.push('no HEALTHCHECK against /healthz');
  if (config.stopSignal !== 'SIGTERM')
    problems.push(`STOPSIGNAL ${config.stopSignal}: the graceful shutdown is on SIGTERM`);
  const app = hostPath(root, config.workdir);
  // Production dependencies only: nothing the lockfile marks dev-only may be installed.
  const lock = JSON.parse(await readFile(join(contextDir, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const devInstalled = Object.entries(lock.packages)
    .filter(([path, meta]) => path !== '' && meta.dev === true && existsSync(join(app, path)))
    .map(([path]) => path);
  if (devInstalled.length > 0)
    problems.push(`dev dependencies in the image: ${devInstalled.slice(0, 5).join(', ')} (${devInstalled.length})`);
  // Every file the code loads relative to itself (new URL('../x', import.meta.url)), e.g. the WebAssembly kernels,
  // which the service would otherwise silently replace by its slower JavaScript fallback.
  if (existsSync(app))
    for await (const file of appFiles(app)) {
      const code = await readFile(file, 'utf8');
      for (const m of code.matchAll(/new URL\(\s*(['"`])(\.\.?\/[^'"`$]+)\1\s*,\s*import\.meta\.url\s*\)/g))
        if (!existsSync(resolve(dirname(file), m[2])))
          problems.push(`${posix.join(config.workdir, relative(app, file))} loads ${m[2]}, which is not in the image`);
    }
  if (problems.length > 0) throw new Error(`the image is wrong:\n- ${problems.join('\n- ')}`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

const IS_ROOT = process.getuid?.() === 0;
/** Whether node can be started as PID 1 of a new PID namespace, as in a container (needs root and unshare). */
const PID_NAMESPACE =
  IS_ROOT && spawnSync('unshare', ['--pid', '--fork', '--kill-child', 'true'], { stdio: 'ignore' }).status === 0;

/** Folders a non-root uid can walk into: where the test can drop to the image's USER. */
function traversableByOthers(path: string): boolean {
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) return false;
    if (dirname(p) === p) return true;
  }
}

/** The host pid of the unshare child (node, PID 1 inside), and its pid as seen in its own namespace. */
async function namespacedChild(parentPid: number): Promise<{ hostPid: number; nsPid: number }> {
  for (let i = 0; i < 100; i++) {
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
      if (new RegExp(`^PPid:\\s+${parentPid}$`, 'm').test(status)) {
        const nsPids = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? [];
        return { hostPid: Number(name), nsPid: Number(nsPids.at(-1)) };
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the namespaced node process did not appear');
}

interface RunReport {
  pid1: boolean;
  uid: number;
  healthcheckExit: number | null;
  small: unknown;
  kept: number;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  shutdownMs: number;
  /** The service's stdout and stderr (the tail). */
  output: string;
  notes: string[];
}

async function runImage(stage: BuiltStage): Promise<RunReport> {
  const { config, root } = stage;
  const notes: string[] = [];
  const argv = containerArgv(stage);
  const cwd = hostPath(root, config.workdir);
  const port = await freePort();
  // The image's ENV, plus HOME as Docker derives it; HOST/PORT are overridden for this machine only: the image's
  // 0.0.0.0 would put the service on every interface of the host (only 127.0.0.1 may receive traffic here), and a
  // free port avoids clashing with other processes. checkImage() already checked HOST=0.0.0.0 and EXPOSE = PORT.
  const env: NodeJS.ProcessEnv = Object.fromEntries(config.env);
  env.PATH = `${dirname(process.execPath)}:${env.PATH}`;
  env.HOME ??= config.uid === 0 ? '/root' : '/home/node';
  env.HOST = '127.0.0.1';
  env.PORT = String(port);
  const dropPrivileges = IS_ROOT && traversableByOthers(cwd);
  if (!dropPrivileges) notes.push(`not root or temp folder not traversable: ran as uid ${process.getuid?.()}`);
  if (!PID_NAMESPACE) notes.push('no PID namespace available (needs root and unshare): node did not run as PID 1');
  const nodeArgs = argv
    .slice(1)
    .map((a) => (a.startsWith('/') && existsSync(hostPath(root, a)) ? hostPath(root, a) : a));
  // env -i execs node in place, so node (not env) is the process, and PID 1 when unshare made a PID namespace.
  const [program, programArgs] = exactEnv(process.execPath, nodeArgs, env);
  const child: ChildProcess = PID_NAMESPACE
    ? spawn(
        'unshare',
        [
          '--pid',
          '--fork',
          '--kill-child',
          ...(dropPrivileges ? [`--setgid=${config.gid}`, `--setuid=${config.uid}`] : []),
          '--',
          program,
          ...programArgs,
        ],
        { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    : spawn(program, programArgs, {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(dropPrivileges ? { uid: config.uid, gid: config.gid } : {}),
      });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  });
  child.stderr!.on('data', (d: Buffer) => {
    output = (output + d.toString()).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (done) {
        const { code, signal } = await exited;
        throw new Error(
          `${argv.join(' ')} exited with code ${code}${signal ? ` (${signal})` : ''} before /healthz answered:\n${output.slice(-4000)}`,
        );
      }
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`/healthz did not answer within 30 s:\n${output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const target = PID_NAMESPACE ? await namespacedChild(child.pid!) : { hostPid: child.pid!, nsPid: child.pid! };
    const uid = Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${target.hostPid}/status`, 'utf8'))?.[1]);

    // The image's HEALTHCHECK command, run the way Docker runs it: same ENV, same user, in the working directory.
    const health = config.healthcheck!;
    if (health.argv[0] !== 'node')
      throw new UnsupportedInstruction(`HEALTHCHECK ${health.argv[0]}: only node is modeled as a program`);
    const healthcheck = await run(process.execPath, health.argv.slice(1), {
      cwd,
      env,
      timeoutMs: health.timeoutMs,
      ...(dropPrivileges ? { uid: config.uid, gid: config.gid } : {}),
    });
    if (healthcheck.code !== 0) throw new Error(`the HEALTHCHECK command failed (exit ${healthcheck.code})`);

    const ready = await fetch(`${base}/readyz`);
    if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`);

    const small = await fetch(`${base}/v1/dropout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        input: [
          [1, 2],
          [3, 4],
        ],
        p: 0.5,
        seed: 1,
      }),
    });
    const smallBody = (await small.json()) as Record<string, unknown>;
    if (small.status !== 200)
      throw new Error(`POST /v1/dropout answered ${small.status}: ${JSON.stringify(smallBody)}`);

    // Past INLINE_MAX_ELEMENTS: computed and serialised by the worker pool, which loads dist/pool/worker.js and the
    // WebAssembly kernel in its threads.
    const n = 20_000;
    const input = Array.from({ length: n }, (_, i) => (i % 17) - 8);
    const large = await fetch(`${base}/v1/dropout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input, p: 0.25, seed: '12345678901234567890' }),
    });
    const largeBody = (await large.json()) as { output: number[]; kept: number };
    if (large.status !== 200) throw new Error(`POST /v1/dropout (large) answered ${large.status}`);
    const expected = referenceDropout(Float32Array.from(input), 0.25, 12345678901234567890n);
    const mismatch = largeBody.output.findIndex((v, i) => Math.fround(v) !== expected.out[i]);
    if (largeBody.output.length !== n || mismatch !== -1 || largeBody.kept !== expected.kept)
      throw new Error(`the large dropout reply differs from the reference (first difference at ${mismatch})`);

    const stopped = Date.now();
    process.kill(target.hostPid, 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_BOUND_MS + 5000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    return {
      pid1: target.nsPid === 1,
      uid,
      healthcheckExit: healthcheck.code,
      small: smallBody,
      kept: largeBody.kept,
      exitCode: code,
      exitSignal: signal,
      shutdownMs: Date.now() - stopped,
      output,
      notes,
    };
  } finally {
    if (!done) child.kill('SIGKILL');
    await exited;
  }
}

/** Build, check and run the image a Dockerfile describes; throws what is wrong with it. */
async function proveImage(dockerfilePath: string, cache: BuildCache) {
  const build = await buildImage(dockerfilePath, REPO, cache);
  await checkImage(build.final, REPO);
  const report = await runImage(build.final);
  if (report.exitCode !== 0 || report.shutdownMs > SHUTDOWN_BOUND_MS)
    throw new Error(
      `after SIGTERM the service exited with ${report.exitCode ?? report.exitSignal} in ${report.shutdownMs} ms` +
        ` (expected 0 within ${SHUTDOWN_BOUND_MS} ms):\n${report.output.slice(-4000)}`,
    );
  return { build, report };
}

// ---------------------------------------------------------------------------------------------------------------

t.setTimeout(300_000);
const work = await mkdtemp(join(tmpdir(), 'dropout-image-'));
await chmod(work, 0o755); // the image's USER (uid 1000) must reach the stage folders
t.teardown(() => rm(work, { recursive: true, force: true }));
const cache = new BuildCache(work);
const DOCKERFILE = join(REPO, 'Dockerfile');

t.test('node_modules outside the reproduction cannot leak in through Node resolution', async (t) => {
  // Node looks for packages in every ancestor folder; the image has none above /app, so neither may the host.
  for (let dir = dirname(work); ; dir = dirname(dir)) {
    t.notOk(existsSync(join(dir, 'node_modules')), `${join(dir, 'node_modules')} does not exist`);
    if (dirname(dir) === dir) break;
  }
});

t.test('.dockerignore rules follow Docker semantics', async (t) => {
  const rules = parseIgnoreFile('# comment\n*\n!src\n/dist/\n**/*.log\n!keep.log\n');
  t.ok(isExcluded(rules, 'README.md'), '* excludes top-level files');
  t.ok(isExcluded(rules, 'node_modules/x/index.js'), 'an excluded directory excludes its contents');
  t.notOk(isExcluded(rules, 'src/server.ts'), '!src re-includes the folder and its contents');
  t.ok(isExcluded(rules, 'src/a/b.log'), '**/ matches at any depth, and the last matching rule wins');
  t.notOk(isExcluded(rules, 'keep.log'), 'an exception after the rule re-includes');
  t.ok(isExcluded(parseIgnoreFile('*.wasm'), 'x.wasm'), '* matches at the top level');
  t.notOk(isExcluded(parseIgnoreFile('*.wasm'), 'src/x.wasm'), '* does not cross /');
});

t.test('the Dockerfile builds an image that serves, then stops cleanly on SIGTERM', async (t) => {
  const started = Date.now();
  const { build, report } = await proveImage(DOCKERFILE, cache);
  for (const line of build.log) t.comment(line);
  for (const note of report.notes) t.comment(`note: ${note}`);
  t.equal(build.final.config.uid, 1000, 'runs as the node user (uid 1000)');
  if (IS_ROOT) t.equal(report.uid, 1000, 'the process really ran as uid 1000');
  if (PID_NAMESPACE) t.ok(report.pid1, 'node ran as PID 1 of its PID namespace, as in the container');
  t.equal(report.healthcheckExit, 0, 'the HEALTHCHECK command passes');
  const expected = referenceDropout(Float32Array.from([1, 2, 3, 4]), 0.5, 1n);
  t.match(
    report.small,
    { shape: [2, 2], dtype: 'float32', p: 0.5, seed: '1', offset: 0, kept: expected.kept },
    'POST /v1/dropout answers 200 with the expected shape',
  );
  t.same((report.small as { output: number[][] }).output.flat(), [...expected.out], 'the small dropout is exact');
  t.equal(report.exitCode, 0, 'SIGTERM: exit code 0');
  t.ok(report.shutdownMs <= SHUTDOWN_BOUND_MS, `SIGTERM: stopped in ${report.shutdownMs} ms`);
  t.comment(`image proven in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** A broken variant of the Dockerfile (and optionally of .dockerignore), written next to each other in a temp dir. */
interface Mutant {
  name: string;
  dockerfile?: [string, string];
  dockerignoreAppend?: string;
  fails: RegExp;
  /** Fails because the reproduction does not model a construct (UnsupportedInstruction), not because it broke. */
  unsupported?: boolean;
}

const MUTANTS: Mutant[] = [
  {
    name: 'the build stage does not copy src',
    dockerfile: ['COPY src ./src\n', ''],
    fails: /line \d+ \(RUN npm run build\)[\s\S]*failed[\s\S]*TS18003: No inputs were found/,
  },
  {
    name: 'the .dockerignore drops the WebAssembly modules',
    dockerignoreAppend: '**/*.wasm\n',
    fails: /RUN npm run build[\s\S]*failed[\s\S]*dropout\.wasm/,
  },
  {
    name: 'tsc instead of npm run build: dist has no .wasm',
    dockerfile: ['RUN npm run build', 'RUN npx tsc -p tsconfig.build.json'],
    fails: /loads \.\/wasm\/dropout\.wasm, which is not in the image/,
  },
  {
    name: 'the runtime copies only dist/server.js',
    dockerfile: ['COPY --from=build /app/dist ./dist', 'COPY --from=build /app/dist/server.js ./dist/'],
    fails: /before \/healthz answered[\s\S]*ERR_MODULE_NOT_FOUND/,
  },
  {
    name: 'the runtime copies the local dist, which .dockerignore excludes',
    dockerfile: ['COPY --from=build /app/dist ./dist', 'COPY dist ./dist'],
    fails: /source "dist" not found \(missing, or excluded by the \.dockerignore rules\)/,
  },
  {
    name: "the runtime takes the build stage's node_modules (dev dependencies included)",
    dockerfile: [
      'RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force\n',
      'COPY --from=build /app/node_modules ./node_modules\n',
    ],
    fails: /dev dependencies in the image: .*node_modules\//,
  },
  {
    name: 'the runtime installs no dependencies',
    dockerfile: ['RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force\n', ''],
    fails: /before \/healthz answered[\s\S]*ERR_MODULE_NOT_FOUND/,
  },
  {
    name: 'CMD starts the wrong file',
    dockerfile: ['CMD ["node", "dist/server.js"]', 'CMD ["node", "dist/app.js"]'],
    fails: /node dist\/app\.js exited with code 0 before \/healthz answered/,
  },
  {
    name: 'no USER: runs as root',
    dockerfile: ['USER 1000:1000\n', ''],
    fails: /runs as root/,
  },
  {
    name: 'an instruction the reproduction does not model',
    dockerfile: ['RUN npm run build', 'RUN apt-get update && npm run build'],
    fails: /the command "apt-get update"[\s\S]*does not model it/,
    unsupported: true,
  },
  {
    name: 'the shell form of CMD',
    dockerfile: ['CMD ["node", "dist/server.js"]', 'CMD node dist/server.js'],
    fails: /CMD node dist\/server\.js: the shell form[\s\S]*does not model it/,
    unsupported: true,
  },
];

t.test('a broken Dockerfile fails the proof', async (t) => {
  const original = await readFile(DOCKERFILE, 'utf8');
  const ignore = await readFile(join(REPO, '.dockerignore'), 'utf8');
  for (const [i, mutant] of MUTANTS.entries()) {
    await t.test(mutant.name, async (t) => {
      let text = original;
      if (mutant.dockerfile) {
        const [from, to] = mutant.dockerfile;
        // A mutation that no longer applies must not pass silently as "still fails".
        t.equal(original.split(from).length, 2, `the Dockerfile contains ${JSON.stringify(from)} once`);
        text = original.replace(from, to);
      }
      const dir = join(work, `mutant-${i}`);
      await mkdir(dir);
      await writeFile(join(dir, 'Dockerfile'), text);
      if (mutant.dockerignoreAppend)
        await writeFile(join(dir, 'Dockerfile.dockerignore'), `${ignore}\n${mutant.dockerignoreAppend}`);
      const started = Date.now();
      const error = await proveImage(join(dir, 'Dockerfile'), cache).then(
        () => null,
        (e: Error) => e,
      );
      t.ok(error, 'the proof fails');
      t.match(
        error,
        { name: mutant.unsupported ? 'UnsupportedInstruction' : 'Error', message: mutant.fails },
        'for the expected reason',
      );
      const message = error?.message.replace(/\s+/g, ' ') ?? '';
      t.comment(
        `${error?.name}: ${message.length > 400 ? `${message.slice(0, 150)} … ${message.slice(-250)}` : message}`,
      );
      t.comment(`failed as expected in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
  }
});
