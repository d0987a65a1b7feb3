/** What a new user hits first (issue 16): a body without the right Content-Type, a wrong method, the docs, 0-d tensors. */
import t from 'tap';
import { startApp } from './helpers.js';

const ACCEPTED = 'application/json, application/octet-stream, application/x-npy';

t.test('every unsupported Content-Type gets the problem that names the accepted types', async (t) => {
  const app = await startApp(t);
  const cases: [string, Record<string, string>, string][] = [
    // What `curl -d '{"input":[1]}' URL` sends.
    ['form (curl -d)', { 'content-type': 'application/x-www-form-urlencoded' }, 'application/x-www-form-urlencoded'],
    ['text', { 'content-type': 'text/plain; charset=utf-8' }, 'text/plain; charset=utf-8'],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 'multipart/form-data; boundary=x'],
    ['xml', { 'content-type': 'application/xml' }, 'application/xml'],
    ['none, with a body', {}, 'no Content-Type'],
  ];
  for (const [name, headers, got] of cases) {
    const res = await app.inject({ method: 'POST', url: '/v1/dropout', headers, payload: '{"input":[1,2,3]}' });
    t.equal(res.statusCode, 415, name);
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${name}: content type`);
    const problem = res.json();
    t.equal(problem.code, 'UNSUPPORTED_MEDIA_TYPE', name);
    t.equal(problem.detail, `send the tensor as ${ACCEPTED} (got ${got})`, name);
  }
});

t.test('a form body over a real connection: 415, and the connection serves the next request', async (t) => {
  const app = await startApp(t);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const form = await fetch(`${base}/v1/dropout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: JSON.stringify({ input: Array.from({ length: 50_000 }, (_, i) => i) }),
  });
  t.equal(form.status, 415);
  t.match((await form.json()).detail, /^send the tensor as /);
  const ok = await fetch(`${base}/v1/dropout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: [1, 2], p: 0, seed: 1 }),
  });
  t.equal(ok.status, 200);
});
