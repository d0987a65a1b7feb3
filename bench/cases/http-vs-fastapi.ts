/** [HTTP vs FastAPI + PyTorch] rows: the service against bench/fastapi_app.py doing the same dropout with torch. */
import { K, M } from '../lib/bodies.js';
import { type Comparison, compare } from '../lib/compare.js';
import { atLeast, errorRow } from '../lib/report.js';
import { binaryCase, jsonCase, type ServiceCases } from '../lib/requests.js';

const section = 'HTTP vs FastAPI + PyTorch';

export async function fastapiRows(svc: ServiceCases, fastapiUrl: string | null): Promise<void> {
  const url = `${fastapiUrl}/dropout`;
  const rows: Comparison[] = [
    {
      name: 'JSON 16: service vs FastAPI',
      subject: svc.json16,
      reference: jsonCase('fastapi JSON 16', url, 16, 'output', true),
      target: null,
    },
    {
      name: 'JSON 64K: service vs FastAPI',
      subject: svc.json64K,
      reference: jsonCase('fastapi JSON 64K', url, 64 * K, 'output', true),
      target: null,
    },
    {
      name: 'binary 64K: service vs FastAPI',
      subject: svc.bin64K,
      reference: binaryCase('fastapi binary 64K', `${url}?p=0.5&seed=1`, 64 * K),
      // No target: 5x FastAPI at 64K is above what Fastify's own echo of the same bytes reaches here; the binary
      // target is on that echo (the HTTP vs bare Fastify rows).
      target: null,
    },
    {
      name: 'binary 1M: service vs FastAPI',
      subject: svc.bin1M,
      reference: binaryCase('fastapi binary 1M', `${url}?p=0.5&seed=1`, M),
      target: atLeast(5),
    },
  ];
  for (const row of rows) {
    if (fastapiUrl === null) errorRow(section, row.name, 'skipped (no FastAPI baseline)', row.target);
    else await compare(section, row);
  }
}
