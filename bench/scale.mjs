#!/usr/bin/env node
/**
 * `npm run bench:scale`: Redis memory per binding and registration latency as the binding count grows
 * (default 10k, 100k, 1M). Starts a private redis-server and sipreg on it, loads the load accounts through the admin
 * API, then for each size: seeds synthetic bindings up to that size straight through the server's store module
 * (dist/store/redis.js, commitRegistration, many in flight = pipelined), reads INFO memory before and after the seeding
 * only (the load runs leave nonce keys that must not count), times the store's loadRegistration round trip, and runs
 * the load generator (full digest registrations) against the real accounts.
 *
 * usage: npm run bench:scale -- [--sizes 10000,100000,1000000] [--rate 1000] [--duration 5] [--accounts 10000]
 *          [--transport udp|tcp] [--inflight 2000] [--listpack-value N]
 *   --listpack-value N   start the private Redis with hash-max-listpack-value N (default: Redis's own, 64); see
 *                        docs/store.md, Memory
 */
import { parseArgs } from 'node:util';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { runLoad } from './loadgen.mjs';
import { ROOT, importAccounts, startRedis, startSipreg, workDir } from './lib/sipreg.mjs';

const SEED_BOUND_MS = 15 * 60_000;
const MAX_SIZE = 5_000_000;

/**
 * A binding as a desk phone leaves it (contact with transport, a 32-hex Call-ID, a typical User-Agent).
 * @param {number} i @param {number} now
 */
function seedBinding(i, now) {
  const user = `s${String(i).padStart(7, '0')}`;
  const host = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const uri = `sip:${user}@${host}:5060;transport=udp`;
  return {
    key: uri,
    uri,
    params: '',
    q: null,
    expiresAt: now + 3_600_000,
    callId: `${i.toString(16).padStart(8, '0')}a1b2c3d4e5f6a7b8c9d0e1f2a3b4@${host}`,
    cseq: 2,
    instance: null,
    regId: null,
    path: [],
    source: { transport: /** @type {const} */ ('udp'), address: host, port: 5060, connectionId: null },
    userAgent: 'Yealink SIP-T46U 108.86.0.20',
    registeredAt: now,
    updatedAt: now,
  };
}

