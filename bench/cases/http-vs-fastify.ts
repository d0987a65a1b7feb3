/**
 * [HTTP vs bare Fastify] rows: the service against what the framework alone costs for the same exchange, and (full
 * runs only, for reference) the framework's and Node's own ceilings for the JSON 16 request.
 */
import { K, M } from '../lib/bodies.js';
import { type Comparison, compare } from '../lib/compare.js';
import { QUICK } from '../lib/options.js';
import { atLeast, errorRow } from '../lib/report.js';
import { binaryCase, helloCase, jsonCase, type ServiceCases } from '../lib/requests.js';

const section = 'HTTP vs bare Fastify';
const nodeHttpRow = 'JSON 16: bare node:http JSON echo vs Fastify GET /hello (reference)';
/**
 * The binary rows are judged on the median of their per-round ratios: the echo's req/s falls into one of two modes
 * from round to round on the 2-core machine, so the median of each side can come from rounds in different modes,
 * while each round's ratio sets the service against the echo in the same conditions.
 */
const BINARY_TARGET = atLeast(0.9);

export async function fastifyRows(svc: ServiceCases, fastifyUrl: string, nodeHttpUrl: string | null): Promise<void> {
  const hello = helloCase(fastifyUrl);
  const echoJson = `${fastifyUrl}/echo-json`;
  const echo = `${fastifyUrl}/echo`;
  const rows: Comparison[] = [
    { name: 'JSON 16: service vs GET /hello', subject: svc.json16, reference: hello, target: atLeast(0.6) },
    {
      // The framework's own ceiling for the same request: parsing and answering a 16-value JSON body.
      name: 'JSON 16: bare Fastify JSON echo vs GET /hello (reference)',
      subject: jsonCase('echo JSON 16', echoJson, 16, 'input', true),
      reference: hello,
      target: null,
    },
    // Below any framework: Node's HTTP server alone reading, parsing and answering the same body.
    ...(nodeHttpUrl === null
      ? []
      : [
          {
            name: nodeHttpRow,
            subject: jsonCase('node:http echo JSON 16', `${nodeHttpUrl}/echo-json`, 16, 'input', true),
            reference: hello,
            target: null,
          },
        ]),
    {
      name: 'binary 64K: service vs binary echo',
      subject: svc.bin64K,
      reference: binaryCase('echo binary 64K', echo, 64 * K),
      target: BINARY_TARGET,
      judge: 'per-round-median',
    },
    {
      name: 'binary 1M: service vs binary echo',
      subject: svc.bin1M,
      reference: binaryCase('echo binary 1M', echo, M),
      target: BINARY_TARGET,
      judge: 'per-round-median',
    },
    {
      name: 'JSON 64K: service vs JSON echo',
      subject: svc.json64K,
      reference: jsonCase('echo JSON 64K', echoJson, 64 * K, 'input', false),
      target: atLeast(1.5),
    },
  ];
  // The reference rows are left out of --quick, which must stay under two minutes.
  for (const row of rows) if (!QUICK || row.target !== null) await compare(section, row);
  if (!QUICK && nodeHttpUrl === null) errorRow(section, nodeHttpRow, 'skipped (no node:http baseline)');
}
