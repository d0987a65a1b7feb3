/**
 * [HTTP vs bare Fastify] rows: the service against what the framework alone costs for the same exchange, and (full
 * runs only, for reference) the service, the framework's JSON echo and Node's HTTP server alone against GET /hello,
 * the least a request costs in the framework.
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
  // The same bytes the service gets (input, p, seed), parsed and sent back by Fastify's defaults alone.
  const echoJson16 = jsonCase('echo JSON 16', echoJson, 16, 'input', true);
  const rows: Comparison[] = [
    {
      // The service with its defaults on (request log, metrics and the rest) against the framework doing the least
      // with the same request.
      name: 'JSON 16: service vs Fastify JSON echo',
      subject: svc.json16,
      reference: echoJson16,
      target: atLeast(0.7),
    },
    // For reference: the service and the echo each against a GET with no body, the least a request costs in the
    // framework.
    { name: 'JSON 16: service vs GET /hello (reference)', subject: svc.json16, reference: hello, target: null },
    {
      name: 'JSON 16: bare Fastify JSON echo vs GET /hello (reference)',
      subject: echoJson16,
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
