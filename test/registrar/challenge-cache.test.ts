import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { ChallengeCache } from '../../src/registrar/challenge-cache.js';
import { DEFAULT_REGISTRAR_CONFIG } from '../../src/registrar/config.js';
import { Registrar } from '../../src/registrar/register.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { Store } from '../../src/store/types.js';
import { PEER, credentialsFor, makeAccount, must, parseRequest, DOMAIN } from './registrar-harness.js';
import { registerText } from '../helpers/sip-text.js';

describe('ChallengeCache', () => {
  it('remembers algorithms for ttl, then forgets', () => {
    const c = new ChallengeCache(1_000);
    c.rememberAlgorithms('a@x', ['MD5'], 0);
    expect(c.algorithmsFor('a@x', 999)).toEqual(['MD5']);
    expect(c.algorithmsFor('a@x', 1_000)).toBeUndefined();
    c.rememberAlgorithms('b@x', ['MD5'], 0);
    c.forget('b@x');
    expect(c.algorithmsFor('b@x', 1)).toBeUndefined();
  });

  it('remembers a locked address until the lock or the ttl ends, whichever is first, and forgets on a lift', () => {
    const c = new ChallengeCache(1_000);
    c.rememberLockedAddress('192.0.2.1', 500, 0);
    expect(c.addressLocked('192.0.2.1', 499)).toBe(true);
    expect(c.addressLocked('192.0.2.1', 500)).toBe(false);
    c.rememberLockedAddress('192.0.2.1', 1e12, 0);
    expect(c.addressLocked('192.0.2.1', 999)).toBe(true);
    expect(c.addressLocked('192.0.2.1', 1_000)).toBe(false);
    c.rememberLockedAddress('192.0.2.1', 1e12, 0);
    c.forgetLockedAddresses();
    expect(c.addressLocked('192.0.2.1', 1)).toBe(false);
  });

  it('stays within its size bound', () => {
    const c = new ChallengeCache(60_000, 100);
    for (let i = 0; i < 10_000; i++) c.rememberAlgorithms(`u${i}@x`, ['MD5'], 0);
    expect(c.algorithmsFor('u9999@x', 1)).toEqual(['MD5']);
    expect(c.algorithmsFor('u0@x', 1)).toBeUndefined();
  });

  it('is off with ttl 0', () => {
    const c = new ChallengeCache(0);
    c.rememberAlgorithms('a@x', ['MD5'], 0);
    expect(c.algorithmsFor('a@x', 0)).toBeUndefined();
  });
});

describe('Registrar with the challenge cache', () => {
  async function setup(challengeCacheMs: number): Promise<{ registrar: Registrar; loads: () => number }> {
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
      nonceSecret: Buffer.alloc(32, 1),
      challengeCacheMs,
    };
    return { registrar: new Registrar(counting, config, pino({ level: 'silent' })), loads: () => loads };
  }
  const first = (): ReturnType<typeof parseRequest> => parseRequest(registerText({ user: 'alice', domain: DOMAIN }));

  it('challenges a known AOR again without reading the store', async () => {
    const { registrar, loads } = await setup(5_000);
    expect(must(await registrar.handleRegister(first(), PEER, 1_000)).status).toBe(401);
    expect(loads()).toBe(1);
    const again = must(await registrar.handleRegister(first(), PEER, 2_000));
    expect(again.status).toBe(401);
    expect(again.headers.filter(([n]) => n === 'WWW-Authenticate')).toHaveLength(2);
    expect(loads()).toBe(1);
    await registrar.handleRegister(first(), PEER, 7_000); // past the ttl: read again
    expect(loads()).toBe(2);
  });

  it('reads the store every time with the cache off', async () => {
    const { registrar, loads } = await setup(0);
    await registrar.handleRegister(first(), PEER, 1_000);
    await registrar.handleRegister(first(), PEER, 1_001);
    expect(loads()).toBe(2);
  });
});
