/**
 * A restart knocks off no phone (contract: "A restart of the registrar, or a phone moving to another instance, must
 * not fail a phone's next refresh"). An office of 30 phones behind one address registers; the registrar restarts (or
 * a second instance takes the traffic); each phone refreshes as phones do, reusing its nonce with nc+1. No phone gets
 * a 403 or silence, no failure is counted, nothing is locked out. Neither instance is given a NONCE_SECRET.
 */
import { describe, expect, it } from 'vitest';
import { redisForSuite } from '../helpers/redis-suite.js';
import { Phone } from '../helpers/phone.js';
import { ADMIN_TOKEN, createAccounts, spawnServer, type ServerProcess } from '../helpers/server-process.js';
import type { TestResponse } from '../helpers/sip-client.js';
import { UdpChannel } from './udp-channel.js';

const PASSWORD = 'office-phone-secret-7';
const PHONES = 30;

async function blacklist(server: ServerProcess): Promise<{ extensions: unknown[]; addresses: unknown[] }> {
  const res = await fetch(`${server.adminUrl}/api/v1/blacklist`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return (await res.json()) as { extensions: unknown[]; addresses: unknown[] };
}

/** Registers every phone in turn through `channel` (one source address), each remembering its challenge. */
async function registerAll(channel: UdpChannel, users: readonly string[]): Promise<Phone[]> {
  const phones = users.map((user) => new Phone(channel, { user, domain: 'example.com', password: PASSWORD }));
  const first = await Promise.all(phones.map((p) => p.register({ expires: 3600 })));
  expect(first.map((r) => r.status)).toEqual(phones.map(() => 200));
  return phones;
}

/** Each phone refreshes with its old nonce and nc=2, in parallel, as an office does after a restart. */
function refreshAll(phones: readonly Phone[]): Promise<TestResponse[]> {
  return Promise.all(phones.map((p) => p.answerWith(p.lastChallenge!, { expires: 3600 }, PASSWORD, 2)));
}

function noFailuresLogged(...servers: ServerProcess[]): void {
  for (const s of servers)
    expect(s.lines.filter((l) => l.includes('"auth-failed"') || l.includes('"lockout"'))).toEqual([]);
}

describe('a restart knocks off no phone', () => {
  const redis = redisForSuite();

  it('Redis store: after a restart every phone refreshes with its old nonce and nc+1 (200)', async () => {
    const env = { REDIS_URL: redis().url, NONCE_SECRET: undefined };
    const first = await spawnServer(env);
    const users = Array.from({ length: PHONES }, (_, i) => `office${i}`);
    await createAccounts(first.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(first.udpPort, { timeoutMs: 4_000 });
    try {
      const phones = await registerAll(channel, users);
      first.child.kill('SIGTERM');
      expect((await first.exit).code).toBe(0);

      const second = await spawnServer(env);
      channel.retarget(second.udpPort);
      const refreshed = await refreshAll(phones);
      expect(refreshed.map((r) => r.status)).toEqual(phones.map(() => 200));
      expect(await blacklist(second)).toEqual({ extensions: [], addresses: [] });
      noFailuresLogged(first, second);
      second.child.kill('SIGTERM');
      await second.exit;
    } finally {
      channel.close();
    }
  }, 40_000);

  it('Redis store: a nonce from one running instance is good at another', async () => {
    const env = { REDIS_URL: redis().url, NONCE_SECRET: undefined };
    const [a, b] = await Promise.all([spawnServer(env), spawnServer(env)]);
    const users = Array.from({ length: PHONES }, (_, i) => `moving${i}`);
    await createAccounts(a!.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(a!.udpPort, { timeoutMs: 4_000 });
    try {
      const phones = await registerAll(channel, users);
      channel.retarget(b!.udpPort);
      const refreshed = await refreshAll(phones);
      expect(refreshed.map((r) => r.status)).toEqual(phones.map(() => 200));
      // A challenge from b, answered at a.
      const fresh = await Promise.all(phones.map((p) => p.send({ expires: 3600 })));
      channel.retarget(a!.udpPort);
      const answered = await Promise.all(
        phones.map((p, i) => p.answerWith(p.challengesOf(fresh[i]!)[0]!, { expires: 3600 })),
      );
      expect(answered.map((r) => r.status)).toEqual(phones.map(() => 200));
      expect(await blacklist(a!)).toEqual({ extensions: [], addresses: [] });
      noFailuresLogged(a!, b!);
    } finally {
      channel.close();
    }
  }, 40_000);

  it('embedded store: after a restart the old nonces are re-challenged with stale=true, never refused', async () => {
    const first = await spawnServer({ NONCE_SECRET: undefined });
    const users = Array.from({ length: PHONES }, (_, i) => `mem${i}`);
    await createAccounts(first.adminUrl, users, PASSWORD);
    const channel = await UdpChannel.open(first.udpPort, { timeoutMs: 4_000 });
    try {
      const phones = await registerAll(channel, users);
      first.child.kill('SIGTERM');
      await first.exit;

      // Nothing survived but the phones' memory; the operator provisions the accounts again.
      const second = await spawnServer({ NONCE_SECRET: undefined });
      await createAccounts(second.adminUrl, users, PASSWORD);
      channel.retarget(second.udpPort);
      const refreshed = await refreshAll(phones);
      expect(refreshed.map((r) => r.status)).toEqual(phones.map(() => 401));
      for (const r of refreshed) expect(r.headers.get('www-authenticate')?.[0]).toMatch(/stale=true/);
      // The phones answer the fresh challenge at once and are registered again.
      const again = await Promise.all(
        phones.map((p, i) => p.answerWith(p.challengesOf(refreshed[i]!)[0]!, { expires: 3600 })),
      );
      expect(again.map((r) => r.status)).toEqual(phones.map(() => 200));
      expect(await blacklist(second)).toEqual({ extensions: [], addresses: [] });
      noFailuresLogged(first, second);
    } finally {
      channel.close();
    }
  }, 40_000);
});
