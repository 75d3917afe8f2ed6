#!/usr/bin/env node
/**
 * `npm run bench`: starts sipreg (node dist/main.js) on free loopback ports with a private redis-server (or the
 * embedded memory store), loads N accounts through the admin API's bulk import, runs the load generator at a rate or
 * a ramp of rates, prints a figures table, writes JSON under bench/results/, and stops everything it started.
 *
 * usage: npm run bench -- [--store redis|memory] [--transport udp|tcp|tls] [--rate 2000] [--duration 10]
 *          [--accounts 10000] [--mode full|refresh] [--refresh-nonce nextnonce|nc] [--ramp 1000,2000,4000]
 *          [--threads N] [--connections N] [--algorithm SHA-256|MD5] [--workers N] [--label NAME] [--keep]
 *          [--cpu-prof DIR]
 */
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runLoad, formatLine } from './loadgen.mjs';
import { ROOT, importAccounts, startRedis, startSipreg, workDir } from './lib/sipreg.mjs';
import { printTable } from './lib/table.mjs';

const MAX_STEPS = 12;

async function main() {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'redis' },
      transport: { type: 'string', default: 'udp' },
      rate: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '10' },
      accounts: { type: 'string', default: '10000' },
      mode: { type: 'string', default: 'full' },
      'refresh-nonce': { type: 'string', default: 'nextnonce' },
      ramp: { type: 'string' },
      threads: { type: 'string' },
      connections: { type: 'string', default: '1' },
      algorithm: { type: 'string' },
      workers: { type: 'string' },
      label: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run bench -- [--store redis|memory] [--transport udp|tcp|tls] [--rate N] [--duration S]\n' +
        '  [--accounts N] [--mode full|refresh] [--refresh-nonce nextnonce|nc] [--ramp 1000,2000,4000]\n' +
        '  [--threads N (generator threads)] [--connections N (per thread, tcp/tls)] [--algorithm SHA-256|MD5]\n' +
        '  [--workers N (sipreg SIP worker processes, Redis store)] [--label NAME] [--keep (work dir)]\n' +
        '  [--cpu-prof DIR (V8 CPU profile of sipreg, written at its exit)]',
    );
    return;
  }
  const store = values.store === 'memory' ? 'memory' : 'redis';
  const transport = /** @type {'udp' | 'tcp' | 'tls'} */ (values.transport);
  if (!['udp', 'tcp', 'tls'].includes(transport)) throw new Error('--transport udp|tcp|tls');
  const mode = /** @type {'full' | 'refresh'} */ (values.mode);
  if (!['full', 'refresh'].includes(mode)) throw new Error('--mode full|refresh');
  const accounts = Number(values.accounts);
  const durationS = Number(values.duration);
  if (!(accounts >= 1 && accounts <= 1_000_000)) throw new Error('--accounts must be in 1..1000000');
  if (!(durationS >= 1 && durationS <= 600)) throw new Error('--duration must be in 1..600 s');
  const rates = (values.ramp ?? values.rate).split(',').map((r) => Number(r.trim()));
  if (rates.length > MAX_STEPS || rates.some((r) => !(r > 0)))
    throw new Error(`rates: 1..${MAX_STEPS} positive numbers`);
  const workers = values.workers === undefined ? 1 : Number(values.workers);
  if (!(workers >= 1 && workers <= 64)) throw new Error('--workers must be in 1..64');
  if (workers > 1 && store !== 'redis') throw new Error('--workers > 1 needs --store redis (workers share Redis)');

  const dir = workDir('run', values.keep);
  /** @type {Array<() => Promise<void>>} */
  const stops = [];
  const results = [];
  try {
    const redis = store === 'redis' ? await startRedis(dir) : null;
    if (redis) stops.unshift(redis.stop);
    const server = await startSipreg({
      dir,
      redisUrl: redis?.url ?? null,
      tls: transport === 'tls',
      env: workers > 1 ? { SIP_WORKERS: String(workers) } : {},
      nodeArgs: values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values['cpu-prof'])}`] : [],
    });
    stops.unshift(server.stop);
    const port = server.ports[transport];
    if (port === undefined) throw new Error(`sipreg did not bind ${transport}`);
    const pids = redis ? [server.pid, redis.pid] : [server.pid];
    console.log(
      `sipreg pid ${server.pid} (${store} store${redis ? `, redis pid ${redis.pid}` : ''}) ${transport} 127.0.0.1:${port}, ` +
        `admin :${server.adminPort}, log ${server.logFile}`,
    );
    const imp = await importAccounts({ adminPort: server.adminPort, token: server.token, accounts });
    console.log(`accounts: ${imp.created} created, ${imp.existing} existing, in ${imp.seconds.toFixed(1)} s`);

    for (const rate of rates) {
      const f = await runLoad({
        host: '127.0.0.1',
        port,
        transport,
        rate,
        durationS,
        accounts,
        mode,
        refreshNonce: values['refresh-nonce'] === 'nc' ? 'nc' : 'nextnonce',
        threads: values.threads !== undefined ? Number(values.threads) : undefined,
        connections: Number(values.connections),
        pids,
        algorithms: values.algorithm ? [/** @type {import('./lib/sip.mjs').Algorithm} */ (values.algorithm)] : null,
      });
      console.log(formatLine(f));
      results.push({ store, ...f });
    }
  } finally {
    for (const s of stops) await s();
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
  printTable(results);
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const label = values.label ?? `${store}-${transport}-${mode}`;
  const file = path.join(outDir, `${stamp}-${label}.json`);
  writeFileSync(file, JSON.stringify({ label, node: process.version, steps: results }, null, 2) + '\n');
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
