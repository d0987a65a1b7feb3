import t from 'tap';
import { buildApp } from '../../src/app.js';
import { type ConfigError, loadConfig } from '../../src/config.js';
import { startApp, testConfig } from '../helpers.js';

t.test('configuration: defaults, conversion, and a start-stopping message naming each bad variable', (t) => {
  const config = loadConfig({});
  t.match(config, { host: '127.0.0.1', port: 3000, logLevel: 'info', maxElements: 16 * 1024 * 1024 });
  t.ok(config.workers >= 1);
  t.equal(loadConfig({ PORT: '8080', WORKERS: '3' }).port, 8080);
  t.throws(() => loadConfig({ PORT: 'eighty' }), {
    name: 'ConfigError',
    message: /PORT must be integer \(got "eighty"\)/,
  });
  t.throws(() => loadConfig({ WORKERS: '0' }), /WORKERS must be >= 1/);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL must be one of fatal, error/);
  t.equal(config.heapGrowingPercent, 300, "V8's growing factor is fixed at 4x unless set");
  t.equal(loadConfig({ HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent, 0, "0 leaves V8's dynamic factor");
  t.throws(() => loadConfig({ HEAP_GROWING_PERCENT: '-5' }), /HEAP_GROWING_PERCENT must be >= 0/);
  const both = t.throws(() => loadConfig({ PORT: '-1', MAX_BODY_BYTES: '1e99x' })) as unknown as ConfigError;
  t.match(both.message, /PORT.*MAX_BODY_BYTES/);
  t.end();
});

t.test('health and readiness', async (t) => {
  const app = await startApp(t);
  t.same((await app.inject('/healthz')).json(), { status: 'ok' });
  t.same((await app.inject('/readyz')).json(), { ready: true });
});

t.test('readiness answers 503 once shutdown has begun', async (t) => {
  const app = await buildApp(testConfig());
  let status: number | undefined;
  // preClose runs first in shutdown, while the server still answers: a load balancer must already see not-ready.
  app.addHook('preClose', async () => {
    status = (await fetch(`${origin}/readyz`)).status;
  });
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  t.equal((await fetch(`${origin}/readyz`)).status, 200);
  await app.close();
  t.equal(status, 503);
});
