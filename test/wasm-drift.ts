/** The drift check shared by every committed WebAssembly module: it is exactly what `npm run build:wasm` compiles. */
import { readFile } from 'node:fs/promises';
import asc from 'assemblyscript/asc';
import type { Test } from 'tap';

const ROOT = new URL('..', import.meta.url);

/**
 * Compiles `source` with its own `asc …` command from build:wasm (one per module, joined by &&) and compares the
 * result with the committed `output`.
 */
export async function checkCommittedWasm(t: Test, source: string, output: string): Promise<void> {
  const pkg = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8'));
  const command = (pkg.scripts['build:wasm'] as string).split(/\s*&&\s*/).find((part) => part.includes(source));
  t.ok(command, `build:wasm compiles ${source}`);
  const [name, ...args] = (command ?? '').split(/\s+/);
  t.equal(name, 'asc');
  const outIndex = args.indexOf('-o') + 1;
  t.ok(outIndex > 0, 'the command names its output with -o');
  const committedPath = args[outIndex];
  t.equal(committedPath, output);
  let compiled: Uint8Array | undefined;
  const { error, stderr } = await asc.main([...args, '--baseDir', ROOT.pathname], {
    writeFile: (file, contents) => {
      if (file.endsWith('.wasm')) compiled = typeof contents === 'string' ? Buffer.from(contents) : contents;
    },
  });
  t.equal(error, null, stderr.toString());
  const committed = await readFile(new URL(committedPath, ROOT));
  t.ok(compiled && Buffer.from(compiled).equals(committed), 'no drift');
}
