/**
 * Many registrar instances in front of one Redis (plain, through Sentinel, and a Cluster): what one instance learns,
 * the other enforces at once. Real processes on loopback: two `node dist/main.js`, redis-server, for Sentinel a
 * master, a replica and three sentinels, and for Cluster three masters with a replica each. Neither instance is given a NONCE_SECRET: they share the one kept in Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../helpers/phone.js';
import { clusterForSuite, redisForSuite, sentinelForSuite } from '../helpers/redis-suite.js';
import { ADMIN_TOKEN, createAccounts, spawnServer, type ServerProcess } from '../helpers/server-process.js';
import { UdpChannel } from '../reliability/udp-channel.js';

const PASSWORD = 'scale-out-secret-7';
const DOMAIN = 'example.com';

const api = (s: ServerProcess, method: string, path: string, body?: unknown) =>
  fetch(`${s.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Polls `probe` until it gives `want`, for at most `ms`; returns how long that took (or -1). */
async function within(ms: number, probe: () => Promise<number>, want: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if ((await probe()) === want) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  return -1;
}

function twoInstances(env: () => Record<string, string | undefined>): void {
  let a: ServerProcess;
  let b: ServerProcess;
  let toA: UdpChannel;
  let toB: UdpChannel;
  let n = 0;

  beforeAll(async () => {
    [a, b] = await Promise.all([spawnServer(env()), spawnServer(env())]);
    [toA, toB] = await Promise.all([
      UdpChannel.open(a.udpPort, { timeoutMs: 3000 }),
      UdpChannel.open(b.udpPort, { address: '127.0.0.2', timeoutMs: 3000 }),
    ]);
  }, 60_000);
  afterAll(() => {
    toA?.close();
    toB?.close();
  });

  async function user(): Promise<string> {
    const u = `so${n++}`;
    await createAccounts(a.adminUrl, [u], PASSWORD);
    return u;
  }
  const phone = (ch: UdpChannel, u: string, pw = PASSWORD) => new Phone(ch, { user: u, domain: DOMAIN, password: pw });

  it('an account made through one registers through the other; both list the binding', async () => {
    const u = await user();
    expect((await phone(toB, u).register()).status).toBe(200);
    for (const s of [a, b]) {
      const r = (await (await api(s, 'GET', `/api/v1/accounts/${u}/bindings`)).json()) as { bindings: unknown[] };
      expect(r.bindings).toHaveLength(1);
    }
  });

  it('a challenge from one is answered at the other', async () => {
    const u = await user();
    const p = phone(toA, u);
    const challenge = p.challengesOf(await p.send())[0]!;
    const q = phone(toB, u);
    expect((await q.answerWith(challenge)).status).toBe(200);
  });

  it('a lockout made through one is enforced by the other at once; a lift on the other is seen within 1 s', async () => {
    const u = await user();
    // The right password registers at b first, so b has the AOR in its cache.
    expect((await phone(toB, u).register()).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await phone(toA, u, 'wrong-password-1').register()).status).toBe(403);
    // b: the locked extension refuses the right password from an address without a binding... b's phone has one,
    // so a third address tries (no binding there): refused at once.
    const third = await UdpChannel.open(b.udpPort, { address: '127.0.0.3', timeoutMs: 3000 });
    try {
      const waited = await within(1000, async () => (await phone(third, u).register()).status, 403);
      expect(waited).toBeGreaterThanOrEqual(0);
      expect((await api(b, 'DELETE', `/api/v1/blacklist/extensions/${u}`)).status).toBe(204);
      const thirdAtA = await UdpChannel.open(a.udpPort, { address: '127.0.0.3', timeoutMs: 3000 });
      try {
        const seen = await within(1000, async () => (await phone(thirdAtA, u).register()).status, 200);
        expect(seen).toBeGreaterThanOrEqual(0);
      } finally {
        thirdAtA.close();
      }
    } finally {
      third.close();
    }
  });

  it('a disable on one is enforced by the other within 1 s', async () => {
    const u = await user();
    expect((await phone(toB, u).register()).status).toBe(200); // cached at b
    expect((await api(a, 'PATCH', `/api/v1/accounts/${u}`, { enabled: false })).status).toBe(200);
    const seen = await within(1000, async () => (await phone(toB, u).register()).status, 403);
    expect(seen).toBeGreaterThanOrEqual(0);
  });
}

describe('two instances on one Redis', () => {
  const redis = redisForSuite();
  twoInstances(() => ({ REDIS_URL: redis().url, NONCE_SECRET: undefined }));
});

describe('two instances on Redis Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  const sentinel = sentinelForSuite();

  twoInstances(() => ({
    REDIS_SENTINELS: sentinel().sentinelList,
    REDIS_SENTINEL_NAME: 'sipreg',
    REDIS_WAIT_REPLICAS: '1',
    NONCE_SECRET: undefined,
  }));

  it('the replica has the registrations (WAIT 1)', async () => {
    const r = new Redis(sentinel().replica.url);
    try {
      const keys = await r.keys('sipreg:{so*}:b');
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      r.disconnect();
    }
  });
});

describe('two instances on Redis Cluster (3 masters, 3 replicas)', () => {
  const cluster = clusterForSuite();

  twoInstances(() => ({
    // Seeds: two of the six nodes; ioredis learns the rest from CLUSTER SLOTS.
    REDIS_CLUSTER_NODES: cluster().nodeList.split(',').slice(0, 2).join(','),
    REDIS_WAIT_REPLICAS: '1',
    NONCE_SECRET: undefined,
  }));

  it("the instances' keys are spread over every master", async () => {
    const masters = await cluster().masters();
    expect(masters).toHaveLength(3);
    for (const m of masters) {
      const r = new Redis(m.url);
      try {
        expect((await r.keys('sipreg:*')).length).toBeGreaterThan(0);
      } finally {
        r.disconnect();
      }
    }
  });
});
