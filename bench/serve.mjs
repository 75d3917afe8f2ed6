#!/usr/bin/env node
/**
 * Starts sipreg (+ a private redis-server) on free loopback ports for an outside load generator (sipp, peer.sh),
 * loads the bench accounts, writes what the generator needs as shell assignments to --info FILE, and keeps running
 * until SIGTERM/SIGINT or --max-seconds (a bound: it never outlives a forgotten run), then stops what it started.
 *
 * usage: node bench/serve.mjs --info FILE [--store redis|memory] [--accounts 10000] [--algorithms MD5]
 *          [--tls] [--workers N] [--max-seconds 1800]
 * FILE: SIPREG_PID= REDIS_PID= PIDS=sipreg,redis UDP_PORT= TCP_PORT= TLS_PORT= ADMIN_PORT= LOG=
 */
import { parseArgs } from 'node:util';
import { writeFileSync, rmSync } from 'node:fs';
import { importAccounts, sleep, startRedis, startSipreg, workDir } from './lib/sipreg.mjs';

async function main() {
  const { values } = parseArgs({
    options: {
      info: { type: 'string' },
      store: { type: 'string', default: 'redis' },
      accounts: { type: 'string', default: '10000' },
      algorithms: { type: 'string', default: 'MD5' },
      tls: { type: 'boolean', default: false },
      workers: { type: 'string', default: '1' },
      'max-seconds': { type: 'string', default: '1800' },
    },
  });
  if (!values.info) throw new Error('--info FILE is required');
  const maxMs = Math.min(Number(values['max-seconds']), 24 * 3600) * 1000;
  const dir = workDir('serve');
  /** @type {Array<() => Promise<void>>} */
  const stops = [];
  let stopping = false;
  /** @type {(v?: unknown) => void} */
  let wake = () => undefined;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    wake();
  };
  // Installed before anything starts: a signal during start-up still stops what was started.
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    const redis = values.store === 'redis' ? await startRedis(dir) : null;
    if (redis) stops.unshift(redis.stop);
    const server = await startSipreg({
      dir,
      redisUrl: redis?.url ?? null,
      tls: values.tls,
      algorithms: values.algorithms.split(','),
      env: { SIP_WORKERS: values.workers },
    });
    stops.unshift(server.stop);
    const imp = await importAccounts({
      adminPort: server.adminPort,
      token: server.token,
      accounts: Number(values.accounts),
    });
    const info = {
      SIPREG_PID: server.pid,
      REDIS_PID: redis?.pid ?? '',
      REDIS_PORT: redis?.port ?? '',
      PIDS: [server.pid, redis?.pid].filter((p) => p !== undefined).join(','),
      UDP_PORT: server.ports.udp ?? '',
      TCP_PORT: server.ports.tcp ?? '',
      TLS_PORT: server.ports.tls ?? '',
      ADMIN_PORT: server.adminPort,
      LOG: server.logFile,
    };
    writeFileSync(
      values.info,
      Object.entries(info)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n',
    );
    console.log(`sipreg ready: ${JSON.stringify(info)}; accounts created ${imp.created}, existing ${imp.existing}`);
    if (!stopping) {
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, maxMs).unref();
      });
    }
  } finally {
    for (const s of stops) await s();
    rmSync(dir, { recursive: true, force: true });
    rmSync(values.info, { force: true });
  }
  await sleep(0);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`serve: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
