/**
 * What operators rely on, end to end over real SIP datagrams and real HTTP, against both stores: lockouts (by
 * extension and by address) seen and lifted through the admin API and the CLI, lockout expiry, the phone that keeps its
 * registration during an attack, password changes that drop bindings with a grace period for the old password,
 * disabling and deleting, and the token on the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { UdpClient } from '../helpers/sip-client.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { STORE_KINDS, storeFixture, type StoreFixture } from '../helpers/stores.js';
import { main as cli } from '../../src/admin/cli.js';

const PASSWORD = 'correct-horse-battery-9';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(STORE_KINDS)('operator flows with the %s store', (kind) => {
  let fx: StoreFixture;
  let t: TestApp;
  const clients: UdpClient[] = [];
  let n = 0;

  async function channelFrom(address: string): Promise<Channel> {
    const udp = await UdpClient.open(4, address);
    clients.push(udp);
    return {
      request: (text) => udp.request(text, t.udpPort),
      via: `UDP ${address}:${udp.port}`,
      contactHost: `${address}:${udp.port}`,
    };
  }

  async function account(from = '127.0.0.1'): Promise<Phone> {
    const user = `op${kind}${n++}`;
    await t.app.accounts.create({ username: user, domain: 'example.com', password: PASSWORD });
    return new Phone(await channelFrom(from), { user, domain: 'example.com', password: PASSWORD });
  }

  async function api(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = t.token,
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${t.adminUrl}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
  }

  async function runCli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await cli(
      argv,
      { SIPREG_URL: t.adminUrl, ADMIN_TOKEN: t.token },
      (s) => (out += s),
      (s) => (err += s),
    );
    return { code, out, err };
  }

  beforeAll(async () => {
    fx = await storeFixture(kind);
    t = await startTestApp(
      {
        lockout: {
          extension: { threshold: 5, lockSec: 2 },
          address: { threshold: 20, windowSec: 60, lockSec: 30 },
          trustedNetworks: ['127.0.0.250/32'],
        },
        registrar: { passwordGraceSec: 600 },
      },
      { store: fx.make() },
    );
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.stop();
    await fx?.close();
  });

  it('locks an extension after 5 wrong passwords; the API and the CLI list it; lifting lets the right password in', async () => {
    const phone = await account('127.0.0.11');
    const aor = `${phone.o.user}@example.com`;
    for (let i = 0; i < 5; i++) expect((await phone.register({}, 'wrong-password-123')).status).toBe(403);
    expect((await phone.register()).status).toBe(403); // the right password, but locked

    const list = (await api('GET', '/api/v1/blacklist')).json as {
      extensions: Array<{ aor: string; failures: number; lastAddress: string }>;
    };
    const entry = list.extensions.find((e) => e.aor === aor);
    expect(entry).toBeDefined();
    expect(entry?.failures).toBeGreaterThanOrEqual(5);
    expect(entry?.lastAddress).toBe('127.0.0.11');
    const listed = await runCli('blacklist', 'list', '--json');
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(aor);
    const table = await runCli('blacklist', 'list');
    expect(table.out).toContain(aor);

    expect((await api('DELETE', `/api/v1/blacklist/extensions/${encodeURIComponent(aor)}`)).status).toBeLessThan(300);
    expect((await api('DELETE', `/api/v1/blacklist/extensions/${encodeURIComponent(aor)}`)).status).toBe(404);
    expect((await phone.register()).status).toBe(200);
  });

  it('lifts an extension lockout through the CLI', async () => {
    const phone = await account('127.0.0.12');
    for (let i = 0; i < 5; i++) await phone.register({}, 'wrong-password-123');
    expect((await phone.register()).status).toBe(403);
    const r = await runCli('blacklist', 'clear', '--extension', `${phone.o.user}@example.com`);
    expect(r.code).toBe(0);
    expect((await phone.register()).status).toBe(200);
  });

  it('lets the phone that held a live binding keep refreshing while its extension is locked by an attacker', async () => {
    const phone = await account('127.0.0.13');
    expect((await phone.register()).status).toBe(200);
    const attacker = new Phone(await channelFrom('127.0.0.14'), { ...phone.o, password: 'guess-guess-guess-1' });
    for (let i = 0; i < 5; i++) expect((await attacker.register()).status).toBe(403);
    expect((await phone.register()).status).toBe(200);
    const withRightPassword = new Phone(attacker.channel, phone.o);
    expect((await withRightPassword.register()).status).toBe(403);
  });

  it('lets a lockout expire by itself', async () => {
    const phone = await account('127.0.0.15');
    for (let i = 0; i < 5; i++) await phone.register({}, 'wrong-password-123');
    expect((await phone.register()).status).toBe(403);
    await sleep(2_300);
    expect((await phone.register()).status).toBe(200);
  });

  it('locks an address after 20 failures across users (no responses), never a trusted one', async () => {
    const phones = await Promise.all([0, 1, 2, 3, 4].map(() => account('127.0.0.16')));
    for (let i = 0; i < 20; i++) await phones[i % 5]!.register({}, 'wrong-password-123');
    const fresh = await account('127.0.0.16');
    await expect(fresh.send()).rejects.toThrow(/no SIP message/);
    const list = (await api('GET', '/api/v1/blacklist')).json as { addresses: Array<{ address: string }> };
    expect(list.addresses.map((a) => a.address)).toContain('127.0.0.16');
    const cliList = await runCli('blacklist', 'list', '--json');
    expect(cliList.out).toContain('127.0.0.16');
    expect((await api('DELETE', '/api/v1/blacklist/addresses/127.0.0.16')).status).toBeLessThan(300);
    expect((await fresh.send()).status).toBe(401);

    const trusted = await Promise.all([0, 1, 2, 3, 4].map(() => account('127.0.0.250')));
    for (let i = 0; i < 25; i++) await trusted[i % 5]!.register({}, 'wrong-password-123');
    const stillHeard = await account('127.0.0.250');
    expect((await stillHeard.register()).status).toBe(200);
  });

  it('refuses a malformed address with 400 and an unknown lockout with 404', async () => {
    expect((await api('DELETE', '/api/v1/blacklist/addresses/not-an-ip')).status).toBe(400);
    expect((await api('DELETE', '/api/v1/blacklist/addresses/192.0.2.99')).status).toBe(404);
  });

  it('removes the bindings on a password change; the old password fails without counting during the grace period', async () => {
    const phone = await account('127.0.0.17');
    const aor = `${phone.o.user}@example.com`;
    expect((await phone.register()).status).toBe(200);
    const changed = await api('PUT', `/api/v1/accounts/${encodeURIComponent(aor)}/password`, {});
    expect(changed.status).toBe(200);
    const newPassword = (changed.json as { password: string }).password;
    expect(newPassword.length).toBeGreaterThanOrEqual(20);
    expect((await api('GET', `/api/v1/accounts/${encodeURIComponent(aor)}/bindings`)).json).toMatchObject({
      bindings: [],
    });
    for (let i = 0; i < 8; i++) expect((await phone.register()).status).toBe(403); // the old device, still trying
    const shown = (await api('GET', `/api/v1/accounts/${encodeURIComponent(aor)}`)).json as {
      staleDevice: { address: string } | null;
    };
    expect(shown.staleDevice?.address).toBe('127.0.0.17');
    expect(JSON.stringify(shown)).not.toContain(newPassword);
    expect((await phone.register({}, newPassword)).status).toBe(200); // not locked: the stale answers did not count
  });

  it('drops the bindings when an account is disabled, and when it is deleted', async () => {
    const a = await account('127.0.0.18');
    const aorA = `${a.o.user}@example.com`;
    expect((await a.register()).status).toBe(200);
    expect((await api('PATCH', `/api/v1/accounts/${encodeURIComponent(aorA)}`, { enabled: false })).status).toBe(200);
    expect(await t.app.store.getBindings(aorA, Date.now())).toHaveLength(0);
    expect((await a.register()).status).toBe(403);
    const disable = await runCli('accounts', 'enable', aorA);
    expect(disable.code).toBe(0);
    expect((await a.register()).status).toBe(200);

    const b = await account('127.0.0.18');
    const aorB = `${b.o.user}@example.com`;
    expect((await b.register()).status).toBe(200);
    expect((await api('DELETE', `/api/v1/accounts/${encodeURIComponent(aorB)}`)).status).toBeLessThan(300);
    expect(await t.app.store.getBindings(aorB, Date.now())).toHaveLength(0);
  });

  it('refuses the API without the token, and the CLI says so', async () => {
    expect((await api('GET', '/api/v1/blacklist', undefined, null)).status).toBe(401);
    expect((await api('GET', '/api/v1/accounts', undefined, 'wrong-token')).status).toBe(401);
    let err = '';
    const code = await cli(
      ['accounts', 'list'],
      { SIPREG_URL: t.adminUrl, ADMIN_TOKEN: 'nope' },
      () => {},
      (s) => (err += s),
    );
    expect(code).toBe(4);
    expect(err).not.toContain('nope');
  });
});
