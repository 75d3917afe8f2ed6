/**
 * Entry point: load the configuration (one line and exit 2 when it is wrong), start (one process, or a primary with
 * SIP workers when sip.workers > 1), and stop gracefully on SIGTERM or SIGINT (a second signal exits at once).
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './observability/log.js';
import { startApp } from './app.js';
import { isWorker, runPrimary, runWorker } from './cluster.js';

const SHUTDOWN_BOUND_MS = 10_000;

function configOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (e) {
    process.stderr.write(`${e instanceof ConfigError ? e.message : `config: ${(e as Error).message}`}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const config = configOrExit();
  const log = createLogger(config.log.level);
  let stopApp: () => Promise<void>;
  if (config.sip.workers > 1 && isWorker()) {
    const app = await runWorker(config, log);
    stopApp = () => app.stop(SHUTDOWN_BOUND_MS - 2_000);
  } else if (config.sip.workers > 1) {
    stopApp = await runPrimary(config, log, SHUTDOWN_BOUND_MS - 1_000);
  } else {
    const app = await startApp(config, { logger: log });
    stopApp = () => app.stop(SHUTDOWN_BOUND_MS - 2_000);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_BOUND_MS).unref();
    stopApp().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (e) => log.error({ err: e }, 'unhandled rejection'));
}

main().catch((e: unknown) => {
  process.stderr.write(`sipreg: failed to start: ${(e as Error).message}\n`);
  process.exit(1);
});
