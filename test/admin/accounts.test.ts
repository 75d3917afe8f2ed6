import { createHash } from 'node:crypto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AccountService } from '../../src/registrar/accounts.js';
import { OperatorError } from '../../src/registrar/errors.js';
import { LockoutService } from '../../src/registrar/lockouts.js';
import { MemoryStore } from '../../src/store/memory.js';
import { fail, seedBinding } from './fixture.js';

function setup() {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) });
  const store = new MemoryStore();
  const accounts = new AccountService(
    store,
    {
      domains: ['Example.com', 'b.example'],
      passwordPolicy: { minLength: 12, forbidUsername: true },
      passwordGraceMs: 60_000,
    },
    logger,
  );
  return { store, accounts, logs, logger };
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const sha512_256 = (s: string): string => createHash('sha512-256').update(s).digest('hex');

/** As the admin API maps them (src/admin/http.ts). */
const HTTP: Record<string, number> = { invalid: 400, 'not-found': 404, exists: 409 };

async function rejects(p: Promise<unknown>, status: number, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OperatorError);
  expect(HTTP[(err as OperatorError).kind]).toBe(status);
  expect((err as OperatorError).message).toMatch(pattern);
}

describe('AccountService', () => {
  it('resolves bare users to the default domain and refuses unknown domains', () => {
    const { accounts } = setup();
    expect(accounts.resolveAor('1001')).toBe('1001@example.com');
    expect(accounts.resolveAor('1001@B.EXAMPLE')).toBe('1001@b.example');
    expect(() => accounts.resolveAor('1001@elsewhere.org')).toThrow(OperatorError);
    try {
      accounts.resolveAor('1001@elsewhere.org');
    } catch (e) {
      expect((e as OperatorError).kind).toBe('not-found');
    }
  });

  it('stores HA1 for all three algorithms with realm = domain and username = authId (RFC 7616 3.4.2)', async () => {
    const { accounts, store } = setup();
    const pw = 'a-good-long-secret';
    const { account, generatedPassword } = await accounts.create(
      { username: '1001', authId: 'dev1001', password: pw },
      1000,
    );
    expect(generatedPassword).toBeUndefined();
    expect(account).toMatchObject({
      aor: '1001@example.com',
      authId: 'dev1001',
      authType: 'digest',
      enabled: true,
      passwordChangedAt: 1000,
    });
    const rec = await store.getAccount('1001@example.com');
    expect(rec?.credentials?.ha1).toEqual({
      MD5: md5(`dev1001:example.com:${pw}`),
      'SHA-256': sha256(`dev1001:example.com:${pw}`),
      'SHA-512-256': sha512_256(`dev1001:example.com:${pw}`),
    });
    expect(JSON.stringify(rec)).not.toContain(pw);
  });

  it('generates a password when none is given and returns it once', async () => {
    const { accounts, store } = setup();
    const { generatedPassword } = await accounts.create({ username: 'alice' });
    expect(generatedPassword).toMatch(/^[A-Za-z2-9]{24}$/);
    const rec = await store.getAccount('alice@example.com');
    expect(rec?.credentials?.ha1.MD5).toBe(md5(`alice:example.com:${generatedPassword}`));
  });

  it('refuses duplicates (409), weak passwords and bad fields (400)', async () => {
    const { accounts } = setup();
    await accounts.create({ username: 'bob', password: 'strong-enough-pw' });
    await rejects(accounts.create({ username: 'bob', password: 'strong-enough-pw' }), 409, /exists/);
    await rejects(accounts.create({ username: 'carol', password: 'short' }), 400, /too short/);
    await rejects(accounts.create({ username: 'carol', password: 'CAROL-is-my-name' }), 400, /username/);
    await rejects(accounts.create({ username: 'a@b' }), 400, /username/);
    await rejects(accounts.create({ username: 'a b' }), 400, /username/);
    await rejects(accounts.create({ username: 'x'.repeat(65) }), 400, /username/);
    await rejects(accounts.create({ username: 'dave', domain: 'nope.org' }), 400, /domain/);
    await rejects(accounts.create({ username: 'dave', maxContacts: 0 }), 400, /maxContacts/);
    await rejects(accounts.create({ username: 'dave', maxContacts: 101 }), 400, /maxContacts/);
    await rejects(accounts.create({ username: 'dave', algorithms: [] }), 400, /algorithms/);
    await rejects(accounts.create({ username: 'dave', algorithms: ['SHA-1' as 'MD5'] }), 400, /algorithms/);
    await rejects(accounts.create({ username: 'dave', colour: 'red' } as never), 400, /colour/);
  });

  it('ip accounts need valid addresses and take no password', async () => {
    const { accounts, store } = setup();
    await rejects(accounts.create({ username: 'trunk', authType: 'ip' }), 400, /allowedAddresses/);
    await rejects(
      accounts.create({ username: 'trunk', authType: 'ip', allowedAddresses: ['300.1.1.1'] }),
      400,
      /300\.1\.1\.1/,
    );
    await rejects(
      accounts.create({
        username: 'trunk',
        authType: 'ip',
        allowedAddresses: ['192.0.2.1'],
        password: 'strong-enough-pw',
      }),
      400,
      /password/,
    );
    const { account, generatedPassword } = await accounts.create({
      username: 'trunk',
      authType: 'ip',
      allowedAddresses: ['192.0.2.0/24', '2001:db8::1'],
    });
    expect(generatedPassword).toBeUndefined();
    expect(account.allowedAddresses).toEqual(['192.0.2.0/24', '2001:db8::1']);
    expect((await store.getAccount('trunk@example.com'))?.credentials).toBeNull();
    await rejects(accounts.setPassword('trunk'), 400, /IP/);
    await rejects(accounts.update('trunk', { allowedAddresses: [] }), 400, /allowedAddresses/);
  });

  it('setPassword keeps the old HA1s for the grace period and removes every binding', async () => {
    const { accounts, store } = setup();
    await accounts.create({ username: '2001', password: 'first-password-x' }, 1000);
    const before = (await store.getAccount('2001@example.com'))?.credentials?.ha1;
    await seedBinding(store, '2001@example.com', 'p1');
    await seedBinding(store, '2001@example.com', 'p2');
    expect(await store.getBindings('2001@example.com', Date.now())).toHaveLength(2);
    const { generatedPassword } = await accounts.setPassword('2001', undefined, 5000);
    expect(generatedPassword).toHaveLength(24);
    const rec = await store.getAccount('2001@example.com');
    expect(rec?.credentials?.previousHa1).toEqual(before);
    expect(rec?.credentials?.previousUntil).toBe(65_000);
    expect(rec?.credentials?.ha1.MD5).toBe(md5(`2001:example.com:${generatedPassword}`));
    expect(await store.getBindings('2001@example.com', Date.now())).toHaveLength(0);
    await rejects(accounts.setPassword('2001', 'tiny'), 400, /too short/);
    await rejects(accounts.setPassword('nobody'), 404, /no account/);
  });

  it('disabling removes bindings; enabling does not need to', async () => {
    const { accounts, store } = setup();
    await accounts.create({ username: '3001', password: 'first-password-x' });
    await seedBinding(store, '3001@example.com');
    const disabled = await accounts.update('3001', { enabled: false });
    expect(disabled.enabled).toBe(false);
    expect(await store.getBindings('3001@example.com', Date.now())).toHaveLength(0);
    expect((await accounts.update('3001', { enabled: true, maxContacts: 3, algorithms: ['MD5'] })).maxContacts).toBe(3);
    expect((await accounts.update('3001', { maxContacts: null })).maxContacts).toBeNull();
    await rejects(accounts.update('3001', {}), 400, /nothing/);
    await rejects(accounts.update('3001', { username: 'x' } as never), 400, /username/);
  });

  it('imports NDJSON with per-line errors and returns generated passwords', async () => {
    const { accounts } = setup();
    const text = [
      JSON.stringify({ username: '4001', password: 'imported-password-1' }),
      '',
      'not json',
      JSON.stringify({ username: '4002' }),
      JSON.stringify({ username: '4001', password: 'imported-password-1' }),
      JSON.stringify({ username: '4003', maxContacts: 'many' }),
    ].join('\n');
    const res = await accounts.import(text);
    expect(res.created).toBe(2);
    expect(res.errors).toEqual([
      { line: 3, error: 'not valid JSON' },
      { line: 5, error: expect.stringMatching(/exists/) },
      { line: 6, error: expect.stringMatching(/maxContacts/) },
    ]);
    expect(res.passwords).toEqual([{ line: 4, aor: '4002@example.com', password: expect.stringMatching(/^\S{24}$/) }]);
  });

  it('imports thousands of accounts quickly', async () => {
    const { accounts } = setup();
    const lines = Array.from({ length: 3000 }, (_, i) =>
      JSON.stringify({ username: `u${i}`, password: `pw-long-enough-${i}` }),
    );
    const t0 = performance.now();
    const res = await accounts.import(lines.join('\n'));
    const ms = performance.now() - t0;
    expect(res.created).toBe(3000);
    expect(res.errors).toEqual([]);
    expect(ms).toBeLessThan(3000);
    expect((await accounts.list(1000, null)).items).toHaveLength(1000);
  });

  it('logs every change with who, what and when, and never a secret', async () => {
    const { accounts, store, logs } = setup();
    const pw = 'log-test-password-9';
    await accounts.create({ username: '5001', password: pw }, Date.UTC(2024, 0, 2));
    const { generatedPassword } = await accounts.setPassword('5001');
    await accounts.update('5001', { enabled: false });
    await accounts.remove('5001');
    const events = logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.what)).toEqual([
      'account.create',
      'account.password',
      'account.update',
      'account.delete',
    ]);
    expect(events[0]).toMatchObject({ who: 'system', aor: '5001@example.com', at: '2024-01-02T00:00:00.000Z' });
    const all = logs.join('\n');
    expect(all).not.toContain(pw);
    expect(all).not.toContain(generatedPassword as string);
    expect(all).not.toContain(md5(`5001:example.com:${pw}`));
    expect(await store.getAccount('5001@example.com')).toBeNull();
  });
});

