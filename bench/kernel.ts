/**
 * Kernel micro-benchmark (`npm run bench:kernel`): M elements/s of each dropout kernel, in process, one thread, over
 * sizes 1K..16M, float32 and float64, median of several repetitions, beside a memcpy of the same size.
 *
 *   tsx bench/kernel.ts [--quick] [--torch] [--dtype float32|float64]
 *
 * `--torch` adds PyTorch F.dropout (one thread) through bench/torch_dropout.py.
 */
import { fmt, textTable } from './lib/format.js';
import {
  checkKernels,
  type Dtype,
  kernelSweep,
  loadKernels,
  type SweepPoint,
  sizeLabel,
  torchSweep,
} from './lib/kernel-sweep.js';

/** Rows of sizes, a column per implementation. */
function sweepTable(points: SweepPoint[], dtype: Dtype): string {
  const rows = points.filter((p) => p.dtype === dtype);
  const impls = [...new Set(rows.map((p) => p.impl))];
  const sizes = [...new Set(rows.map((p) => p.n))].sort((a, b) => a - b);
  const body = sizes.map((n) => [
    sizeLabel(n),
    ...impls.map((impl) => fmt(rows.find((p) => p.impl === impl && p.n === n)?.mps)),
  ]);
  return textTable([`${dtype} (M el/s)`, ...impls], body);
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const dtypeArg = args.indexOf('--dtype');
const dtypes: Dtype[] = dtypeArg >= 0 ? [args[dtypeArg + 1] as Dtype] : ['float32', 'float64'];
const reps = quick ? 3 : 7;
const minMs = quick ? 30 : 100;
const { kernels, notes } = loadKernels();
for (const note of notes) console.log(note);
console.log(
  `kernels: ${kernels.map((k) => k.name).join(', ')}, memcpy; median of ${reps} repetitions of >= ${minMs} ms`,
);
const points = await kernelSweep({
  dtypes,
  reps,
  minMs,
  kernels,
  onProgress: (p) => process.stderr.write(`  ${p.dtype} ${p.impl} ${sizeLabel(p.n)}: ${fmt(p.mps)} M el/s\n`),
});
for (const note of checkKernels(kernels)) console.log(note);
if (args.includes('--torch')) {
  const torch = await torchSweep({ dtypes, reps, minMs });
  if ('error' in torch) console.log(`torch: skipped (${torch.error})`);
  else {
    console.log(`torch ${torch.version}, ${torch.threads} thread`);
    points.push(...torch.points);
  }
}
for (const dtype of dtypes) console.log(`\n${sweepTable(points, dtype)}`);
