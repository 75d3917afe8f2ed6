/**
 * REGISTER end to end over real UDP and TCP sockets, against both stores (RFC 3261 10.3, RFC 2617/7616 digest):
 * challenges, answers, refreshes in one round trip, replay, expiry rules, contact lists, ordering, limits, ip accounts,
 * and no user enumeration. The digest client is the tests' own (test/helpers/digest-client.ts).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { StreamClient, UdpClient, first, type TestResponse } from '../helpers/sip-client.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { answer, parseChallenge } from '../helpers/digest-client.js';
import { registerText } from '../helpers/sip-text.js';
import { STORE_KINDS, storeFixture, type StoreFixture } from '../helpers/stores.js';
import { Nonces, singleKey } from '../../src/registrar/nonce.js';

const PASSWORD = 'correct-horse-battery-9';

describe.each(STORE_KINDS)('REGISTER with the %s store', (kind) => {
  let fx: StoreFixture;
  let t: TestApp;
  let udp: UdpClient;
  let tcp: StreamClient;
  let n = 0;

  const udpChannel = (): Channel => ({
    request: (text) => udp.request(text, t.udpPort),
    via: `UDP 127.0.0.1:${udp.port}`,
    contactHost: `127.0.0.1:${udp.port}`,
  });
  const tcpChannel = (): Channel => ({
    request: (text) => tcp.request(text),
    via: `TCP 127.0.0.1:${tcp.localPort}`,
    contactHost: `127.0.0.1:${tcp.localPort};transport=tcp`,
  });

  /** A new account (unique user) and a phone for it. */
  async function account(
    opts: { algorithms?: Array<'MD5' | 'SHA-256' | 'SHA-512-256'>; authId?: string; maxContacts?: number } = {},
    channel = udpChannel(),
  ): Promise<Phone> {
    const user = `u${kind}${n++}`;
    await t.app.accounts.create({ username: user, domain: 'example.com', password: PASSWORD, ...opts });
    return new Phone(channel, { user, domain: 'example.com', password: PASSWORD, authId: opts.authId });
  }

  beforeAll(async () => {
    fx = await storeFixture(kind);
    t = await startTestApp({ registrar: { maxContacts: 3 } }, { store: fx.make() });
    udp = await UdpClient.open();
    tcp = await StreamClient.connect(t.tcpPort);
  });

  afterAll(async () => {
    udp?.close();
    tcp?.close();
    await t?.stop();
    await fx?.close();
  });

  it('challenges with one WWW-Authenticate by default: MD5, realm = domain, qop auth', async () => {
    const phone = await account();
    const r = await phone.send();
    expect(r.status).toBe(401);
    const challenges = phone.challengesOf(r);
    expect(challenges.map((c) => c.algorithm)).toEqual(['MD5']);
    for (const c of challenges) {
      expect(c.realm).toBe('example.com');
      expect(c.qop).toContain('auth');
      expect(c.opaque).not.toBeNull();
      expect(c.nonce.length).toBeGreaterThan(10);
    }
    expect(first(r, 'to')).toMatch(/;tag=/);
  });

  it('registers with SHA-256 when the account opts in, and lists the binding with its remaining expires and a Date', async () => {
    const phone = await account({ algorithms: ['SHA-256', 'MD5'] });
    const r = await phone.register({ expires: 600 });
    expect(r.status).toBe(200);
    const contacts = r.headers.get('contact') ?? [];
    expect(contacts).toHaveLength(1);
    expect(contacts[0]).toContain(phone.contact);
    const expires = Number(/expires=(\d+)/.exec(contacts[0] ?? '')?.[1]);
    expect(expires).toBeGreaterThanOrEqual(598);
    expect(expires).toBeLessThanOrEqual(600);
    expect(first(r, 'date')).toMatch(/GMT$/);
    expect(first(r, 'authentication-info')).toMatch(/^qop=auth, rspauth="[0-9a-f]{64}"/);
    expect(first(r, 'authentication-info')).not.toMatch(/nextnonce/);
  });

  it('registers with MD5 when the phone answers the MD5 challenge of several', async () => {
    const phone = await account({ algorithms: ['SHA-256', 'MD5'] });
    const md5 = new Phone(phone.channel, { ...phone.o, pick: (cs) => cs.find((c) => c.algorithm === 'MD5') ?? cs[0]! });
    expect((await md5.register()).status).toBe(200);
  });

  it('registers with SHA-512-256 when the account offers it', async () => {
    const phone = await account({ algorithms: ['SHA-512-256'] });
    const r = await phone.send();
    expect(phone.challengesOf(r).map((c) => c.algorithm)).toEqual(['SHA-512-256']);
    expect((await phone.register()).status).toBe(200);
  });

  it('honours a per-account algorithm order for phones that read only the first challenge', async () => {
    const phone = await account({ algorithms: ['MD5'] });
    const r = await phone.send();
    expect(phone.challengesOf(r).map((c) => c.algorithm)).toEqual(['MD5']);
    expect((await phone.register()).status).toBe(200);
  });

  it('registers over TCP and keeps the transport on the binding', async () => {
    const phone = await account({}, tcpChannel());
    expect((await phone.register()).status).toBe(200);
    const bindings = await t.app.store.getBindings(`${phone.o.user}@example.com`, Date.now());
    expect(bindings[0]?.source.transport).toBe('tcp');
    expect(bindings[0]?.source.connectionId).not.toBeNull();
  });

  it('answers a wrong password exactly like an unknown user (no enumeration)', async () => {
    const phone = await account();
    const wrong = await phone.register({}, 'not-the-password-1');
    const ghost = new Phone(udpChannel(), {
      user: `ghost${kind}`,
      domain: 'example.com',
      password: 'whatever-it-is-1',
    });
    const first401 = await ghost.send();
    expect(first401.status).toBe(401);
    expect([...first401.headers.keys()].sort()).toEqual([...(await phone.send()).headers.keys()].sort());
    expect(ghost.challengesOf(first401).map((c) => c.algorithm)).toEqual(['MD5']);
    const unknown = await ghost.register();
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.reason).toBe(wrong.reason);
    expect([...unknown.headers.keys()].sort()).toEqual([...wrong.headers.keys()].sort());
  });

  it('refreshes in one round trip by reusing the nonce with a higher nc, and refuses a replayed (nonce, nc)', async () => {
    const phone = await account();
    expect((await phone.register()).status).toBe(200);
    const challenge = phone.lastChallenge!;
    const refresh = await phone.answerWith(challenge, {}, PASSWORD, 2);
    expect(refresh.status).toBe(200);
    const replay = await phone.answerWith(challenge, {}, PASSWORD, 2);
    expect(replay.status).not.toBe(200);
  });

  it('answers an applied REGISTER that comes again outside its transaction with the same 200, not a failure', async () => {
    const phone = await account();
    const challenge = phone.challengesOf(await phone.send())[0]!;
    const spec = phone.spec();
    const authorization = answer(challenge, {
      username: phone.o.user,
      password: PASSWORD,
      method: 'REGISTER',
      uri: 'sip:example.com',
    });
    const first = await udp.request(registerText({ ...spec, authorization, branch: 'z9hG4bKonce1' }), t.udpPort);
    expect(first.status).toBe(200);
    // Same request, new branch: as if a retransmission reached another worker, whose transactions know nothing of it.
    const again = await udp.request(registerText({ ...spec, authorization, branch: 'z9hG4bKonce2' }), t.udpPort);
    expect(again.status).toBe(200);
    expect(again.headers.get('contact')).toEqual(first.headers.get('contact'));
    // A different request replaying the same (nonce, nc) is challenged afresh (stale: the answer is right).
    const other = await udp.request(
      registerText({ ...spec, cseq: (spec.cseq ?? 1) + 1, authorization, branch: 'z9hG4bKonce3' }),
      t.udpPort,
    );
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')?.[0]).toMatch(/stale=true/);
  });

  it('answers a right answer with an expired nonce 401 stale=true, and that is not a failure', async () => {
    const phone = await account();
    const old = new Nonces(singleKey(Buffer.from('test-nonce-secret')), 300_000).issue(Date.now() - 3_600_000);
    const challenge = parseChallenge((await phone.send()).headers.get('www-authenticate')![0]!);
    const r = await phone.answerWith({ ...challenge, nonce: old });
    expect(r.status).toBe(401);
    expect(phone.challengesOf(r).some((c) => c.stale)).toBe(true);
    expect((await t.app.store.listLockouts(Date.now())).extensions.length).toBe(0);
    expect((await phone.register()).status).toBe(200);
  });

  it('removes a binding with Expires 0 and all with Contact * (only with Expires 0)', async () => {
    const phone = await account();
    expect((await phone.register()).status).toBe(200);
    const other = `<sip:${phone.o.user}@192.0.2.7:5060>`;
    const two = await phone.register({ contacts: [other] });
    expect(two.headers.get('contact')).toHaveLength(2);
    const removed = await phone.register({ contacts: [other], expires: 0 });
    expect(removed.status).toBe(200);
    expect(removed.headers.get('contact')).toHaveLength(1);
    const badStar = await phone.register({ contacts: ['*'], expires: 60 });
    expect(badStar.status).toBe(400);
    const star = await phone.register({ contacts: ['*'], expires: 0 });
    expect(star.status).toBe(200);
    expect(star.headers.get('contact') ?? []).toHaveLength(0);
  });

  it('answers too brief an interval 423 with Min-Expires, clamps too long a one', async () => {
    const phone = await account();
    const brief = await phone.register({ expires: 10 });
    expect(brief.status).toBe(423);
    expect(first(brief, 'min-expires')).toBe('60');
    const long = await phone.register({ expires: 999_999 });
    expect(long.status).toBe(200);
    expect(Number(/expires=(\d+)/.exec(long.headers.get('contact')![0]!)?.[1])).toBeLessThanOrEqual(7200);
  });

  it('lists every binding of the AOR, from several phones', async () => {
    const phone = await account();
    const second = new Phone(phone.channel, phone.o);
    expect((await phone.register()).status).toBe(200);
    const r = await second.register({ contacts: [`<sip:${phone.o.user}@192.0.2.8:5062>`] });
    expect(r.status).toBe(200);
    expect(r.headers.get('contact')).toHaveLength(2);
  });

  it('refuses more contacts than maxContacts and changes nothing', async () => {
    const phone = await account();
    const contacts = [1, 2, 3, 4].map((i) => `<sip:${phone.o.user}@192.0.2.${i}:5060>`);
    const r = await phone.register({ contacts });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(await t.app.store.getBindings(`${phone.o.user}@example.com`, Date.now())).toHaveLength(0);
  });

  it('refuses an out-of-order CSeq within one Call-ID and changes nothing', async () => {
    const phone = await account();
    expect((await phone.register({ cseq: 10 })).status).toBe(200);
    const stale = await phone.register({ cseq: 5, contacts: [phone.contact], expires: 0 });
    expect(stale.status).toBeGreaterThanOrEqual(400);
    expect(await t.app.store.getBindings(`${phone.o.user}@example.com`, Date.now())).toHaveLength(1);
  });

  it('answers 404 for a domain it does not serve and 420 for an unknown Require', async () => {
    const phone = await account();
    expect((await phone.send({ requestUri: 'sip:elsewhere.test' })).status).toBe(404);
    const r = await phone.send({ extra: [['Require', 'frobnicate']] });
    expect(r.status).toBe(420);
    expect(first(r, 'unsupported')).toBe('frobnicate');
  });

  it('lets an account register only its own AOR', async () => {
    const alice = await account();
    const bob = await account();
    // Bob's credentials, Alice's AOR in To.
    const r = await alice.send();
    const c = alice.challengesOf(r)[0]!;
    const auth = answer(c, { username: bob.o.user, password: PASSWORD, method: 'REGISTER', uri: 'sip:example.com' });
    const spec = alice.spec({ authorization: auth });
    const res = await udp.request(registerText(spec), t.udpPort);
    expect(res.status).toBe(403);
  });

  it('authenticates with an auth ID distinct from the username', async () => {
    const phone = await account({ authId: `auth-${kind}-x` });
    expect((await phone.register()).status).toBe(200);
  });

  it('registers an ip account from its address without a challenge, and refuses it from elsewhere', async () => {
    await t.app.accounts.create({
      username: `ip-${kind}`,
      domain: 'example.com',
      authType: 'ip',
      allowedAddresses: ['127.0.0.0/8'],
    });
    await t.app.accounts.create({
      username: `ipx-${kind}`,
      domain: 'example.com',
      authType: 'ip',
      allowedAddresses: ['192.0.2.1'],
    });
    const ok = new Phone(udpChannel(), { user: `ip-${kind}`, domain: 'example.com', password: '' });
    expect((await ok.send()).status).toBe(200);
    const no = new Phone(udpChannel(), { user: `ipx-${kind}`, domain: 'example.com', password: '' });
    expect((await no.send()).status).toBe(403);
  });

  it('pins a digest account to its allowed addresses, refusing only after a right answer', async () => {
    const user = `pinned-${kind}`;
    await t.app.accounts.create({
      username: user,
      domain: 'example.com',
      password: PASSWORD,
      allowedAddresses: ['192.0.2.0/24'],
    });
    const phone = new Phone(udpChannel(), { user, domain: 'example.com', password: PASSWORD });
    expect((await phone.send()).status).toBe(401); // challenged like anybody
    expect((await phone.register()).status).toBe(403);
    await t.app.accounts.update(`${user}@example.com`, { allowedAddresses: ['127.0.0.1'] });
    expect((await phone.register()).status).toBe(200);
  });

  it('RFC 4475 3.3.7 (regaut01): an Authorization of an unknown scheme gets a fresh 401 challenge', async () => {
    const torture = readFileSync(new URL('../fixtures/torture/valid/regaut01.dat', import.meta.url), 'latin1');
    await t.app.accounts.create({ username: 'j.user', domain: 'example.com', password: PASSWORD }).catch(() => {});
    for (const user of ['j.user', `nobody${kind}`]) {
      const text = torture.replaceAll('j.user', user).replace(/\r?\n/g, '\r\n');
      const r = await tcp.request(text);
      expect(r.status, user).toBe(401);
      expect(r.headers.get('www-authenticate'), user).toEqual([
        expect.stringMatching(
          /^Digest realm="example\.com", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/,
        ),
      ]);
    }
    expect((await t.app.store.listLockouts(Date.now())).extensions).toEqual([]);
  });

  it('rejects malformed Authorization, a non-SIP Contact and a junk Expires with a 4xx and stores nothing', async () => {
    const phone = await account();
    const aor = `${phone.o.user}@example.com`;
    const cases: Array<Partial<Parameters<Phone['send']>[0]>> = [
      { authorization: 'Digest username="x", realm=' },
      {
        authorization:
          'Digest username=unquoted, realm="example.com", nonce="n", uri="sip:example.com", response="0", nc=zz, cnonce="c", qop=auth',
      },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ];
    for (const extra of cases) {
      const r: TestResponse = await phone.send(extra);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
    }
    expect((await phone.register({ contacts: ['<mailto:x@example.com>'] })).status).toBeGreaterThanOrEqual(400);
    expect((await phone.register({ expires: 'soon' })).status).toBe(400);
    expect(await t.app.store.getBindings(aor, Date.now())).toHaveLength(0);
  });
});
