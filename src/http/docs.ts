/** The OpenAPI document (generated from the route schemas), Swagger UI at /docs and the document at /openapi.json. */

import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { PROBLEMS } from '../errors.js';
import { ProblemSchema } from '../schemas/common.js';
import { SERVICE_NAME, SERVICE_VERSION } from '../service/model.js';

const errorCodeTable = Object.entries(PROBLEMS)
  .map(([code, { status, title }]) => `| ${code} | ${status} | ${title} |`)
  .join('\n');

export async function registerDocs(app: FastifyInstance, config: Pick<Config, 'apiKeys'>): Promise<void> {
  // Without keys the service asks for none: a padlock on every operation and an Authorize button would say it does.
  const security =
    config.apiKeys.length === 0
      ? {}
      : {
          components: {
            securitySchemes: {
              bearerAuth: {
                type: 'http' as const,
                scheme: 'bearer',
                description: 'An API key from API_KEYS.',
              },
            },
          },
          security: [{ bearerAuth: [] }],
        };
  app.addSchema(ProblemSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: SERVICE_NAME,
        version: SERVICE_VERSION,
        description: `Dropout (torch.nn.Dropout) as an HTTP service: exact, reproducible, fast.\n\nErrors are RFC 9457 problem documents (application/problem+json) with a stable \`code\`:\n\n| code | status | meaning |\n|---|---|---|\n${errorCodeTable}`,
      },
      ...security,
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
    await docs.register(helmet, {
      global: false,
      // The service is often reached over plain HTTP (a cluster address, a port-forward); a browser told to upgrade
      // would fetch every asset over https from a host that has none, and Swagger UI would stay blank.
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    });
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      uiHooks: {
        onRequest: async (request, reply) => {
          await reply.helmet();
          // The page cannot carry a query string: Swagger UI's initializer appends './json' to the page URL as text,
          // so /docs?x would fetch /docs?x/./json (the page again), and the plugin's /static/index.html redirect
          // only rewrites a path that ends the URL, so with a query it redirects to itself. The query means nothing
          // to the UI (its deep links are in the fragment, which the browser keeps across a redirect), so it goes.
          // Locations are relative, so they also hold behind a proxy that mounts the service under a path prefix.
          const query = request.url.indexOf('?');
          if (query === -1) return;
          const route = request.routeOptions.url;
          if (route === '/docs/static/index.html') return reply.redirect('../');
          if (route === '/docs') {
            // One route serves both /docs and /docs/.
            const path = request.url.slice(0, query);
            return reply.redirect(path.endsWith('/') ? './' : path.slice(path.lastIndexOf('/') + 1));
          }
        },
      },
    });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