describe('LockoutService', () => {
  it('lists, lifts one, and lifts all, each as a log event', async () => {
    const { store, accounts, logger, logs } = setup();
    const lockouts = new LockoutService(store, logger, (a) => accounts.resolveAor(a));
    await accounts.create({ username: '6001', password: 'lockout-password' });
    await fail(store, '6001@example.com', '198.51.100.7', 5);
    const list = await lockouts.list();
    expect(list.extensions).toEqual([
      {
        aor: '6001@example.com',
        failures: expect.any(Number),
        lockedUntil: expect.any(String),
        permanent: false,
        lastAddress: '198.51.100.7',
        level: 1,
        firstFailure: expect.any(String),
        lastFailure: expect.any(String),
        sources: ['198.51.100.7'],
      },
    ]);
    expect(list.addresses).toEqual([
      {
        address: '198.51.100.7',
        failures: 5,
        lockedUntil: expect.any(String),
        permanent: false,
        level: 1,
        firstFailure: expect.any(String),
        lastFailure: expect.any(String),
        aors: expect.any(Array),
      },
    ]);
    expect(Date.parse(list.extensions[0]?.lockedUntil as string)).toBeGreaterThan(Date.now());
    await lockouts.liftExtension('6001');
    await rejects(lockouts.liftExtension('6001'), 404, /not locked/);
    await rejects(lockouts.liftAddress('not-an-ip'), 400, /not an IP/);
    await rejects(lockouts.liftAddress('198.51.100.7/32'), 400, /not an IP/);
    expect(await lockouts.liftAll()).toEqual({ lifted: 1 });
    expect(await lockouts.list()).toEqual({ extensions: [], addresses: [] });
    const whats = logs.map((l) => JSON.parse(l) as { what?: string }).map((e) => e.what);
    expect(whats).toContain('lockout.lift.extension');
    expect(whats).toContain('lockout.lift.all');
  });

  it('shows a permanent lock with lockedUntil null', async () => {
    const { store, logger } = setup();
    const lockouts = new LockoutService(store, logger);
    const policy = {
      extension: { threshold: 1, lockMs: 1000 },
      address: { threshold: 1, windowMs: 1000, lockMs: 1000 },
      escalation: { windowMs: 86_400_000, factor: 2, permanentAfter: 1 },
    };
    await store.recordFailure({ aor: null, address: '203.0.113.9', countAddress: true, now: Date.now(), policy });
    const list = await lockouts.list();
    expect(list.addresses[0]).toMatchObject({ address: '203.0.113.9', permanent: true, lockedUntil: null });
  });
});
