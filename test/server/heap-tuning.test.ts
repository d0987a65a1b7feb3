import { spawnSync } from 'node:child_process';
import t from 'tap';
import { heapFlags } from '../../src/heap-tuning.js';

const ACCOUNTING = '--external-memory-accounted-in-global-limit';

t.test('HEAP_GROWING_PERCENT becomes the growing factor, plus the external-memory accounting where V8 has it', (t) => {
  t.same(heapFlags(0, '14.6.202.34-node.40'), [], '0 leaves every V8 default, on any V8');
  t.same(heapFlags(300, '11.3.244.8-node.33'), ['--heap-growing-percent=300'], 'Node 20');
  t.same(heapFlags(300, '12.4.254.21-node.57'), ['--heap-growing-percent=300'], 'Node 22: no such flag');
  t.same(heapFlags(300, '13.5.0'), ['--heap-growing-percent=300'], 'unchecked V8 versions are left alone');
  t.same(heapFlags(150, '13.6.233.17-node.63'), ['--heap-growing-percent=150', ACCOUNTING], 'Node 24');
  t.same(heapFlags(300, '14.6.202.34-node.40'), ['--heap-growing-percent=300', ACCOUNTING], 'Node 26');
  t.end();
});

t.test('this Node accepts every flag heapFlags gives it (a flag V8 does not know is "bad option", exit 9)', (t) => {
  const flags = heapFlags(300, process.versions.v8);
  t.ok(flags.length >= 1);
  const run = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' });
  t.equal(run.status, 0, `${process.version} (V8 ${process.versions.v8}) with ${flags.join(' ')}: ${run.stderr}`);
  t.end();
});
