import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LineBatcher } from '../../src/http/logger.js';

function withFile(run: (fd: number, read: () => string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'line-batcher-'));
    const path = join(dir, 'out.log');
    const fd = openSync(path, 'w');
    try {
      await run(fd, () => readFileSync(path, 'utf8'));
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const flushed = (batcher: LineBatcher) => new Promise<void>((resolve) => batcher.flush(resolve));

t.test(
  'lines come out whole and in order, across buffers, with multi-byte text and a line longer than a buffer',
  withFile(async (fd, read) => {
    const batcher = new LineBatcher(fd);
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(`{"n":${i},"text":"${i % 7 === 0 ? 'ünïcødé ✓ 🎲' : 'plain'}"}\n`);
    lines.splice(2500, 0, `{"long":"${'é'.repeat(100_000)}"}\n`);
    for (const line of lines) batcher.write(line);
    await flushed(batcher);
    t.equal(read(), lines.join(''));
  }),
);

t.test(
  'flush reports once everything written so far is out, and an empty batcher at once',
  withFile(async (fd, read) => {
    const batcher = new LineBatcher(fd);
    await flushed(batcher);
    t.equal(read(), '');
    batcher.write('a\n');
    await flushed(batcher);
    t.equal(read(), 'a\n');
    batcher.write('b\n');
    batcher.flushSync();
    t.equal(read(), 'a\nb\n', 'flushSync writes before returning');
  }),
);
