/**
 * A rolling restart under load with the Redis store: the registrar is stopped with SIGTERM in the middle of
 * registrations and a new one is started on the same Redis; traffic goes on against the new one. No binding that was
 * acknowledged with a 200, before or after the restart, is lost, and the new instance serves at once.
 */
import { describe, expect, it } from 'vitest';
import { redisForSuite } from '../helpers/redis-suite.js';
import { Phone } from '../helpers/phone.js';
import { RedisStore } from '../../src/store/redis.js';
import { createAccounts, spawnServer } from '../helpers/server-process.js';
import { UdpChannel } from './udp-channel.js';

const PASSWORD = 'restart-secret-pw-1';

describe('restart under load (Redis store)', () => {
  const redis = redisForSuite();

  it('loses no acknowledged binding across SIGTERM and a new instance', async () => {
    const first = await spawnServer({ REDIS_URL: redis().url });
    const users = Array.from({ length: 600 }, (_, i) => `rs${i}`);
    await createAccounts(first.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(first.udpPort, { timeoutMs: 2_000 });
    const acked = new Map<string, number>(); // user -> instance (1 or 2) that acknowledged it
    let instance = 1;
    let next = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop && next < users.length) {
        const user = users[next++] as string;
        const by = instance;
        try {
          const r = await new Phone(channel, { user, domain: 'example.com', password: PASSWORD }).register({
            expires: 3600,
          });
          if (r.status === 200) acked.set(user, by);
        } catch {
          // unanswered: the instance was shutting down
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    try {
      while (acked.size < 80) await new Promise((r) => setTimeout(r, 10));
      first.child.kill('SIGTERM');
      expect((await first.exit).code).toBe(0);
      const second = await spawnServer({ REDIS_URL: redis().url });
      instance = 2;
      channel.retarget(second.udpPort);
      const upAt = Date.now();
      while ([...acked.values()].filter((i) => i === 2).length < 80 && Date.now() - upAt < 10_000) {
        await new Promise((r) => setTimeout(r, 10));
      }
      stop = true;
      await Promise.all(workers);
      second.child.kill('SIGTERM');
      expect((await second.exit).code).toBe(0);
    } finally {
      stop = true;
      await Promise.all(workers);
      channel.close();
    }

    const byFirst = [...acked.values()].filter((i) => i === 1).length;
    const bySecond = acked.size - byFirst;
    expect(byFirst).toBeGreaterThanOrEqual(80);
    expect(bySecond).toBeGreaterThanOrEqual(80);
    const store = new RedisStore(redis().url);
    try {
      const now = Date.now();
      const missing: string[] = [];
      for (const user of acked.keys()) {
        const bindings = await store.getBindings(`${user}@example.com`, now);
        if (!bindings.some((b) => b.uri.includes(`sip:${user}@`))) missing.push(user);
      }
      expect(missing, `acknowledged but lost: ${missing.join(', ')}`).toEqual([]);
    } finally {
      await store.close();
    }
  }, 40_000);
});
