/** A hand-written SVG line plot of kernel throughput: M elements/s against size, both axes log-scale. */
import { type SweepPoint, sizeLabel } from './kernel-sweep.js';

const COLORS: Record<string, string> = {
  'JS kernel': '#d62728',
  'WASM kernel': '#1f77b4',
  'torch F.dropout': '#ff7f0e',
  memcpy: '#7f7f7f',
};
const FALLBACK_COLORS = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function throughputSvg(points: SweepPoint[], title: string, subtitle: string): string {
  const width = 820;
  const height = 480;
  const margin = { left: 70, right: 170, top: 56, bottom: 56 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const valid = points.filter((p) => p.mps > 0 && Number.isFinite(p.mps));
  const sizes = [...new Set(valid.map((p) => p.n))].sort((a, b) => a - b);
  const impls = [...new Set(valid.map((p) => p.impl))];
  if (sizes.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"/>`;

  const xMin = Math.log2(sizes[0]);
  const xMax = Math.log2(sizes[sizes.length - 1]);
  const yMin = Math.floor(Math.log10(Math.min(...valid.map((p) => p.mps))));
  const yMax = Math.ceil(Math.log10(Math.max(...valid.map((p) => p.mps))));
  const x = (n: number) => margin.left + ((Math.log2(n) - xMin) / Math.max(1, xMax - xMin)) * plotW;
  const y = (v: number) => margin.top + plotH - ((Math.log10(v) - yMin) / Math.max(1, yMax - yMin)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(subtitle)}</text>`,
  );
  // Grid and axes.
  for (let d = yMin; d <= yMax; d++) {
    const yy = y(10 ** d).toFixed(1);
    out.push(
      `<line x1="${margin.left}" y1="${yy}" x2="${margin.left + plotW}" y2="${yy}" stroke="#ddd"/>`,
      `<text x="${margin.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle">${(10 ** d).toLocaleString('en-US')}</text>`,
    );
    if (d < yMax) {
      for (const m of [2, 5]) {
        const ym = y(m * 10 ** d).toFixed(1);
        out.push(`<line x1="${margin.left}" y1="${ym}" x2="${margin.left + plotW}" y2="${ym}" stroke="#f0f0f0"/>`);
      }
    }
  }
  for (const n of sizes) {
    const xx = x(n).toFixed(1);
    out.push(
      `<line x1="${xx}" y1="${margin.top}" x2="${xx}" y2="${margin.top + plotH}" stroke="#eee"/>`,
      `<text x="${xx}" y="${margin.top + plotH + 18}" text-anchor="middle">${sizeLabel(n)}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">tensor size (elements, log scale)</text>`,
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">M elements/s (log scale)</text>`,
  );
  // One line per implementation, and its legend entry.
  impls.forEach((impl, i) => {
    const color = COLORS[impl] ?? FALLBACK_COLORS[i % FALLBACK_COLORS.length];
    const series = valid.filter((p) => p.impl === impl).sort((a, b) => a.n - b.n);
    const path = series.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.n).toFixed(1)},${y(p.mps).toFixed(1)}`).join(' ');
    const dash = impl === 'memcpy' ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of series) {
      out.push(
        `<circle cx="${x(p.n).toFixed(1)}" cy="${y(p.mps).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(impl)} ${sizeLabel(p.n)}: ${p.mps.toFixed(1)} M el/s</title></circle>`,
      );
    }
    const ly = margin.top + 10 + i * 22;
    const lx = margin.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(impl)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
