/** Process entry: read the configuration, build the app, listen, and shut down gracefully on SIGTERM/SIGINT. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { heapFlags } from './heap-tuning.js';
import { onShutdownSignal, SHUTDOWN_GRACE_MS } from './shutdown-signals.js';

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
  // The app drops large SharedArrayBuffers only rarely, and V8 never collects for them on its own (see
  // http/buffer-cache.ts): it is handed the collector to run then.
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  const app = await buildApp(config, { collectGarbage });

  let shuttingDown = false;
  const shutdown = async (reason: { signal?: string; err?: Error }) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (reason.err) app.log.error({ err: reason.err }, 'shutting down after an error');
    else app.log.info({ signal: reason.signal, drainMs: config.shutdownDrainMs }, 'shutting down');
    const deadline = setTimeout(() => {
      app.log.error(`shutdown took longer than ${SHUTDOWN_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    deadline.unref();
    if (reason.signal) {
      // Requests keep being served while load balancers take the pod out of rotation (readiness is 503 now).
      app.drain();
      await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    }
    try {
      await app.close();
    } catch (err) {
      app.log.error({ err }, 'closing failed');
      process.exit(1);
    }
    process.exit(reason.err ? 1 : 0);
  };
  // Signals are handled by onShutdownSignal (a repeated one must not cut the drain short), errors by close-with-grace.
  closeWithGrace({ delay: SHUTDOWN_GRACE_MS, skip: ['SIGTERM', 'SIGINT'] }, ({ err }) => shutdown({ err }));
  onShutdownSignal((signal) => shutdown({ signal }));
  await app.listen({ host: config.host, port: config.port });
  if (app.grpc !== null && config.grpcPort !== null) {
    const port = await app.grpc.listen(config.host, config.grpcPort);
    app.log.info(`gRPC listening at ${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`);
  }
}

await main();
