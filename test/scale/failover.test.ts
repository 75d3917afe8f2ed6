/**
 * Durability on failover: with REDIS_WAIT_REPLICAS=1, a Redis master killed with kill -9 in the middle of a bounded
 * registration run loses no binding that got a 200. Sentinel promotes the replica; sipreg finds it through the
 * sentinels; once the old master is back as a replica, WAIT succeeds again and sipreg serves. Until then every REGISTER
 * gets 503 (never a 200 that a second failure could lose). The run prints the gap and the 503s it saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone } from '../helpers/phone.js';
import { startSentinelSetup, type SentinelSetup } from '../helpers/redis-server.js';
import { createAccounts, killAll, spawnServer } from '../helpers/server-process.js';
import { RedisStore } from '../../src/store/redis.js';
import { UdpChannel } from '../reliability/udp-channel.js';

const PASSWORD = 'failover-secret-pw-1';

describe('failover with REDIS_WAIT_REPLICAS=1', () => {
  let setup: SentinelSetup;

  beforeAll(async () => {
    setup = await startSentinelSetup('sipreg');
  }, 30_000);
  afterAll(async () => {
    killAll();
    await setup?.stop();
  });

  it('a master killed during registrations loses no acknowledged binding', async () => {
    const { master, sentinels } = setup;
    const sentinelList = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const server = await spawnServer({
      REDIS_SENTINELS: setup.sentinelList,
      REDIS_SENTINEL_NAME: 'sipreg',
      REDIS_WAIT_REPLICAS: '1',
      NONCE_SECRET: undefined,
    });
    const users = Array.from({ length: 400 }, (_, i) => `fo${i}`);
    await createAccounts(server.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(server.udpPort, { timeoutMs: 1500 });
    const acked = new Set<string>();
    const statuses = new Map<number, number>();
    let lastOkBeforeKill = 0;
    let firstOkAfterKill = 0;
    let killedAt = 0;
    let next = 0;
    const deadline = Date.now() + 25_000;
    const worker = async (): Promise<void> => {
      while (Date.now() < deadline) {
        const user = users[next++ % users.length] as string;
        const started = Date.now();
        try {
          const r = await new Phone(channel, { user, domain: 'example.com', password: PASSWORD }).register({
            expires: 3600,
          });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 503) await new Promise((res) => setTimeout(res, 50)); // Retry-After, shortened
          if (r.status === 200) {
            acked.add(user);
            const now = Date.now();
            if (killedAt === 0) lastOkBeforeKill = now;
            // Served again: a request that began after the kill got its 200 (WAIT included).
            else if (started > killedAt && firstOkAfterKill === 0) firstOkAfterKill = now;
          }
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1); // no answer
        }
        // After the failover, a few more registrations are enough.
        if (firstOkAfterKill !== 0 && Date.now() - firstOkAfterKill > 1000) return;
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    while (acked.size < 100) await new Promise((r) => setTimeout(r, 10));
    killedAt = Date.now();
    await master.kill9();
    // The promoted replica has no replica of its own, so WAIT 1 cannot succeed (503s, by design) until the old master
    // is back; systemd would restart it, and Sentinel turns it into a replica of the new master.
    await new Promise((r) => setTimeout(r, 3000));
    await master.restart();
    await Promise.all(workers);
    channel.close();

    const gapMs = firstOkAfterKill === 0 ? -1 : firstOkAfterKill - killedAt;
    console.log(
      `failover: ${gapMs} ms from kill -9 of the master to the first 200 of a REGISTER sent after it ` +
        `(last 200 before: ${killedAt - lastOkBeforeKill} ms before the kill); ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))} (0 = no answer); ${acked.size} acknowledged`,
    );
    expect(firstOkAfterKill, 'served again after the failover').toBeGreaterThan(0);

    const store = new RedisStore({ sentinels: sentinelList, name: 'sipreg' });
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await store.ping();
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const now = Date.now();
      const lost: string[] = [];
      for (const user of acked) {
        if ((await store.getBindings(`${user}@example.com`, now)).length === 0) lost.push(user);
      }
      expect(lost, `acknowledged but lost: ${lost.join(', ')}`).toEqual([]);
    } finally {
      await store.close();
    }
  }, 60_000);
});
