/**
 * Swagger UI in a real browser: the headless Chromium that the @sparticuz/chromium dev dependency carries inside its
 * npm package (so `npm ci` alone brings it, with no apt and no download from elsewhere), driven by playwright-core,
 * opens /docs on the running service, expands POST /v1/dropout, runs "Try it out" with the documented example and
 * finds the 200 reply and its output in the page. Every request the page makes must go to 127.0.0.1; others are
 * aborted and fail the test. A browser that does not start fails the test. A screenshot is saved under the OS temp
 * dir and copied to test/docs/artifacts/swagger-ui.png (gitignored).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync } from 'node:zlib';
import sparticuz from '@sparticuz/chromium';
import { type BrowserContext, chromium } from 'playwright-core';
import t from 'tap';
import { startApp } from '../helpers.js';

const ARTIFACT = fileURLToPath(new URL('./artifacts/swagger-ui.png', import.meta.url));
/** The documented example of the request body (schemas/dropout.ts) and what the service answers to it. */
const EXAMPLE = {
  input: [
    [1, 2, 3],
    [4, 5, 6],
  ],
  p: 0.5,
  seed: 42,
};
const EXAMPLE_OUTPUT = [
  [0, 4, 6],
  [8, 0, 12],
];

const squash = (text: string) => text.replace(/\s+/g, '');

/**
 * The browser links libnss3, libnspr4 and libexpat, which a minimal Debian (node:*-slim, a bare CI runner) lacks.
 * The package carries those libraries too (for Amazon Linux, built against an older glibc than Debian's), so they
 * are unpacked into a private directory and put first on the browser's library path: the browser then needs
 * nothing from the system beyond libc and libgcc_s, whatever is installed.
 */
function bundledLibraries(into: string): string {
  const bin = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..', 'bin');
  const tar = brotliDecompressSync(readFileSync(join(bin, 'al2023.tar.br')));
  const untar = spawnSync('tar', ['-x', '-C', into], { input: tar });
  if (untar.status !== 0) throw new Error(`tar could not unpack al2023.tar.br: ${untar.stderr}`);
  return join(into, 'lib');
}

t.test('Swagger UI: "Try it out" on POST /v1/dropout runs the documented example', async (t) => {
  const app = await startApp(t);
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });

  const profile = await mkdtemp(join(tmpdir(), 'dropout-chromium-'));
  let context: BrowserContext | undefined;
  t.teardown(async () => {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
  });
  const libraries = bundledLibraries(profile);
  const executablePath = await sparticuz.executablePath();
  context = await chromium.launchPersistentContext(join(profile, 'user-data'), {
    executablePath,
    headless: true,
    args: [...sparticuz.args, '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    env: { ...process.env, LD_LIBRARY_PATH: [libraries, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') },
    viewport: { width: 1280, height: 900 },
  });
  t.comment(`browser: ${executablePath}, Chromium ${context.browser()?.version() ?? '(version unknown)'}`);

  // The machine has no internet, and the page must not need it: anything but 127.0.0.1 is aborted and reported.
  const elsewhere: string[] = [];
  const requested: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    requested.push(url.href);
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    elsewhere.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });

  await page.goto(`${origin}/docs`);
  const operation = page.locator('#operations-dropout-post_v1_dropout');
  await operation.waitFor({ timeout: 20_000 });
  await operation.locator('.opblock-summary').first().click();
  await operation.getByRole('button', { name: 'Try it out' }).click();

  // The body editor holds the documented example; it is set to it if the UI prefilled anything else.
  const editor = operation.locator('textarea.body-param__text');
  await editor.waitFor();
  const prefilled = await editor.inputValue();
  let parsed: unknown;
  try {
    parsed = JSON.parse(prefilled);
  } catch {
    parsed = undefined;
  }
  if (JSON.stringify(parsed) === JSON.stringify(EXAMPLE)) {
    t.pass('the editor is prefilled with the documented example');
  } else {
    t.comment(`the editor held ${JSON.stringify(prefilled)}: set to the documented example`);
    await editor.fill(JSON.stringify(EXAMPLE, null, 2));
  }

  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${origin}/v1/dropout`) && r.request().method() === 'POST'),
    operation.getByRole('button', { name: 'Execute' }).click(),
  ]);
  t.equal(response.status(), 200, 'the service answers 200');
  t.same((await response.json()).output, EXAMPLE_OUTPUT, 'with the example output');
  t.match(response.request().headers()['content-type'], /^application\/json/, 'the UI sent JSON');
  // Swagger UI also fills every query parameter from its documented example, and the binary-only examples
  // (shape=2,3,4, noise_shape=2,3,1) contradict the JSON body. The service ignores the query for a JSON body, so
  // the call works; dropping those two examples from DropoutQuery (src/schemas/dropout.ts) removes them.
  const query = new URL(response.url()).searchParams;
  t.same(
    { shape: query.get('shape'), noise_shape: query.get('noise_shape') },
    { shape: null, noise_shape: null },
    'the UI adds no query parameter that contradicts the JSON body',
    {},
  );

  // The UI shows it: the live response's status and body panel.
  const live = operation.locator('.live-responses-table .response');
  await live.first().waitFor({ timeout: 20_000 });
  t.match(await live.locator('.response-col_status').first().textContent(), /^\s*200\b/, 'the UI shows 200');
  const panel = live.locator('.response-col_description .highlight-code pre').first();
  await panel.waitFor();
  const shown = squash((await panel.textContent()) ?? '');
  t.ok(shown.includes(`"output":${JSON.stringify(EXAMPLE_OUTPUT)}`), `the body panel shows the output: ${shown}`);
  t.ok(shown.includes('"seed":"42"'), 'and the seed');

  // The screenshot frames the request URL, the status and the response body.
  await operation.locator('.request-url').evaluate((el) => {
    el.scrollIntoView({ block: 'start' });
    el.ownerDocument.defaultView?.scrollBy(0, -60);
  });
  const dir = await mkdtemp(join(tmpdir(), 'dropout-swagger-ui-'));
  const screenshot = join(dir, 'swagger-ui.png');
  await page.screenshot({ path: screenshot });
  await mkdir(join(ARTIFACT, '..'), { recursive: true });
  await copyFile(screenshot, ARTIFACT);
  t.comment(`screenshot: ${screenshot} (copied to ${ARTIFACT})`);

  t.same(elsewhere, [], `the page only talks to 127.0.0.1 (${requested.length} requests)`);
  t.same(pageErrors, [], 'no page errors');
});
