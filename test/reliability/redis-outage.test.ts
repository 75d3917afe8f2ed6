/**
 * Redis goes away under traffic: every REGISTER answered meanwhile is 503 with Retry-After (RFC 3261 21.5.4), never a
 * 200; the process neither crashes nor grows; /healthz says 503. Redis returns: registrations succeed again by
 * themselves within 5 s, without restarting the registrar.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { Phone } from '../helpers/phone.js';
import { first } from '../helpers/sip-client.js';
import { createAccounts, killAll, spawnServer } from '../helpers/server-process.js';
import { UdpChannel } from './udp-channel.js';

const PASSWORD = 'outage-secret-pw-1';

interface Attempt {
  startedAt: number;
  endedAt: number;
  status: number; // 0: no answer
  retryAfter: string | undefined;
}

describe('Redis outage under traffic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-outage-'));
  let redis: RedisServerHandle | undefined;

  afterAll(async () => {
    killAll();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 + Retry-After while Redis is down, stays up and bounded, and resumes within 5 s', async () => {
    // appendonly: the accounts survive the restart (a stop without persistence would empty Redis).
    redis = await startRedisServer({ dir, appendonly: true });
    const server = await spawnServer({ REDIS_URL: redis.url });
    const users = Array.from({ length: 40 }, (_, i) => `out${i}`);
    await createAccounts(server.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(server.udpPort, { timeoutMs: 4_000 });
    const attempts: Attempt[] = [];
    let stop = false;
    let k = 0;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const user = users[k++ % users.length] as string;
        const phone = new Phone(channel, { user, domain: 'example.com', password: PASSWORD });
        const startedAt = Date.now();
        try {
          const r = await phone.register({ expires: 600 });
          attempts.push({ startedAt, endedAt: Date.now(), status: r.status, retryAfter: first(r, 'retry-after') });
        } catch {
          attempts.push({ startedAt, endedAt: Date.now(), status: 0, retryAfter: undefined });
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    try {
      while (attempts.filter((a) => a.status === 200).length < 20) await new Promise((r) => setTimeout(r, 20));
      const rssBefore = server.rssKb() ?? 0;

      await redis.stop();
      const downAt = Date.now();
      let healthDown = false;
      let rssMax = rssBefore;
      while (Date.now() - downAt < 3_000) {
        if ((await fetch(`${server.adminUrl}/healthz`)).status === 503) healthDown = true;
        rssMax = Math.max(rssMax, server.rssKb() ?? 0);
        await new Promise((r) => setTimeout(r, 200));
      }
      const restartAt = Date.now();
      await redis.restart();
      const upAt = Date.now();
      let resumedAt = -1;
      while (Date.now() - upAt < 8_000 && resumedAt < 0) {
        const ok = attempts.find((a) => a.startedAt >= upAt && a.status === 200);
        if (ok) resumedAt = ok.endedAt;
        await new Promise((r) => setTimeout(r, 50));
      }
      stop = true;
      await Promise.all(workers);

      const during = attempts.filter((a) => a.startedAt >= downAt && a.endedAt <= restartAt);
      expect(during.length).toBeGreaterThan(5);
      expect(during.filter((a) => a.status === 200)).toEqual([]);
      expect(
        during.every((a) => a.status === 503 && a.retryAfter !== undefined),
        JSON.stringify(during.slice(0, 3)),
      ).toBe(true);
      expect(healthDown).toBe(true);
      expect(rssMax - rssBefore).toBeLessThan(50 * 1024);
      expect(resumedAt, 'no registration succeeded after Redis came back').toBeGreaterThan(0);
      expect(resumedAt - upAt).toBeLessThan(5_000);
      expect((await fetch(`${server.adminUrl}/healthz`)).status).toBe(200);
      expect(server.child.exitCode).toBeNull();
      expect(server.lines.filter((l) => /unhandled rejection|message handling failed/.test(l))).toEqual([]);
      server.child.kill('SIGTERM');
      expect((await server.exit).code).toBe(0);
    } finally {
      stop = true;
      await Promise.all(workers);
      channel.close();
    }
  }, 40_000);
});
