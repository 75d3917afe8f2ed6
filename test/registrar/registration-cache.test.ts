import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { RegistrationCache } from '../../src/registrar/registration-cache.js';
import { DEFAULT_REGISTRAR_CONFIG } from '../../src/registrar/config.js';
import { Registrar } from '../../src/registrar/register.js';
import { singleKey } from '../../src/registrar/nonce.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Binding } from '../../src/domain/types.js';
import type { RegistrationSnapshot, Store } from '../../src/store/types.js';
import { DOMAIN, Harness, PEER, credentialsFor, header, makeAccount, must, sendTo } from './registrar-harness.js';
import { registerText } from '../helpers/sip-text.js';

const makeBinding = (): Binding => ({
  key: 'sip:alice@192.0.2.1',
  uri: 'sip:alice@192.0.2.1',
  params: '',
  q: null,
  expiresAt: 1e12,
  callId: 'c',
  cseq: 1,
  instance: null,
  regId: null,
  path: [],
  source: { transport: 'udp', address: '192.0.2.1', port: 5060, connectionId: null, node: null },
  userAgent: null,
  registeredAt: 0,
  updatedAt: 0,
});

const snap = (bindings: RegistrationSnapshot['bindings'] = []): RegistrationSnapshot => ({
  record: { account: makeAccount('alice'), credentials: null },
  bindings,
  version: 3,
  extensionLock: null,
  addressLock: null,
});

describe('RegistrationCache', () => {
  it('trusts a snapshot for ttl, then forgets it; never remembers an unknown account', () => {
    const c = new RegistrationCache(1_000);
    c.remember('a@x', snap(), 0);
    expect(c.snapshot('a@x', 999)?.version).toBe(3);
    expect(c.snapshot('a@x', 1_000)).toBeUndefined();
    c.remember('b@x', { ...snap(), record: null }, 0);
    expect(c.snapshot('b@x', 1)).toBeUndefined();
    c.remember('c@x', snap(), 0);
    c.forget('c@x');
    expect(c.snapshot('c@x', 1)).toBeUndefined();
  });

  it('drops bindings that expired since, and a commit keeps the deadline of the read', () => {
    const c = new RegistrationCache(1_000);
    const b = { ...makeBinding(), expiresAt: 500 };
    c.remember('a@x', snap([b]), 0);
    expect(c.snapshot('a@x', 400)?.bindings).toHaveLength(1);
    expect(c.snapshot('a@x', 600)?.bindings).toHaveLength(0);
    c.committed('a@x', { ...snap(), version: 4 });
    expect(c.snapshot('a@x', 900)?.version).toBe(4);
    expect(c.snapshot('a@x', 1_000)).toBeUndefined();
    c.committed('zz@x', snap()); // nothing to update: not remembered
    expect(c.snapshot('zz@x', 1)).toBeUndefined();
  });

  it('remembers a locked address until the lock or the ttl ends, whichever is first, and forgets on a lift', () => {
    const c = new RegistrationCache(1_000);
    c.rememberLockedAddress('192.0.2.1', 500, 0);
    expect(c.addressLocked('192.0.2.1', 499)).toBe(true);
    expect(c.addressLocked('192.0.2.1', 500)).toBe(false);
    c.rememberLockedAddress('192.0.2.1', 1e12, 0);
    expect(c.addressLocked('192.0.2.1', 999)).toBe(true);
    expect(c.addressLocked('192.0.2.1', 1_000)).toBe(false);
    c.rememberLockedAddress('192.0.2.1', 1e12, 0);
    c.clear();
    expect(c.addressLocked('192.0.2.1', 1)).toBe(false);
  });

  it('stays within its size bound', () => {
    const c = new RegistrationCache(60_000, 100);
    for (let i = 0; i < 10_000; i++) c.remember(`u${i}@x`, snap(), 0);
    expect(c.snapshot('u9999@x', 1)).toBeDefined();
    expect(c.snapshot('u0@x', 1)).toBeUndefined();
  });

  it('is off with ttl 0', () => {
    const c = new RegistrationCache(0);
    c.remember('a@x', snap(), 0);
    expect(c.snapshot('a@x', 0)).toBeUndefined();
  });
});

