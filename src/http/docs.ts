/** The OpenAPI document (generated from the route schemas), Swagger UI at /docs and the document at /openapi.json. */

import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { PROBLEMS } from '../errors.js';
import { ProblemSchema } from '../schemas/common.js';

export const SERVICE_VERSION = '0.1.0';

const errorCodeTable = Object.entries(PROBLEMS)
  .map(([code, { status, title }]) => `| ${code} | ${status} | ${title} |`)
  .join('\n');

export async function registerDocs(app: FastifyInstance): Promise<void> {
  app.addSchema(ProblemSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'dropout-service',
        version: SERVICE_VERSION,
        description: `Dropout (torch.nn.Dropout) as an HTTP service: exact, reproducible, fast.\n\nErrors are RFC 9457 problem documents (application/problem+json) with a stable \`code\`:\n\n| code | status | meaning |\n|---|---|---|\n${errorCodeTable}`,
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from API_KEYS, needed only when the service is configured with keys.',
          },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'dropout', description: 'The dropout computation' },
        { name: 'operations', description: 'Health, readiness and documentation' },
      ],
    },
  });
  // Security headers (CSP, frame and sniffing guards) on the documentation pages, where a browser renders HTML.
  // Helmet adds onRequest hooks to every route of its context even with global: false, so it and the UI live in
  // their own encapsulated context: the compute routes do not pay ~20 µs a request for headers they never send.
  await app.register(async (docs) => {
    await docs.register(helmet, { global: false });
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      uiHooks: {
        onRequest: async (_request, reply) => {
          await reply.helmet();
        },
      },
    });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
