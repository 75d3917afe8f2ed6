/**
 * The Redis adapter on a real Redis Cluster: 3 masters and 3 replicas (six redis-server processes on loopback, made
 * with redis-cli --cluster create). The whole store contract runs against it, so no script or pipeline may cross a
 * slot (Cluster refuses CROSSSLOT); then the keys must really spread over the masters, and WAIT must reach the
 * master that took the write.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startCluster, type ClusterSetup } from '../helpers/redis-server.js';
import { account, binding, storeContract } from './contract.js';

let cluster: ClusterSetup;
let seq = 0;

beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

/** One binding for the AOR, committed the registrar's way (read the version, commit against it). */
async function registerOne(store: RedisStore, aor: string, address: string, now: number): Promise<void> {
  const snap = await store.loadRegistration(aor, address, now);
  const r = await store.commitRegistration({
    aor,
    expectedVersion: snap.version,
    bindings: [binding('a', now + 600_000)],
    nonce: null,
    authenticated: true,
    now,
  });
  expect(r).toBe('ok');
}

const seeds = () => cluster.nodes.slice(0, 2).map((n) => ({ host: '127.0.0.1', port: n.port }));

storeContract('RedisStore on Redis Cluster', async () => {
  const store = new RedisStore({ cluster: seeds() }, { keyPrefix: `c${++seq}:` });
  return { store, cleanup: () => store.close() };
});

describe('RedisStore on Redis Cluster: placement', () => {
  it('spreads accounts, bindings, lockouts and the expiry index over all three masters', async () => {
    const store = new RedisStore({ cluster: seeds() }, { keyPrefix: 'spread:' });
    const now = Date.now();
    try {
      for (let i = 0; i < 60; i++) {
        const aor = `u${i}@example.com`;
        expect(await store.createAccount(account(aor))).toBe(true);
        await registerOne(store, aor, `192.0.2.${i}`, now);
      }
      await store.recordFailure({
        aor: 'u1@example.com',
        address: '198.51.100.7',
        countAddress: true,
        now,
        policy: {
          extension: { threshold: 1, lockMs: 60_000 },
          address: { threshold: 1, windowMs: 60_000, lockMs: 60_000 },
          escalation: { windowMs: 60_000, factor: 2, permanentAfter: 0 },
        },
      });
      expect(await store.countBindings(now)).toBe(60);
      expect(await store.countAccounts()).toBe(60);
      const listed = await store.listLockouts(now);
      expect(listed.extensions.map((e) => e.aor)).toEqual(['u1@example.com']);
      expect(listed.addresses.map((a) => a.address)).toEqual(['198.51.100.7']);

      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      const perMaster = await Promise.all(
        masters.map(async (m) => {
          const r = new Redis(m.url);
          try {
            return (await r.keys('spread:*')).length;
          } finally {
            r.disconnect();
          }
        }),
      );
      // 60 AORs x 2 keys (account, bindings) plus the indexes, about 40 a master: each holds a real share.
      for (const n of perMaster) expect(n).toBeGreaterThan(10);
    } finally {
      await store.close();
    }
  });

  it('waits for the replica of the master that took the registration (WAIT 1)', async () => {
    const store = new RedisStore({ cluster: seeds() }, { keyPrefix: 'wait:', waitReplicas: 1, waitTimeoutMs: 2000 });
    const now = Date.now();
    try {
      for (const aor of ['alice@example.com', 'bob@example.com', 'carol@example.com']) {
        await store.createAccount(account(aor));
        await registerOne(store, aor, '192.0.2.1', now);
        // The replica of that slot's master has the binding already: WAIT returned only after it acknowledged.
        const master = await cluster.masterOf(`wait:{${aor}}:b`);
        const m = new Redis(master.url);
        try {
          const replicas = String(await m.info('replication'));
          const port = /slave0:ip=[^,]+,port=(\d+)/.exec(replicas)?.[1];
          expect(port).toBeDefined();
          const replica = new Redis(Number(port), '127.0.0.1');
          try {
            await replica.readonly();
            expect(await replica.hexists(`wait:{${aor}}:b`, 'a')).toBe(1);
          } finally {
            replica.disconnect();
          }
        } finally {
          m.disconnect();
        }
      }
    } finally {
      await store.close();
    }
  });
});