describe('Registrar with the registration cache', () => {
  async function setup(cacheMs: number): Promise<{ registrar: Registrar; loads: () => number }> {
    const store = new MemoryStore();
    await store.createAccount({
      account: makeAccount('alice'),
      credentials: credentialsFor('alice', DOMAIN, 'pw-alice-123'),
    });
    let loads = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'loadRegistration') loads++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Store;
    const config = {
      ...DEFAULT_REGISTRAR_CONFIG,
      domains: [DOMAIN],
      nonceKeys: singleKey(Buffer.alloc(32, 1)),
      cacheMs,
    };
    return { registrar: new Registrar(counting, config, pino({ level: 'silent' })), loads: () => loads };
  }
  const first = (): string => registerText({ user: 'alice', domain: DOMAIN });

  it('challenges a known AOR again without reading the store', async () => {
    const { registrar, loads } = await setup(5_000);
    expect(must(await sendTo(registrar, first(), PEER, 1_000)).status).toBe(401);
    expect(loads()).toBe(1);
    const again = must(await sendTo(registrar, first(), PEER, 2_000));
    expect(again.status).toBe(401);
    expect(again.headers.filter(([n]) => n === 'WWW-Authenticate')).toHaveLength(1);
    expect(loads()).toBe(1);
    await sendTo(registrar, first(), PEER, 7_000); // past the ttl: read again
    expect(loads()).toBe(2);
  });

  it('reads the store every time with the cache off', async () => {
    const { registrar, loads } = await setup(0);
    await sendTo(registrar, first(), PEER, 1_000);
    await sendTo(registrar, first(), PEER, 1_001);
    expect(loads()).toBe(2);
  });
});

describe('Registrar refreshes from the cache', () => {
  const STORE_CALLS = new Set(['loadRegistration', 'commitRegistration', 'useNonce', 'recordFailure', 'getAccount']);
  function counting(store: Store): { store: Store; calls: Map<string, number> } {
    const calls = new Map<string, number>();
    const proxy = new Proxy(store, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && STORE_CALLS.has(prop)) calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return Reflect.get(target, prop, receiver) as unknown;
      },
    }) as Store;
    return { store: proxy, calls };
  }

  it('a refresh costs one store call (the commit), and the 200 lists the binding', async () => {
    const { store, calls } = counting(new MemoryStore());
    const h = new Harness(store, { cacheMs: 5_000 });
    await h.addUser('alice', 'pw-alice-1234');
    const p = h.phone('alice', 'pw-alice-1234');
    expect((await p.register({}, 1_000)).status).toBe(200);
    calls.clear();
    const r = await p.refresh({}, 2_000);
    expect(r.status).toBe(200);
    expect(header(r, 'Contact')).toHaveLength(1);
    expect([...calls.keys()]).toEqual(['commitRegistration']);
  });

  it('a password changed elsewhere refuses the old password at once, though the cache held the old credentials', async () => {
    const raw = new MemoryStore();
    const h = new Harness(raw, { cacheMs: 60_000 });
    await h.addUser('alice', 'old-password-1');
    const p = h.phone('alice', 'old-password-1');
    expect((await p.register({}, 1_000)).status).toBe(200);
    // Another instance (or the admin API) changes the password: credentials replaced, bindings removed.
    await raw.setCredentials('alice@example.test', credentialsFor('alice', DOMAIN, 'new-password-2'), 1_500);
    const r = await p.refresh({}, 2_000);
    expect(r.status).toBe(403);
    expect(await raw.getBindings('alice@example.test', 2_000)).toHaveLength(0);
  });

  it('an account disabled elsewhere is refused at once', async () => {
    const raw = new MemoryStore();
    const h = new Harness(raw, { cacheMs: 60_000 });
    await h.addUser('alice', 'pw-alice-1234');
    const p = h.phone('alice', 'pw-alice-1234');
    expect((await p.register({}, 1_000)).status).toBe(200);
    await raw.updateAccount('alice@example.test', { enabled: false }, 1_500, true);
    expect((await p.refresh({}, 2_000)).status).toBe(403);
  });
});
