/** Process entry: read the configuration, build the app, listen, and shut down gracefully on SIGTERM/SIGINT. */
import { setFlagsFromString } from 'node:v8';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { heapFlags } from './heap-tuning.js';

/** Longest a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Process-wide V8 settings, so they are set here, before the pool's threads start, and not by buildApp (tests build
  // many apps in one process). V8 reads them at every collection, so setting them at run time takes effect.
  for (const flag of heapFlags(config.heapGrowingPercent, process.versions.v8)) setFlagsFromString(flag);
  const app = await buildApp(config);
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });
  await app.listen({ host: config.host, port: config.port });
}

await main();
