/** Writes openapi/openapi.json from the running app's route schemas (the same factory the server uses). */
import { writeFile } from 'node:fs/promises';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

export const OPENAPI_FILE = new URL('../openapi/openapi.json', import.meta.url);

/** The document as committed: stable key order from the schemas, two-space indent, trailing newline. */
export function serialiseOpenapi(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', WORKERS: '1' }));
  await app.ready();
  await writeFile(OPENAPI_FILE, serialiseOpenapi(app.swagger()));
  await app.close();
  process.stdout.write(`wrote ${OPENAPI_FILE.pathname}\n`);
}
