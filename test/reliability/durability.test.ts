/**
 * Durability of acknowledged registrations: Redis with `appendonly yes` and `appendfsync always` is killed with
 * SIGKILL in the middle of a stream of registrations, then restarted from its AOF: every binding that got a 200 is
 * there. (With `everysec`, up to about a second of acknowledged writes may be lost: docs/reliability.md.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { Phone } from '../helpers/phone.js';
import { RedisStore } from '../../src/store/redis.js';
import { UdpChannel } from './udp-channel.js';

const PASSWORD = 'durable-secret-pw-1';
const PREFIX = 'dur:';

describe('durability with appendfsync always', () => {
  let redis: RedisServerHandle;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    t = await startTestApp({}, { store: new RedisStore(redis.url, { keyPrefix: PREFIX, commandTimeoutMs: 1_000 }) });
  });

  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
  });

  it('keeps every acknowledged binding across kill -9 of Redis', async () => {
    const users = Array.from({ length: 300 }, (_, i) => `dur${i}`);
    for (const u of users) await t.app.accounts.create({ username: u, domain: 'example.com', password: PASSWORD });
    const channel = await UdpChannel.open(t.udpPort, { timeoutMs: 3_000 });
    const acked: string[] = [];
    let failed = 0;
    let next = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop && next < users.length) {
        const user = users[next++] as string;
        try {
          const r = await new Phone(channel, { user, domain: 'example.com', password: PASSWORD }).register({
            expires: 3600,
          });
          if (r.status === 200) acked.push(user);
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    try {
      while (acked.length < 80) await new Promise((r) => setTimeout(r, 5));
      await redis.kill9();
      // Keep sending a little while Redis is dead: none of these may be acknowledged.
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(workers);
    } finally {
      stop = true;
      channel.close();
    }
    expect(failed).toBeGreaterThan(0); // the kill really happened mid-run

    await redis.restart();
    const store = new RedisStore(redis.url, { keyPrefix: PREFIX });
    try {
      const now = Date.now();
      const missing: string[] = [];
      for (const u of acked) {
        const bindings = await store.getBindings(`${u}@example.com`, now);
        if (!bindings.some((b) => b.uri.includes(`sip:${u}@`))) missing.push(u);
      }
      expect(missing, `acknowledged but lost: ${missing.join(', ')}`).toEqual([]);
      expect(acked.length).toBeGreaterThanOrEqual(80);
    } finally {
      await store.close();
    }
  }, 30_000);
});
