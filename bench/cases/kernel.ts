/**
 * [kernel] rows: each kernel at 16M float32, one thread, against PyTorch's F.dropout with one thread, and memcpy for
 * scale. Returns the whole sweep (1K..16M) for the plot.
 */
import { M } from '../lib/bodies.js';
import { fmt } from '../lib/format.js';
import { checkKernels, kernelSweep, loadKernels, type SweepPoint, torchSweep } from '../lib/kernel-sweep.js';
import { SETTINGS } from '../lib/options.js';
import { foreignCpuMeter } from '../lib/proc.js';
import { addRow, atLeast, errorRow, log, note } from '../lib/report.js';

const section = 'kernel';

export async function kernelRows(torchAvailable: boolean): Promise<SweepPoint[]> {
  const { kernels, notes } = loadKernels();
  for (const text of notes) note(text);
  log(`kernel sweep, float32: ${kernels.map((k) => k.name).join(', ')}, memcpy`);
  const sweepForeign = foreignCpuMeter();
  const points = await kernelSweep({ dtypes: ['float32'], reps: SETTINGS.reps, minMs: SETTINGS.minMs, kernels });
  const foreignCores = sweepForeign();
  for (const text of checkKernels(kernels)) note(text);
  let torchPoints: SweepPoint[] = [];
  let torchLabel = 'torch skipped';
  if (torchAvailable) {
    log('torch F.dropout sweep, float32, 1 thread (bench/torch_dropout.py)');
    const torch = await torchSweep({ dtypes: ['float32'], reps: SETTINGS.reps, minMs: SETTINGS.minMs });
    if ('error' in torch) note(`torch: ${torch.error}`);
    else {
      torchPoints = torch.points;
      torchLabel = `torch ${torch.version}`;
    }
  }
  const at16M = (impl: string, list = points) => list.find((p) => p.impl === impl && p.n === 16 * M)?.mps ?? null;
  const torch16M = at16M('torch F.dropout', torchPoints);
  // The 10x target is on the kernel the service runs: WASM where the runtime has SIMD, else JS. The plain-JS row
  // beside it is a reference.
  const serviceKernel = kernels.some((k) => k.name === 'WASM kernel') ? 'WASM kernel' : 'JS kernel';
  for (const kernel of kernels) {
    const mps = at16M(kernel.name);
    addRow({
      section,
      case: `${kernel.name} 16M float32, 1 thread vs torch F.dropout`,
      figure: mps,
      figureText: `${fmt(mps)} M el/s`,
      baseline: torch16M,
      baselineText: torch16M === null ? 'skipped' : `${fmt(torch16M)} M el/s (${torchLabel}, 1 thread)`,
      target: kernel.name === serviceKernel ? atLeast(10) : null,
      foreignCores,
    });
  }
  const memcpy = at16M('memcpy');
  const best = Math.max(...kernels.map((k) => at16M(k.name) ?? 0));
  addRow({
    section,
    case: 'memcpy 16M float32 (Float32Array#set); ratio = fastest kernel / memcpy',
    figure: memcpy,
    figureText: `${fmt(memcpy)} M el/s`,
    baseline: null,
    baselineText: '',
    ratio: memcpy ? best / memcpy : null,
    target: null,
    foreignCores,
  });
  if (serviceKernel !== 'WASM kernel') {
    errorRow(section, 'WASM kernel 16M float32, 1 thread vs torch F.dropout', 'skipped (no WASM kernel)');
  }
  return [...points, ...torchPoints];
}
