/**
 * The behaviour every Store adapter must have. Run by memory.test.ts and redis.test.ts. Time is passed in as `now`
 * values far apart (never sleeps), so expiry is tested by logic, not by the clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Account, AccountRecord, Binding, LockoutPolicy } from '../../src/domain/types.js';
import type { Store } from '../../src/store/types.js';

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export function account(aor: string, over: Partial<Account> = {}): AccountRecord {
  const [username = aor, domain = ''] = aor.split('@');
  return {
    account: {
      aor,
      username,
      domain,
      authId: username,
      authType: 'digest',
      allowedAddresses: [],
      enabled: true,
      maxContacts: null,
      algorithms: null,
      createdAt: T0,
      updatedAt: T0,
      passwordChangedAt: null,
      staleDevice: null,
      ...over,
    },
    credentials: { ha1: { MD5: 'a'.repeat(32), 'SHA-256': 'b'.repeat(64) }, previousHa1: null, previousUntil: null },
  };
}

export function binding(key: string, expiresAt: number, over: Partial<Binding> = {}): Binding {
  return {
    key,
    uri: `sip:${key}@192.0.2.10:5060;transport=udp`,
    params: '',
    q: null,
    expiresAt,
    callId: `call-${key}`,
    cseq: 1,
    instance: null,
    regId: null,
    path: [],
    source: { transport: 'udp', address: '192.0.2.10', port: 5060, connectionId: null, node: null },
    userAgent: null,
    registeredAt: T0,
    updatedAt: T0,
    ...over,
  };
}

const policy: LockoutPolicy = {
  extension: { threshold: 3, lockMs: 15 * MIN },
  address: { threshold: 4, windowMs: 10 * MIN, lockMs: 30 * MIN },
  escalation: { windowMs: DAY, factor: 2, permanentAfter: 3 },
};

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    const commit = async (aor: string, bindings: Binding[], now: number, nonce?: { nonce: string; nc: number }) => {
      const snap = await store.loadRegistration(aor, '192.0.2.10', now);
      return store.commitRegistration({
        aor,
        expectedVersion: snap.version,
        bindings,
        nonce: nonce ? { ...nonce, ttlMs: 5 * MIN } : null,
        now,
        authenticated: true,
      });
    };

    const fail = (aor: string | null, address: string, now: number, countAddress = true) =>
      store.recordFailure({ aor, address, countAddress, now, policy });

    describe('credential secret (short-lived credentials)', () => {
      it('is absent until set, then read back with the account; false for an unknown AOR; bindings stay', async () => {
        const aor = 'web@example.com';
        await store.createAccount(account(aor));
        expect((await store.getAccount(aor))?.credentialSecret).toBeUndefined();
        await commit(aor, [binding('k1', T0 + HOUR)], T0);
        expect(await store.setCredentialSecret(aor, 'secret-one')).toBe(true);
        expect((await store.getAccount(aor))?.credentialSecret).toBe('secret-one');
        expect((await store.loadRegistration(aor, '192.0.2.10', T0)).record?.credentialSecret).toBe('secret-one');
        expect(await store.getBindings(aor, T0)).toHaveLength(1);
        expect(await store.setCredentialSecret('nobody@example.com', 'x')).toBe(false);
      });
    });

    describe('audit trail', () => {
      it('lists newest first in pages, and keeps only the newest entries', async () => {
        for (let i = 0; i < 25; i++)
          await store.appendAudit(
            { at: T0 + i, actor: 'api', action: 'account.create', target: `u${i}`, detail: { i } },
            1000,
          );
        const first = await store.listAudit(10, null);
        expect(first.items.map((e) => e.target)).toEqual(Array.from({ length: 10 }, (_, k) => `u${24 - k}`));
        expect(first.items[0]).toMatchObject({
          at: T0 + 24,
          actor: 'api',
          action: 'account.create',
          detail: { i: 24 },
        });
        const second = await store.listAudit(10, first.nextCursor);
        expect(second.items.map((e) => e.target)).toEqual(Array.from({ length: 10 }, (_, k) => `u${14 - k}`));
        const third = await store.listAudit(10, second.nextCursor);
        expect(third.items).toHaveLength(5);
        expect(third.nextCursor).toBeNull();
        // Retention: with a bound of 5 the trail forgets the oldest (Redis trims approximately: at least the bound kept).
        for (let i = 0; i < 200; i++)
          await store.appendAudit({ at: T0 + 100 + i, actor: 'cli', action: 'x', target: `v${i}`, detail: {} }, 5);
        const kept = await store.listAudit(1000, null);
        expect(kept.items.length).toBeGreaterThanOrEqual(5);
        expect(kept.items.length).toBeLessThan(225);
        expect(kept.items[0]?.target).toBe('v199');
      });
    });

    describe('nonce key ring', () => {
      it('is created once from the first candidate; later candidates do not replace it', async () => {
        const first = await store.nonceKeyRing('first-secret-aaaaaaaaaa');
        expect(first).toEqual({ current: 'first-secret-aaaaaaaaaa', previous: null, rotatedAt: null });
        expect(await store.nonceKeyRing('second-secret-bbbbbbbbb')).toEqual(first);
      });

      it('a rotation makes the current secret the previous one', async () => {
        await store.nonceKeyRing('first-secret-aaaaaaaaaa');
        const ring = await store.rotateNonceKey('next-secret-cccccccccc', T0);
        expect(ring).toEqual({ current: 'next-secret-cccccccccc', previous: 'first-secret-aaaaaaaaaa', rotatedAt: T0 });
        expect(await store.nonceKeyRing('ignored-dddddddddddddd')).toEqual(ring);
      });
    });

    describe('accounts', () => {
      it('creates and reads back every field faithfully; refuses a duplicate', async () => {
        const rec: AccountRecord = {
          account: {
            ...account('élise@example.com').account,
            authId: 'elise-auth',
            allowedAddresses: ['10.0.0.0/8', '2001:db8::1'],
            enabled: false,
            maxContacts: 7,
            algorithms: ['SHA-256', 'MD5'],
            passwordChangedAt: T0 - 5,
            staleDevice: { address: '198.51.100.7', seenAt: T0 - 1 },
          },
          credentials: {
            ha1: { MD5: '0'.repeat(32), 'SHA-512-256': 'f'.repeat(64) },
            previousHa1: { MD5: '1'.repeat(32) },
            previousUntil: T0 + HOUR,
          },
        };
        expect(await store.createAccount(rec)).toBe(true);
        expect(await store.getAccount('élise@example.com')).toEqual(rec);
        expect(await store.createAccount(account('élise@example.com'))).toBe(false);
        expect(await store.getAccount('élise@example.com')).toEqual(rec);
        expect(await store.getAccount('nobody@example.com')).toBeNull();
      });

      it('keeps an account without credentials (ip accounts)', async () => {
        const rec: AccountRecord = {
          account: { ...account('pbx@example.com').account, authType: 'ip', allowedAddresses: ['203.0.113.5'] },
          credentials: null,
        };
        await store.createAccount(rec);
        expect(await store.getAccount('pbx@example.com')).toEqual(rec);
      });

      it('pages accounts in AOR order with a cursor, and counts them', async () => {
        const aors = ['dave@b.example', 'alice@a.example', 'carol@a.example', 'bob@a.example', 'erin@c.example'];
        for (const aor of aors) await store.createAccount(account(aor));
        expect(await store.countAccounts()).toBe(5);
        const sorted = [...aors].sort();
        const p1 = await store.listAccounts(2, null);
        expect(p1.items.map((a) => a.aor)).toEqual(sorted.slice(0, 2));
        expect(p1.nextCursor).toBe(sorted[1]);
        const p2 = await store.listAccounts(2, p1.nextCursor);
        expect(p2.items.map((a) => a.aor)).toEqual(sorted.slice(2, 4));
        const p3 = await store.listAccounts(2, p2.nextCursor);
        expect(p3.items.map((a) => a.aor)).toEqual(sorted.slice(4));
        expect(p3.nextCursor).toBeNull();
        const all = await store.listAccounts(5, null);
        expect(all.items).toHaveLength(5);
        expect(all.nextCursor).toBeNull();
        // A cursor that names no account still continues after it.
        const after = await store.listAccounts(10, 'bz');
        expect(after.items.map((a) => a.aor)).toEqual(sorted.filter((a) => a > 'bz'));
      });

      it('updates the patched fields only; unknown AOR gives null', async () => {
        await store.createAccount(account('alice@example.com'));
        const now = T0 + HOUR;
        const updated = await store.updateAccount(
          'alice@example.com',
          { enabled: false, maxContacts: 3, algorithms: ['SHA-256'], allowedAddresses: ['192.0.2.0/24'] },
          now,
          false,
        );
        const expected = {
          ...account('alice@example.com').account,
          enabled: false,
          maxContacts: 3,
          algorithms: ['SHA-256'],
          allowedAddresses: ['192.0.2.0/24'],
          updatedAt: now,
        };
        expect(updated).toEqual(expected);
        expect((await store.getAccount('alice@example.com'))?.account).toEqual(expected);
        const back = await store.updateAccount(
          'alice@example.com',
          { maxContacts: null, algorithms: null },
          now,
          false,
        );
        expect(back?.maxContacts).toBeNull();
        expect(back?.algorithms).toBeNull();
        expect(back?.enabled).toBe(false);
        expect(await store.updateAccount('nobody@example.com', { enabled: true }, now, false)).toBeNull();
        expect(await store.getAccount('nobody@example.com')).toBeNull();
      });

      it('updateAccount with clearBindings removes the bindings atomically; without, keeps them', async () => {
        await store.createAccount(account('alice@example.com'));
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR)], T0)).toBe('ok');
        await store.updateAccount('alice@example.com', { enabled: false }, T0 + 1, false);
        expect(await store.getBindings('alice@example.com', T0 + 2)).toHaveLength(1);
        const v1 = (await store.loadRegistration('alice@example.com', '192.0.2.1', T0 + 2)).version;
        await store.updateAccount('alice@example.com', { enabled: true }, T0 + 3, true);
        const snap = await store.loadRegistration('alice@example.com', '192.0.2.1', T0 + 4);
        expect(snap.bindings).toEqual([]);
        expect(snap.version).not.toBe(v1);
        expect(await store.countBindings(T0 + 4)).toBe(0);
      });

      it('setCredentials replaces the credentials and clears the bindings', async () => {
        await store.createAccount(account('alice@example.com'));
        await store.recordStaleDevice('alice@example.com', '198.51.100.9', T0 + 1);
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR), binding('b', T0 + HOUR)], T0 + 2)).toBe(
          'ok',
        );
        const before = await store.loadRegistration('alice@example.com', '192.0.2.1', T0 + 3);
        const creds = { ha1: { MD5: 'c'.repeat(32) }, previousHa1: { MD5: 'a'.repeat(32) }, previousUntil: T0 + DAY };
        expect(await store.setCredentials('alice@example.com', creds, T0 + 10)).toBe(true);
        const rec = await store.getAccount('alice@example.com');
        expect(rec?.credentials).toEqual(creds);
        expect(rec?.account.passwordChangedAt).toBe(T0 + 10);
        expect(rec?.account.updatedAt).toBe(T0 + 10);
        expect(rec?.account.staleDevice).toBeNull();
        const after = await store.loadRegistration('alice@example.com', '192.0.2.1', T0 + 11);
        expect(after.bindings).toEqual([]);
        expect(after.version).not.toBe(before.version);
        expect(await store.countBindings(T0 + 11)).toBe(0);
        // A commit against the pre-change version is refused.
        const stale = await store.commitRegistration({
          aor: 'alice@example.com',
          expectedVersion: before.version,
          bindings: [binding('a', T0 + HOUR)],
          nonce: null,
          authenticated: true,
          now: T0 + 12,
        });
        expect(stale).toBe('conflict');
        expect(await store.setCredentials('nobody@example.com', creds, T0)).toBe(false);
        expect(await store.getAccount('nobody@example.com')).toBeNull();
      });

      it('records a stale device on an existing account only', async () => {
        await store.createAccount(account('alice@example.com'));
        await store.recordStaleDevice('alice@example.com', '198.51.100.9', T0 + 5, 'Yealink SIP-T46U 108.86');
        expect((await store.getAccount('alice@example.com'))?.account.staleDevice).toEqual({
          address: '198.51.100.9',
          seenAt: T0 + 5,
          userAgent: 'Yealink SIP-T46U 108.86',
        });
        await store.recordStaleDevice('nobody@example.com', '198.51.100.9', T0 + 5);
        expect(await store.getAccount('nobody@example.com')).toBeNull();
        expect(await store.countAccounts()).toBe(1);
      });

      it('deletes the account with its bindings and lockout', async () => {
        await store.createAccount(account('alice@example.com'));
        await store.createAccount(account('bob@example.com'));
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR)], T0)).toBe('ok');
        for (let i = 0; i < 3; i++) await fail('alice@example.com', '192.0.2.50', T0 + i, false);
        expect((await store.listLockouts(T0 + 10)).extensions).toHaveLength(1);
        expect(await store.deleteAccount('alice@example.com')).toBe(true);
        expect(await store.getAccount('alice@example.com')).toBeNull();
        expect(await store.getBindings('alice@example.com', T0 + 10)).toEqual([]);
        expect(await store.countBindings(T0 + 10)).toBe(0);
        expect(await store.countAccounts()).toBe(1);
        expect((await store.listAccounts(10, null)).items.map((a) => a.aor)).toEqual(['bob@example.com']);
        expect((await store.listLockouts(T0 + 10)).extensions).toEqual([]);
        const snap = await store.loadRegistration('alice@example.com', '192.0.2.50', T0 + 10);
        expect(snap.record).toBeNull();
        expect(snap.extensionLock).toBeNull();
        expect(await store.deleteAccount('alice@example.com')).toBe(false);
        // The AOR can be created again, empty.
        expect(await store.createAccount(account('alice@example.com'))).toBe(true);
        expect(await store.getBindings('alice@example.com', T0 + 10)).toEqual([]);
      });
    });

    describe('registrations and bindings', () => {
      it('commits bindings and reads them back faithfully with a new version', async () => {
        await store.createAccount(account('alice@example.com'));
        const snap0 = await store.loadRegistration('alice@example.com', '192.0.2.10', T0);
        expect(snap0.record).toEqual(account('alice@example.com'));
        expect(snap0.bindings).toEqual([]);
        expect(snap0.extensionLock).toBeNull();
        expect(snap0.addressLock).toBeNull();
        const b1 = binding('<urn:uuid:00000000-0000-0000-0000-000000000001>;1', T0 + HOUR, {
          params: ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1',
          q: 0.5,
          instance: '<urn:uuid:00000000-0000-0000-0000-000000000001>',
          regId: 1,
          path: ['<sip:edge.example.com;lr>', '<sip:core.example.com;lr>'],
          source: { transport: 'tls', address: '2001:db8::7', port: 50123, connectionId: 42, node: 'n1' },
          userAgent: 'Phone/1.0 "ü"',
          cseq: 4294967295,
        });
        const b2 = binding('sip:bob@192.0.2.11', T0 + 2 * HOUR);
        expect(
          await store.commitRegistration({
            aor: 'alice@example.com',
            expectedVersion: snap0.version,
            bindings: [b1, b2],
            nonce: null,
            authenticated: true,
            now: T0,
          }),
        ).toBe('ok');
        const snap1 = await store.loadRegistration('alice@example.com', '192.0.2.10', T0 + 1);
        expect(snap1.version).not.toBe(snap0.version);
        expect([...snap1.bindings].sort((a, b) => a.expiresAt - b.expiresAt)).toEqual([b1, b2]);
        const got = await store.getBindings('alice@example.com', T0 + 1);
        expect([...got].sort((a, b) => a.expiresAt - b.expiresAt)).toEqual([b1, b2]);
      });

      it('refuses a commit against a moved version (conflict) and writes nothing', async () => {
        await store.createAccount(account('alice@example.com'));
        const snap = await store.loadRegistration('alice@example.com', '192.0.2.10', T0);
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR)], T0)).toBe('ok');
        const r = await store.commitRegistration({
          aor: 'alice@example.com',
          expectedVersion: snap.version,
          bindings: [binding('b', T0 + HOUR)],
          nonce: null,
          authenticated: true,
          now: T0 + 1,
        });
        expect(r).toBe('conflict');
        expect((await store.getBindings('alice@example.com', T0 + 2)).map((b) => b.key)).toEqual(['a']);
      });

      it('replaces the whole binding set on each commit', async () => {
        await store.createAccount(account('alice@example.com'));
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR), binding('b', T0 + HOUR)], T0)).toBe('ok');
        expect(await store.countBindings(T0 + 1)).toBe(2);
        expect(await commit('alice@example.com', [binding('b', T0 + 2 * HOUR), binding('c', T0 + HOUR)], T0 + 1)).toBe(
          'ok',
        );
        const keys = (await store.getBindings('alice@example.com', T0 + 2)).map((b) => b.key).sort();
        expect(keys).toEqual(['b', 'c']);
        expect(await store.countBindings(T0 + 2)).toBe(2);
        expect(await commit('alice@example.com', [], T0 + 3)).toBe('ok');
        expect(await store.getBindings('alice@example.com', T0 + 4)).toEqual([]);
        expect(await store.countBindings(T0 + 4)).toBe(0);
      });

      it('detects a replayed (nonce, nc) and writes nothing; conflict does not consume the nc', async () => {
        await store.createAccount(account('alice@example.com'));
        const n = { nonce: 'nonce-1', nc: 1 };
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR)], T0, n)).toBe('ok');
        expect(await commit('alice@example.com', [binding('x', T0 + HOUR)], T0 + 1, n)).toBe('replay');
        expect(await commit('alice@example.com', [binding('x', T0 + HOUR)], T0 + 1, { nonce: 'nonce-1', nc: 0 })).toBe(
          'replay',
        );
        expect((await store.getBindings('alice@example.com', T0 + 2)).map((b) => b.key)).toEqual(['a']);
        expect(await commit('alice@example.com', [binding('b', T0 + HOUR)], T0 + 2, { nonce: 'nonce-1', nc: 2 })).toBe(
          'ok',
        );
        // Another nonce starts its own count.
        expect(await commit('alice@example.com', [binding('c', T0 + HOUR)], T0 + 3, { nonce: 'nonce-2', nc: 1 })).toBe(
          'ok',
        );
        // A conflicting commit leaves nc 7 unused.
        const r = await store.commitRegistration({
          aor: 'alice@example.com',
          expectedVersion: -1,
          bindings: [],
          nonce: { nonce: 'nonce-3', nc: 7, ttlMs: 5 * MIN },
          authenticated: true,
          now: T0 + 4,
        });
        expect(r).toBe('conflict');
        expect(await commit('alice@example.com', [binding('d', T0 + HOUR)], T0 + 5, { nonce: 'nonce-3', nc: 7 })).toBe(
          'ok',
        );
      });

      it('useNonce accepts only a higher nc, per AOR and nonce', async () => {
        const use = (aor: string, nonce: string, nc: number) => store.useNonce(aor, { nonce, nc, ttlMs: 5 * MIN });
        expect(await use('alice@example.com', 'n1', 1)).toBe(true);
        expect(await use('alice@example.com', 'n1', 1)).toBe(false);
        expect(await use('alice@example.com', 'n1', 3)).toBe(true);
        expect(await use('alice@example.com', 'n1', 2)).toBe(false);
        expect(await use('bob@example.com', 'n1', 1)).toBe(true);
        expect(await use('alice@example.com', 'n2', 1)).toBe(true);
        // useNonce and commitRegistration share the record.
        await store.createAccount(account('alice@example.com'));
        expect(await commit('alice@example.com', [], T0, { nonce: 'n1', nc: 3 })).toBe('replay');
        expect(await commit('alice@example.com', [], T0, { nonce: 'n1', nc: 4 })).toBe('ok');
        expect(await use('alice@example.com', 'n1', 4)).toBe(false);
      });

      it('never returns expired bindings and counts live ones only', async () => {
        await store.createAccount(account('alice@example.com'));
        await store.createAccount(account('bob@example.com'));
        expect(await commit('alice@example.com', [binding('a1', T0 + HOUR), binding('a2', T0 + 3 * HOUR)], T0)).toBe(
          'ok',
        );
        expect(await commit('bob@example.com', [binding('b1', T0 + 2 * HOUR)], T0)).toBe('ok');
        expect(await store.countBindings(T0)).toBe(3);
        expect(await store.countBindings(T0 + HOUR)).toBe(2);
        expect((await store.getBindings('alice@example.com', T0 + HOUR)).map((b) => b.key)).toEqual(['a2']);
        const snap = await store.loadRegistration('alice@example.com', '192.0.2.10', T0 + 90 * MIN);
        expect(snap.bindings.map((b) => b.key)).toEqual(['a2']);
        expect(await store.countBindings(T0 + 2 * HOUR)).toBe(1);
        expect(await store.getBindings('bob@example.com', T0 + 2 * HOUR)).toEqual([]);
        expect(await store.countBindings(T0 + 3 * HOUR)).toBe(0);
        expect(await store.getBindings('alice@example.com', T0 + 10 * DAY)).toEqual([]);
        // Bindings already expired at commit time are not kept.
        expect(await commit('bob@example.com', [binding('old', T0 + 10 * DAY - 1)], T0 + 10 * DAY)).toBe('ok');
        expect(await store.getBindings('bob@example.com', T0 + 10 * DAY)).toEqual([]);
        expect(await store.countBindings(T0 + 10 * DAY)).toBe(0);
      });

      it('clearBindings removes everything, reports how many, and moves the version', async () => {
        await store.createAccount(account('alice@example.com'));
        expect(await commit('alice@example.com', [binding('a', T0 + HOUR), binding('b', T0 + HOUR)], T0)).toBe('ok');
        const v = (await store.loadRegistration('alice@example.com', '192.0.2.10', T0)).version;
        expect(await store.clearBindings('alice@example.com')).toBe(2);
        const snap = await store.loadRegistration('alice@example.com', '192.0.2.10', T0 + 1);
        expect(snap.bindings).toEqual([]);
        expect(snap.version).not.toBe(v);
        expect(await store.countBindings(T0 + 1)).toBe(0);
        expect(await store.clearBindings('alice@example.com')).toBe(0);
      });
    });

    describe('lockouts', () => {
      it('locks an extension after threshold consecutive failures', async () => {
        await store.createAccount(account('alice@example.com'));
        const a = 'alice@example.com';
        const r1 = await fail(a, '192.0.2.50', T0, false);
        expect(r1.extension).toMatchObject({ aor: a, failures: 1, lockedUntil: null, lastAddress: '192.0.2.50' });
        expect(r1.address).toBeNull();
        await fail(a, '192.0.2.50', T0 + 1, false);
        const r3 = await fail(a, '192.0.2.51', T0 + 2, false);
        expect(r3.extensionLockedNow).toBe(true);
        expect(r3.extension).toEqual({
          aor: a,
          failures: 3,
          lockedUntil: T0 + 2 + 15 * MIN,
          lastAddress: '192.0.2.51',
          lockouts: 1,
          // From where, since when: what the console's blacklist shows.
          firstFailureAt: T0,
          lastFailureAt: T0 + 2,
          sources: ['192.0.2.51', '192.0.2.50'],
        });
        expect((await store.listLockouts(T0 + 3)).extensions[0]).toMatchObject({
          firstFailureAt: T0,
          sources: ['192.0.2.51', '192.0.2.50'],
        });
        const snap = await store.loadRegistration(a, '192.0.2.99', T0 + 3);
        expect(snap.extensionLock?.lockedUntil).toBe(T0 + 2 + 15 * MIN);
        // Further failures while locked do not start a new lock.
        const r4 = await fail(a, '192.0.2.51', T0 + 4, false);
        expect(r4.extensionLockedNow).toBe(false);
        expect(r4.extension?.lockedUntil).toBe(T0 + 2 + 15 * MIN);
        // After the lock ends the extension reads as unlocked, and counting starts again.
        const later = T0 + HOUR;
        expect((await store.loadRegistration(a, '192.0.2.99', later)).extensionLock?.lockedUntil ?? null).toBeNull();
        expect((await fail(a, '192.0.2.50', later, false)).extension).toMatchObject({ failures: 1, lockedUntil: null });
      });

      it('a successful commit resets the consecutive count but not the lockout history', async () => {
        const a = 'alice@example.com';
        await store.createAccount(account(a));
        for (let i = 0; i < 3; i++) await fail(a, '192.0.2.50', T0 + i, false);
        await fail(a, '192.0.2.50', T0 + HOUR, false);
        await fail(a, '192.0.2.50', T0 + HOUR + 1, false);
        expect(await commit(a, [binding('a', T0 + 2 * HOUR)], T0 + HOUR + 2)).toBe('ok');
        const snap = await store.loadRegistration(a, '192.0.2.50', T0 + HOUR + 3);
        expect(snap.extensionLock).toMatchObject({ failures: 0, lockedUntil: null, lockouts: 1 });
        // Two more failures do not lock (count restarted); the third does, escalated (second lockout in the window).
        await fail(a, '192.0.2.50', T0 + HOUR + 4, false);
        expect((await fail(a, '192.0.2.50', T0 + HOUR + 5, false)).extensionLockedNow).toBe(false);
        const r = await fail(a, '192.0.2.50', T0 + HOUR + 6, false);
        expect(r.extensionLockedNow).toBe(true);
        expect(r.extension).toMatchObject({ lockouts: 2, lockedUntil: T0 + HOUR + 6 + 30 * MIN });
      });

      it('escalates repeated lockouts and makes the permanentAfter-th permanent', async () => {
        const a = 'alice@example.com';
        await store.createAccount(account(a));
        const lockAt = async (t: number) => {
          let last = await fail(a, '192.0.2.50', t, false);
          for (let i = 1; i < 3; i++) last = await fail(a, '192.0.2.50', t + i, false);
          return last;
        };
        const l1 = await lockAt(T0);
        expect(l1.extension).toMatchObject({ lockouts: 1, lockedUntil: T0 + 2 + 15 * MIN });
        const l2 = await lockAt(T0 + HOUR);
        expect(l2.extension).toMatchObject({ lockouts: 2, lockedUntil: T0 + HOUR + 2 + 30 * MIN });
        const l3 = await lockAt(T0 + 3 * HOUR);
        expect(l3.extensionLockedNow).toBe(true);
        expect(l3.extension).toMatchObject({ lockouts: 3, lockedUntil: Number.MAX_SAFE_INTEGER });
        const far = T0 + 365 * DAY;
        expect((await store.loadRegistration(a, '192.0.2.50', far)).extensionLock?.lockedUntil).toBe(
          Number.MAX_SAFE_INTEGER,
        );
        expect((await store.listLockouts(far)).extensions.map((e) => e.aor)).toEqual([a]);
        // Lifting a permanent lock works.
        expect(await store.liftExtension(a, far)).toBe(true);
        expect((await store.loadRegistration(a, '192.0.2.50', far)).extensionLock?.lockedUntil ?? null).toBeNull();
      });

      it('forgets the escalation after the escalation window', async () => {
        const a = 'alice@example.com';
        await store.createAccount(account(a));
        for (let i = 0; i < 3; i++) await fail(a, '192.0.2.50', T0 + i, false);
        let r = await fail(a, '192.0.2.50', T0 + 2 * DAY, false);
        r = await fail(a, '192.0.2.50', T0 + 2 * DAY + 1, false);
        r = await fail(a, '192.0.2.50', T0 + 2 * DAY + 2, false);
        expect(r.extension).toMatchObject({ lockouts: 1, lockedUntil: T0 + 2 * DAY + 2 + 15 * MIN });
      });

      it('locks an address after threshold failures within the window, for unknown users too', async () => {
        const addr = '203.0.113.9';
        // Spread out: never threshold failures within one window.
        for (let i = 0; i < 6; i++) {
          const r = await fail(null, addr, T0 + i * 4 * MIN);
          expect(r.extension).toBeNull();
          expect(r.addressLockedNow).toBe(false);
        }
        expect(await store.isAddressLocked(addr, T0 + 25 * MIN)).toBe(false);
        const t = T0 + HOUR;
        for (let i = 0; i < 3; i++) expect((await fail(null, addr, t + i)).addressLockedNow).toBe(false);
        const r = await fail(null, addr, t + 3);
        expect(r.addressLockedNow).toBe(true);
        expect(r.address).toEqual({
          address: addr,
          failures: 4,
          lockedUntil: t + 3 + 30 * MIN,
          lockouts: 1,
          firstFailureAt: t,
          lastFailureAt: t + 3,
          aors: [],
        });
        expect(await store.isAddressLocked(addr, t + 4)).toBe(true);
        expect(await store.isAddressLocked('203.0.113.10', t + 4)).toBe(false);
        expect((await store.loadRegistration('x@example.com', addr, t + 4)).addressLock?.lockedUntil).toBe(
          t + 3 + 30 * MIN,
        );
        expect(await store.isAddressLocked(addr, t + 3 + 30 * MIN)).toBe(false);
        // The second lockout within the escalation window is twice as long.
        const t2 = t + 2 * HOUR;
        let last = r;
        for (let i = 0; i < 4; i++) last = await fail(null, addr, t2 + i);
        expect(last.address).toMatchObject({ lockouts: 2, lockedUntil: t2 + 3 + 60 * MIN });
      });

      it('counts a known extension and its address together', async () => {
        const a = 'alice@example.com';
        await store.createAccount(account(a));
        const r = await fail(a, '203.0.113.20', T0);
        expect(r.extension).toMatchObject({ failures: 1 });
        expect(r.address).toMatchObject({ address: '203.0.113.20', failures: 1, lockedUntil: null });
      });

      it('never counts a trusted address (countAddress false)', async () => {
        for (let i = 0; i < 10; i++) {
          const r = await fail(null, '10.0.0.5', T0 + i, false);
          expect(r).toEqual({ extension: null, address: null, extensionLockedNow: false, addressLockedNow: false });
        }
        expect(await store.isAddressLocked('10.0.0.5', T0 + 20)).toBe(false);
        expect((await store.loadRegistration('x@example.com', '10.0.0.5', T0 + 20)).addressLock).toBeNull();
        expect((await store.listLockouts(T0 + 20)).addresses).toEqual([]);
      });

      it('lists current lockouts, lifts them one by one or all, and resets the counters', async () => {
        await store.createAccount(account('alice@example.com'));
        await store.createAccount(account('bob@example.com'));
        for (const a of ['bob@example.com', 'alice@example.com']) {
          for (let i = 0; i < 3; i++) await fail(a, '10.1.1.1', T0 + i, false);
        }
        for (const addr of ['203.0.113.2', '203.0.113.1']) {
          for (let i = 0; i < 4; i++) await fail(null, addr, T0 + i);
        }
        // A non-locked address with failures is not listed.
        await fail(null, '203.0.113.3', T0);
        const list = await store.listLockouts(T0 + 10);
        expect(list.extensions.map((e) => e.aor)).toEqual(['alice@example.com', 'bob@example.com']);
        expect(list.addresses.map((e) => e.address)).toEqual(['203.0.113.1', '203.0.113.2']);
        expect(list.extensions[0]).toMatchObject({ failures: 3, lockouts: 1, lockedUntil: T0 + 2 + 15 * MIN });
        expect(list.addresses[0]).toMatchObject({ failures: 4, lockouts: 1, lockedUntil: T0 + 3 + 30 * MIN });

        expect(await store.liftExtension('alice@example.com', T0 + 11)).toBe(true);
        expect(await store.liftExtension('alice@example.com', T0 + 12)).toBe(false);
        expect(await store.liftExtension('nobody@example.com', T0 + 12)).toBe(false);
        expect(await store.liftAddress('203.0.113.1', T0 + 12)).toBe(true);
        expect(await store.liftAddress('203.0.113.1', T0 + 12)).toBe(false);
        expect(await store.liftAddress('203.0.113.3', T0 + 12)).toBe(false);
        expect(await store.isAddressLocked('203.0.113.1', T0 + 13)).toBe(false);
        const snap = await store.loadRegistration('alice@example.com', '203.0.113.1', T0 + 13);
        expect(snap.extensionLock).toMatchObject({ failures: 0, lockedUntil: null });
        expect(snap.addressLock).toMatchObject({ failures: 0, lockedUntil: null });
        // The counter restarted: one failure is one, not four.
        expect((await fail('alice@example.com', '203.0.113.1', T0 + 14)).address).toMatchObject({ failures: 1 });

        const list2 = await store.listLockouts(T0 + 15);
        expect(list2.extensions.map((e) => e.aor)).toEqual(['bob@example.com']);
        expect(list2.addresses.map((e) => e.address)).toEqual(['203.0.113.2']);
        expect(await store.liftAll(T0 + 16)).toBe(2);
        expect(await store.listLockouts(T0 + 17)).toEqual({ extensions: [], addresses: [] });
        expect(await store.liftAll(T0 + 18)).toBe(0);
      });

      it('drops expired lockouts from the list', async () => {
        await store.createAccount(account('alice@example.com'));
        for (let i = 0; i < 3; i++) await fail('alice@example.com', '10.1.1.1', T0 + i, false);
        for (let i = 0; i < 4; i++) await fail(null, '203.0.113.1', T0 + i);
        expect((await store.listLockouts(T0 + 10)).extensions).toHaveLength(1);
        expect(await store.listLockouts(T0 + 2 * HOUR)).toEqual({ extensions: [], addresses: [] });
        expect(await store.liftAll(T0 + 2 * HOUR)).toBe(0);
      });
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
