// `npm start`'s prestart: builds dist/ only when what it is built from changed, so a restart starts in about a
// second instead of waiting for tsc. What a build reads (src/, the tsconfigs, the package files) is hashed, and the
// hash is kept in dist/ beside what it produced; a different hash, or no dist/, builds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = join('dist', '.build-inputs');
const INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

const hash = createHash('sha256');
for (const path of [...INPUTS, ...files('src')]) hash.update(path).update('\0').update(readFileSync(path));
const digest = hash.digest('hex');

if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === digest) {
  console.log('dist/ is current; not rebuilding');
} else {
  execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });
  writeFileSync(STAMP, digest);
}
