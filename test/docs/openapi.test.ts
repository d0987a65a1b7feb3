import { readFile } from 'node:fs/promises';
import t from 'tap';
import { OPENAPI_FILE, serialiseOpenapi } from '../../scripts/openapi.js';
import { startApp } from '../helpers.js';

t.test(
  'GET /openapi.json is the committed openapi/openapi.json (run `npm run openapi` after a schema change)',
  async (t) => {
    const app = await startApp(t);
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    t.equal(res.statusCode, 200);
    const committed = await readFile(OPENAPI_FILE, 'utf8');
    t.equal(serialiseOpenapi(res.json()), committed, 'no drift');
  },
);

t.test('the document describes every body format, every reply and every field', async (t) => {
  const app = await startApp(t);
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const post = doc.paths['/v1/dropout'].post;
  const formats = ['application/json', 'application/octet-stream', 'application/x-npy'];
  t.same(Object.keys(post.requestBody.content).sort(), formats);
  t.same(Object.keys(post.responses['200'].content).sort(), formats);
  for (const status of ['400', '406', '413', '415']) t.ok(post.responses[status], `documents ${status}`);
  const props = post.requestBody.content['application/json'].schema.properties;
  for (const [name, schema] of Object.entries<{ description?: string }>(props)) {
    t.ok(schema.description, `body field ${name} is described`);
  }
  for (const param of post.parameters)
    t.ok(param.schema.description ?? param.description, `query ${param.name} is described`);
});

t.test('Swagger UI is served at /docs', async (t) => {
  const app = await startApp(t);
  const res = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /swagger-ui/i);
});
