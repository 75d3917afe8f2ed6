/**
 * Graceful shutdown of the real process (`node dist/main.js`) with a real redis-server: SIGTERM in the middle of
 * registrations exits 0 within the bound and loses no acknowledged binding; a second signal exits at once; and
 * NODE_ENV=development starts without pino-pretty installed.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { Phone } from '../helpers/phone.js';
import { RedisStore } from '../../src/store/redis.js';
import { createAccounts, killAll, spawnServer } from '../helpers/server-process.js';
import { UdpChannel } from '../reliability/udp-channel.js';

const PASSWORD = 'shutdown-secret-pw-1';
const SHUTDOWN_BOUND_MS = 10_000; // src/main.ts

function redisPid(port: number): number {
  const out = spawnSync('redis-cli', ['-p', String(port), 'info', 'server'], { encoding: 'utf8' });
  const pid = Number(/process_id:(\d+)/.exec(out.stdout ?? '')?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`cannot read redis-server's pid: ${out.stderr}`);
  return pid;
}

describe('graceful shutdown of node dist/main.js', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(() => killAll());
  afterAll(async () => {
    await redis?.stop();
  });

  it('exits 0 within the bound on SIGTERM mid-traffic, and every acknowledged registration is in Redis', async () => {
    const server = await spawnServer({ REDIS_URL: redis.url });
    const users = Array.from({ length: 400 }, (_, i) => `sd${i}`);
    await createAccounts(server.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(server.udpPort, { timeoutMs: 2_500 });
    const acked: string[] = [];
    let unanswered = 0;
    let next = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop && next < users.length) {
        const user = users[next++] as string;
        const phone = new Phone(channel, { user, domain: 'example.com', password: PASSWORD });
        try {
          const r = await phone.register({ expires: 3600 });
          if (r.status === 200) acked.push(user);
        } catch {
          unanswered++;
        }
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    while (acked.length < 60) await new Promise((r) => setTimeout(r, 10));

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const exit = await server.exit;
    const took = Date.now() - signalledAt;
    stop = true;
    await Promise.all(workers);
    channel.close();

    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(SHUTDOWN_BOUND_MS);
    expect(server.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    // The signal came mid-traffic: some registrations were left unanswered.
    expect(acked.length).toBeLessThan(users.length);
    expect(unanswered).toBeGreaterThan(0);

    const store = new RedisStore(redis.url);
    try {
      const now = Date.now();
      const missing: string[] = [];
      for (const user of acked) {
        const bindings = await store.getBindings(`${user}@example.com`, now);
        if (!bindings.some((b) => b.uri.includes(`sip:${user}@`))) missing.push(user);
      }
      expect(missing, `acknowledged but not in Redis: ${missing.join(', ')}`).toEqual([]);
    } finally {
      await store.close();
    }
  }, 30_000);

  it('exits at once on a second signal while the first shutdown is still draining', async () => {
    const server = await spawnServer({ REDIS_URL: redis.url });
    await createAccounts(server.adminUrl, ['sd-second'], PASSWORD);
    const channel = await UdpChannel.open(server.udpPort, { timeoutMs: 1_500 });
    const pid = redisPid(redis.port);
    // Redis frozen: a REGISTER in flight waits for it (up to the store's command timeout), so the drain takes time.
    process.kill(pid, 'SIGSTOP');
    try {
      const phone = new Phone(channel, { user: 'sd-second', domain: 'example.com', password: PASSWORD });
      const inFlight = phone.send().catch(() => null);
      await new Promise((r) => setTimeout(r, 150));
      server.child.kill('SIGTERM');
      await server.waitFor((l) => l.includes('shutting down'));
      await new Promise((r) => setTimeout(r, 200));
      expect(server.child.exitCode).toBeNull(); // still draining
      const at = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.exit;
      expect(Date.now() - at).toBeLessThan(1_000);
      expect(exit.code).not.toBe(0);
      expect(server.lines.some((l) => l.includes('second signal'))).toBe(true);
      await inFlight;
    } finally {
      process.kill(pid, 'SIGCONT');
      channel.close();
    }
  }, 20_000);

  it('still exits within the bound when its stdout reader has gone away (log pipe closed)', async () => {
    const server = await spawnServer({});
    server.child.stdout?.destroy();
    server.child.stderr?.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const at = Date.now();
    server.child.kill('SIGTERM');
    const exited = await Promise.race([
      server.exit,
      new Promise<null>((r) => setTimeout(() => r(null), SHUTDOWN_BOUND_MS + 1_000)),
    ]);
    expect(exited, 'still running after SIGTERM with a closed stdout').not.toBeNull();
    expect(Date.now() - at).toBeLessThan(SHUTDOWN_BOUND_MS + 1_000);
  }, 20_000);

  it('starts with NODE_ENV=development although pino-pretty is not installed, logging JSON', async () => {
    expect(() => createRequire(import.meta.url).resolve('pino-pretty')).toThrow();
    const server = await spawnServer({ NODE_ENV: 'development' });
    expect((await fetch(`${server.adminUrl}/healthz`)).status).toBe(200);
    expect(server.lines.filter((l) => l.startsWith('{')).length).toBeGreaterThan(2);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});