/** @param {Redis} r @returns {Promise<number>} */
async function usedMemory(r) {
  const info = await r.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/**
 * Seeds bindings [from, to) with at most `inflight` commits outstanding.
 * @param {{ commitRegistration(c: unknown): Promise<string> }} store
 * @param {number} from @param {number} to @param {number} inflight
 */
async function seed(store, from, to, inflight) {
  const t0 = Date.now();
  let failed = 0;
  for (let start = from; start < to; start += inflight) {
    if (Date.now() - t0 > SEED_BOUND_MS) throw new Error('seeding exceeded its time bound');
    const now = Date.now();
    const batch = [];
    for (let i = start; i < Math.min(to, start + inflight); i++) {
      const b = seedBinding(i, now);
      batch.push(
        store.commitRegistration({
          aor: `s${String(i).padStart(7, '0')}@bench.test`,
          expectedVersion: 0,
          bindings: [b],
          nonce: null,
          now,
        }),
      );
    }
    for (const r of await Promise.all(batch)) if (r !== 'ok') failed++;
  }
  return { seconds: (Date.now() - t0) / 1000, failed };
}

/**
 * p50/p99 of `n` sequential loadRegistration round trips on random seeded AORs.
 * @param {{ loadRegistration(aor: string, address: string, now: number): Promise<unknown> }} store
 * @param {number} size @param {number} n
 */
async function storeLatency(store, size, n) {
  const ts = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor(Math.random() * size);
    const t = process.hrtime.bigint();
    await store.loadRegistration(`s${String(i).padStart(7, '0')}@bench.test`, '127.0.0.1', Date.now());
    ts.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ts.sort((a, b) => a - b);
  const q = (/** @type {number} */ p) =>
    Number((ts[Math.min(ts.length - 1, Math.floor(p * ts.length))] ?? 0).toFixed(3));
  return { p50: q(0.5), p99: q(0.99) };
}

async function main() {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '10000,100000,1000000' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '5' },
      accounts: { type: 'string', default: '10000' },
      transport: { type: 'string', default: 'udp' },
      inflight: { type: 'string', default: '2000' },
      'listpack-value': { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((s, i) => !(s > 0 && s <= MAX_SIZE) || (i > 0 && s <= (sizes[i - 1] ?? 0)))) {
    throw new Error(`--sizes: increasing, each in 1..${MAX_SIZE}`);
  }
  const transport = values.transport === 'tcp' ? 'tcp' : 'udp';
  const accounts = Number(values.accounts);
  const { RedisStore } = await import(path.join(ROOT, 'dist', 'store', 'redis.js'));

  const dir = workDir('scale');
  /** @type {Array<() => Promise<void>>} */
  const stops = [];
  const rows = [];
  try {
    const lp = values['listpack-value'];
    if (lp !== undefined && !(Number(lp) >= 0 && Number(lp) <= 65536)) throw new Error('--listpack-value: 0..65536');
    const redis = await startRedis(dir, lp === undefined ? [] : ['--hash-max-listpack-value', lp]);
    stops.unshift(redis.stop);
    const server = await startSipreg({ dir, redisUrl: redis.url });
    stops.unshift(server.stop);
    const port = /** @type {number} */ (server.ports[transport]);
    const imp = await importAccounts({ adminPort: server.adminPort, token: server.token, accounts });
    console.log(
      `sipreg pid ${server.pid}, redis pid ${redis.pid}; ${imp.created} accounts loaded in ${imp.seconds.toFixed(1)} s`,
    );
    const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    stops.unshift(async () => void client.disconnect());
    const store = new RedisStore(redis.url, { commandTimeoutMs: 30_000 });
    stops.unshift(() => store.close());

    let seeded = 0;
    let seedBytes = 0;
    for (const size of sizes) {
      const before = await usedMemory(client);
      const s = await seed(store, seeded, size, Number(values.inflight));
      const after = await usedMemory(client);
      seedBytes += after - before;
      const added = size - seeded;
      seeded = size;
      const storeLat = await storeLatency(store, size, 2000);
      const f = await runLoad({
        host: '127.0.0.1',
        port,
        transport,
        rate: Number(values.rate),
        durationS: Number(values.duration),
        accounts,
        mode: 'full',
        pids: [server.pid, redis.pid],
      });
      const row = {
        seeded: size,
        seedRatePerS: Math.round(added / s.seconds),
        seedFailed: s.failed,
        usedMemoryMB: Number((after / 1048576).toFixed(1)),
        bytesPerBinding: Math.round(seedBytes / size),
        bytesPerBindingStep: Math.round((after - before) / added),
        storeLoadMs: storeLat,
        load: f,
      };
      rows.push(row);
      console.log(
        `${size} bindings: ${row.bytesPerBinding} B/binding (this step ${row.bytesPerBindingStep}), used_memory ${row.usedMemoryMB} MB, ` +
          `seeded at ${row.seedRatePerS}/s | store loadRegistration p50 ${storeLat.p50} p99 ${storeLat.p99} ms | ` +
          `REGISTER ${f.achievedRate}/s failed ${f.failed} p50 ${f.latencyMs.p50} p95 ${f.latencyMs.p95} p99 ${f.latencyMs.p99} ms, ` +
          `server ${f.cpu.serverUsPerReg} µs/reg`,
      );
    }
  } finally {
    for (const s of stops) await s().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    [
      '| bindings (seeded) | Redis used_memory MB | bytes / binding | store read p50 / p99 ms | REGISTER achieved/s | failed | p50 ms | p95 ms | p99 ms | server µs/reg |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.seeded} | ${r.usedMemoryMB} | ${r.bytesPerBinding} | ${r.storeLoadMs.p50} / ${r.storeLoadMs.p99} | ${r.load.achievedRate} | ` +
          `${r.load.failed} | ${r.load.latencyMs.p50} | ${r.load.latencyMs.p95} | ${r.load.latencyMs.p99} | ${r.load.cpu.serverUsPerReg} |`,
      ),
    ].join('\n'),
  );
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-scale.json`);
  writeFileSync(
    file,
    JSON.stringify({ node: process.version, listpackValue: values['listpack-value'] ?? null, rows }, null, 2) + '\n',
  );
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`scale: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
