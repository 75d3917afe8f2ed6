/**
 * Worker mode: one process per core for SIP. The primary forks `sip.workers` workers that each run the SIP server
 * (role 'sip'); node:cluster hands them one shared UDP socket and balances TCP/TLS connections between them. The
 * primary runs the admin API (role 'admin') and serves /metrics with the workers' metrics summed in. All state is in
 * Redis, so any worker can answer any message (a retransmission that reaches another worker is recognised by the
 * registrar: see Registrar.sameRequestAgain). A worker that dies is replaced.
 */
import cluster, { type Worker } from 'node:cluster';
import client from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { startApp, type App } from './app.js';

const RESTART_DELAY_MS = 1_000;

export async function runPrimary(config: Config, log: Logger, shutdownBoundMs: number): Promise<() => Promise<void>> {
  const wanted = config.sip.workers;
  const live = new Set<Worker>();
  let stopping = false;
  // Every worker checks the nonces the others issue (a phone's two REGISTERs may reach different workers): they all
  // take the configured secret, or the one kept in Redis (registrar/nonce-keys.ts).
  const fork = (): void => {
    const w = cluster.fork();
    w.on('online', () => live.add(w));
    w.on('exit', (code, signal) => {
      live.delete(w);
      if (stopping) return;
      log.error({ worker: w.id, code, signal }, 'SIP worker died: starting another');
      setTimeout(fork, RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 0; i < wanted; i++) fork();
  log.info({ workers: wanted }, 'worker mode: SIP in worker processes, admin API here');

  const aggregator = new client.AggregatorRegistry();
  const app: App = await startApp(config, {
    logger: log,
    role: 'admin',
    sipHealthy: () => live.size === wanted,
    workerMetrics: () => aggregator.clusterMetrics(),
  });

  return async () => {
    stopping = true;
    const exits = [...live].map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    for (const w of live) w.process.kill('SIGTERM');
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, shutdownBoundMs).unref())]);
    await app.stop(0);
  };
}

export async function runWorker(config: Config, log: Logger): Promise<App> {
  const app = await startApp(config, { logger: log.child({ worker: cluster.worker?.id }), role: 'sip' });
  // Answer the primary's requests for this worker's metrics (the constructor installs prom-client's IPC listener).
  new client.AggregatorRegistry();
  client.AggregatorRegistry.setRegistries([app.metrics.registry]);
  return app;
}

export const isWorker = (): boolean => cluster.isWorker;
