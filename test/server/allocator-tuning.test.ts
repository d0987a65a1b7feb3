/**
 * `npm start` and the container run the service with the same glibc allocator setting (GLIBC_TUNABLES), so what the
 * benchmark measures (it starts the service with the start script's environment) is what ships.
 */
import { readFile } from 'node:fs/promises';
import t from 'tap';

const ROOT = new URL('../..', import.meta.url);

t.test('the start script and the Dockerfile set the same GLIBC_TUNABLES', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as { scripts: { start: string } };
  const start = /^GLIBC_TUNABLES=(\S+) node dist\/server\.js$/.exec(pkg.scripts.start);
  t.ok(start, `npm start is "GLIBC_TUNABLES=… node dist/server.js" (got "${pkg.scripts.start}")`);
  const dockerfile = await readFile(new URL('Dockerfile', ROOT), 'utf8');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const image = /GLIBC_TUNABLES=(\S+)/.exec(runtime);
  t.ok(image, 'the runtime stage sets GLIBC_TUNABLES');
  t.equal(image?.[1], start?.[1]);
  t.match(start?.[1] ?? '', /^glibc\.malloc\.trim_threshold=\d+$/);
});
