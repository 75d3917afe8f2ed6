/**
 * Scale-out figures: full digest registrations per second with 1 and with 2 sipreg instances in front of one Redis,
 * alternated in one run (closed loop, phones spread over the instances), and the server CPU per registration.
 * Failover figures (gap, 503s, bindings lost with REDIS_WAIT_REPLICAS) come from test/scale/failover.test.ts.
 * --topology cluster runs the instances on a Redis Cluster of 3 masters and 3 replicas instead of one Redis.
 * usage: npm run build && node bench/scale-out.mjs [--phones 60] [--seconds 5] [--topology single|cluster]
 */
import { parseArgs } from 'node:util';
import { closedLoop } from './lib/closed-loop.mjs';
import { padWidthFor } from './lib/accounts.mjs';
import { importAccounts, startRedis, startRedisCluster, startSipreg, workDir } from './lib/sipreg.mjs';

const { values } = parseArgs({
  options: {
    phones: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '5' },
    topology: { type: 'string', default: 'single' },
  },
});
if (!['single', 'cluster'].includes(values.topology)) throw new Error('--topology single|cluster');
const PHONES = Number(values.phones);
const SECONDS = Number(values.seconds);
const DOMAIN = 'bench.test';

const dir = workDir('scale-out');
const cluster = values.topology === 'cluster';
const redis = cluster ? await startRedisCluster(dir) : await startRedis(dir);
const servers = [];
try {
  for (let i = 0; i < 2; i++) {
    servers.push(
      await startSipreg({
        dir: workDir(`scale-out-${i}`),
        redisUrl: cluster ? null : redis.url,
        env: cluster ? { REDIS_CLUSTER_NODES: redis.seeds } : {},
      }),
    );
  }
  await importAccounts({ adminPort: servers[0].adminPort, token: servers[0].token, accounts: PHONES, domain: DOMAIN });
  const width = padWidthFor(PHONES);
  const totals = { 1: { regs: 0, wallS: 0, cpuS: 0 }, 2: { regs: 0, wallS: 0, cpuS: 0 } };
  for (const n of [1, 2, 1, 2]) {
    const r = await closedLoop({
      transport: 'udp',
      servers: servers.slice(0, n),
      phones: PHONES,
      seconds: SECONDS,
      width,
      domain: DOMAIN,
    });
    totals[n].regs += r.regs;
    totals[n].wallS += r.wallS;
    totals[n].cpuS += r.cpuS;
  }
  for (const n of [1, 2]) {
    const t = totals[n];
    console.log(
      `${n} instance${n > 1 ? 's' : ''}: ${(t.regs / t.wallS).toFixed(0)} registrations/s, ` +
        `${((t.cpuS * 1e6) / t.regs).toFixed(0)} sipreg CPU-us per registration (${PHONES} phones, ${cluster ? 'Redis Cluster 3+3' : 'one Redis'}, 2 x ${SECONDS} s)`,
    );
  }
} finally {
  for (const s of servers) await s.stop();
  await redis.stop();
}
