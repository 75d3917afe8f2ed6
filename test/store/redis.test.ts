import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { createStore } from '../../src/store/index.js';
import { DEFAULT_CONFIG } from '../../src/config.js';
import { MemoryStore } from '../../src/store/memory.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { account, binding, storeContract } from './contract.js';

let server: RedisServerHandle;
let seq = 0;

/** A store under a fresh key prefix, and a raw client to look at what it wrote; both closed after `use`. */
async function withStore(tag: string, use: (store: RedisStore, raw: Redis, prefix: string) => Promise<void>) {
  const prefix = `${tag}${++seq}:`;
  const store = new RedisStore(server.url, { keyPrefix: prefix });
  const raw = new Redis(server.url);
  try {
    await use(store, raw, prefix);
  } finally {
    raw.disconnect();
    await store.close();
  }
}

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

// Each test gets its own key prefix on the shared server, so tests cannot see each other's data.
storeContract('RedisStore', async () => {
  const store = new RedisStore(server.url, { keyPrefix: `t${++seq}:` });
  return { store, cleanup: () => store.close() };
});

describe('RedisStore specifics', () => {
  const T0 = Date.now();
  /** An authenticated commit of `bindings` against the AOR's current version. */
  const commitNow = async (store: RedisStore, aor: string, bindings: ReturnType<typeof binding>[], now: number) =>
    store.commitRegistration({
      aor,
      expectedVersion: (await store.loadRegistration(aor, '192.0.2.1', now)).version,
      bindings,
      nonce: null,
      authenticated: true,
      now,
    });

  it('counts bindings by the second they expire in, with no entry per binding', async () => {
    await withStore('c', async (store, raw, prefix) => {
      const t = 1_800_000_000_000; // whole seconds
      const commit = (aor: string, bindings: ReturnType<typeof binding>[], now: number) =>
        commitNow(store, aor, bindings, now);
      for (const aor of ['c1@example.com', 'c2@example.com']) await store.createAccount(account(aor));
      expect(await commit('c1@example.com', [binding('a', t + 10_000), binding('b', t + 60_000)], t)).toBe('ok');
      expect(await commit('c2@example.com', [binding('a', t + 60_500)], t)).toBe('ok');
      expect(await store.countBindings(t)).toBe(3);
      // Counted until the second it expires in is over, then not, without anything written at expiry.
      expect(await store.countBindings(t + 9_999)).toBe(3);
      expect(await store.countBindings(t + 10_000)).toBe(2);
      // A refresh moves its binding to its new second; a binding left out of the commit is taken off.
      expect(await commit('c1@example.com', [binding('b', t + 120_000)], t + 20_000)).toBe('ok');
      expect(await store.countBindings(t + 61_000)).toBe(1);
      expect(await store.countBindings(t + 119_999)).toBe(1);
      expect(await store.countBindings(t + 120_000)).toBe(0);
      // Clearing takes live bindings off; the seconds already past are gone from the shards.
      expect(await commit('c2@example.com', [binding('z', t + 3_600_000)], t + 200_000)).toBe('ok');
      expect(await store.countBindings(t + 200_000)).toBe(1);
      expect(await store.clearBindings('c2@example.com')).toBe(1);
      expect(await store.countBindings(t + 200_000)).toBe(0);
      let fields = 0;
      for (let i = 0; i < 16; i++) fields += await raw.hlen(`${prefix}bcount:{${i}}`);
      expect(fields).toBe(0);
    });
  });

  it('never counts below zero: bindings stored before the counts existed are taken off uncounted', async () => {
    await withStore('u', async (store, raw, prefix) => {
      const aor = 'old@example.com';
      await store.createAccount(account(aor));
      expect(await commitNow(store, aor, [binding('a', T0 + 3_600_000)], T0)).toBe('ok');
      await store.countBindings(T0);
      // As an upgrade finds it: the binding is stored, the counts know nothing of it.
      for (let i = 0; i < 16; i++) await raw.del(`${prefix}bcount:{${i}}`);
      expect(await store.clearBindings(aor)).toBe(1);
      expect(await store.countBindings(T0)).toBe(0);
    });
  });

  it('keeps one AOR under one hash tag, with TTLs computed from the caller now', async () => {
    await withStore('k', async (store, raw, prefix) => {
      const aor = 'alice@example.com';
      await store.createAccount(account(aor));
      // The caller's clock is a day behind Redis's: the TTL still spans expiresAt - now.
      const now = T0 - 86_400_000;
      const snap = await store.loadRegistration(aor, '192.0.2.1', now);
      const r = await store.commitRegistration({
        aor,
        expectedVersion: snap.version,
        bindings: [binding('a', now + 3_600_000), binding('b', now + 600_000)],
        nonce: { nonce: 'abc', nc: 1, ttlMs: 300_000 },
        authenticated: true,
        now,
      });
      expect(r).toBe('ok');
      // The binding counts are written after the commit on the store's own connection: a read there comes after it.
      expect(await store.countBindings(now)).toBe(2);
      const all = await raw.keys(`${prefix}*`);
      // One shard of the binding counts (sixteen hash tags), and the AOR's own keys under its tag.
      expect(all.filter((k) => /^k\d+:bcount:\{(?:[0-9]|1[0-5])\}$/.test(k))).toHaveLength(1);
      const keys = all.filter((k) => !k.includes(':bcount:')).sort();
      expect(keys).toEqual(
        [`${prefix}accounts`, `${prefix}{${aor}}:acct`, `${prefix}{${aor}}:b`, `${prefix}{${aor}}:n:abc`].sort(),
      );
      const bTtl = await raw.pttl(`${prefix}{${aor}}:b`);
      expect(bTtl).toBeGreaterThan(3_500_000);
      expect(bTtl).toBeLessThanOrEqual(3_600_000);
      const nTtl = await raw.pttl(`${prefix}{${aor}}:n:abc`);
      expect(nTtl).toBeGreaterThan(200_000);
      expect(nTtl).toBeLessThanOrEqual(300_000);
      expect(await raw.pttl(`${prefix}{${aor}}:acct`)).toBe(-1);
    });
  });

  it('gives a permanent lockout no TTL and a temporary one a bounded TTL', async () => {
    await withStore('l', async (store, raw, prefix) => {
      const policy = {
        extension: { threshold: 1, lockMs: 60_000 },
        address: { threshold: 1, windowMs: 60_000, lockMs: 60_000 },
        escalation: { windowMs: 3_600_000, factor: 2, permanentAfter: 2 },
      };
      await store.recordFailure({ aor: 'a@x', address: '192.0.2.9', countAddress: true, now: T0, policy });
      const ttl = await raw.pttl(`${prefix}addr:{192.0.2.9}`);
      expect(ttl).toBeGreaterThan(3_500_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      const r = await store.recordFailure({
        aor: 'a@x',
        address: '192.0.2.9',
        countAddress: true,
        now: T0 + 120_000,
        policy,
      });
      expect(r.extension?.lockedUntil).toBe(Number.MAX_SAFE_INTEGER);
      expect(await raw.hget(`${prefix}{a@x}:fail`, 'lockedUntil')).toBe(String(Number.MAX_SAFE_INTEGER));
      expect(await raw.pttl(`${prefix}{a@x}:fail`)).toBe(-1);
    });
  });

  it('rejects (does not hang) while Redis is down, and resumes by itself when it returns', async () => {
    const own = await startRedisServer();
    const store = new RedisStore(own.url, { keyPrefix: 'down:', commandTimeoutMs: 500 });
    try {
      await store.createAccount(account('alice@example.com'));
      await own.kill9();
      const started = Date.now();
      await expect(store.getAccount('alice@example.com')).rejects.toThrow();
      await expect(store.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5000);
      await own.restart();
      // Data is gone (no persistence in this server) but the client reconnects and scripts reload.
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        try {
          await store.ping();
          ok = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(ok).toBe(true);
      expect(await store.createAccount(account('alice@example.com'))).toBe(true);
      expect(await store.useNonce('alice@example.com', { nonce: 'n', nc: 1, ttlMs: 1000 })).toBe(true);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('failures from two instances at once are all counted (the rules decide in TypeScript, Redis compare-and-sets)', async () => {
    const prefix = `cas${randomBytes(3).toString('hex')}:`;
    const one = new RedisStore(server.url, { keyPrefix: prefix });
    const two = new RedisStore(server.url, { keyPrefix: prefix });
    const policy = {
      extension: { threshold: 1000, lockMs: 60_000 },
      address: { threshold: 1000, windowMs: 600_000, lockMs: 60_000 },
      escalation: { windowMs: 86_400_000, factor: 2, permanentAfter: 0 },
    };
    try {
      const aor = 'busy@example.com';
      await one.createAccount(account(aor));
      const now = Date.now();
      const fail = (s: RedisStore) =>
        s.recordFailure({ aor, address: '198.51.100.9', countAddress: true, now, policy });
      await Promise.all(Array.from({ length: 40 }, (_, i) => fail(i % 2 === 0 ? one : two)));
      const snap = await one.loadRegistration(aor, '198.51.100.9', now);
      expect(snap.extensionLock?.failures).toBe(40);
      expect(snap.addressLock?.failures).toBe(40);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('createStore picks the adapter from the configuration', async () => {
    const r = createStore({ ...DEFAULT_CONFIG, redisUrl: server.url });
    const m = createStore(DEFAULT_CONFIG);
    try {
      expect(r).toBeInstanceOf(RedisStore);
      expect(r.kind).toBe('redis');
      expect(r.persistent).toBe(true);
      expect(m).toBeInstanceOf(MemoryStore);
      expect(m.persistent).toBe(false);
    } finally {
      await r.close();
      await m.close();
    }
  });
});
