import { createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { Nonces, singleKey } from '../../src/registrar/nonce.js';

const secret = Buffer.alloc(32, 7);
const T0 = 1_700_000_000_000;

describe('Nonces', () => {
  it('issues distinct, url-safe nonces that check as valid', () => {
    const n = new Nonces(singleKey(secret), 300_000);
    const a = n.issue(T0);
    const b = n.issue(T0);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(n.check(a, T0)).toBe('valid');
    expect(n.check(a, T0 + 299_999)).toBe('valid');
  });

  it('turns stale after its lifetime', () => {
    const n = new Nonces(singleKey(secret), 300_000);
    const a = n.issue(T0);
    expect(n.check(a, T0 + 300_000)).toBe('stale');
    expect(n.remainingMs(a, T0 + 100_000)).toBe(200_000);
    expect(n.remainingMs(a, T0 + 400_000)).toBe(0);
  });

  it('is checked by another instance holding the same secret', () => {
    const a = new Nonces(singleKey(secret), 300_000).issue(T0);
    expect(new Nonces(singleKey(Buffer.from(secret)), 300_000).check(a, T0 + 1)).toBe('valid');
  });

  it('rejects nonces signed with another secret, tampered or malformed', () => {
    const n = new Nonces(singleKey(secret), 300_000);
    const other = new Nonces(singleKey(Buffer.alloc(32, 8)), 300_000).issue(T0);
    expect(n.check(other, T0)).toBe('invalid');
    const good = n.issue(T0);
    const flipped = (good[5] === 'A' ? 'B' : 'A') as string;
    expect(n.check(good.slice(0, 5) + flipped + good.slice(6), T0)).toBe('invalid');
    expect(n.check('', T0)).toBe('invalid');
    expect(n.check('not a nonce', T0)).toBe('invalid');
    expect(n.check(good + 'A', T0)).toBe('invalid');
    expect(n.check(good.slice(1), T0)).toBe('invalid');
    expect(n.remainingMs('junk', T0)).toBe(0);
  });

  it('rejects a nonce dated far in the future (forged time cannot pass the MAC, clocks skew a little)', () => {
    const n = new Nonces(singleKey(secret), 300_000);
    const future = n.issue(T0 + 60_000);
    expect(n.check(future, T0)).toBe('invalid');
    expect(n.check(n.issue(T0 + 5_000), T0)).toBe('valid');
  });

  it('after a rotation, verifies nonces of the previous secret until previousUntil, and issues with the new one', () => {
    const before = new Nonces(singleKey(secret), 300_000);
    const old = before.issue(T0);
    const next = Buffer.alloc(32, 9);
    const n = new Nonces({ current: next, previous: secret, previousUntil: T0 + 300_000 }, 300_000);
    expect(n.check(old, T0 + 1)).toBe('valid');
    expect(n.check(old, T0 + 300_000)).toBe('invalid'); // previous no longer accepted (and the nonce is old anyway)
    const fresh = n.issue(T0);
    expect(before.check(fresh, T0)).toBe('invalid');
    expect(new Nonces(singleKey(next), 300_000).check(fresh, T0)).toBe('valid');
    before.setKeys({ current: next, previous: secret, previousUntil: T0 + 300_000 });
    expect(before.check(fresh, T0)).toBe('valid');
    expect(before.check(old, T0)).toBe('valid');
  });

  it('refuses a short secret', () => {
    expect(() => new Nonces(singleKey(Buffer.alloc(4)), 1000)).toThrow();
  });
});

describe('Nonces MAC', () => {
  it('is HMAC-SHA256 of the first 16 bytes, truncated to 16 (checked against node:crypto createHmac)', () => {
    for (const secret of [Buffer.from('a-nonce-secret-of-some-length'), Buffer.alloc(100, 7)]) {
      const raw = Buffer.from(new Nonces(singleKey(secret), 60_000).issue(1_700_000_000_123), 'base64url');
      const expected = createHmac('sha256', secret).update(raw.subarray(0, 16)).digest().subarray(0, 16);
      expect(raw.subarray(16).equals(expected)).toBe(true);
      expect(raw.readUInt32BE(0) * 2 ** 32 + raw.readUInt32BE(4)).toBe(1_700_000_000_123);
    }
  });
});
