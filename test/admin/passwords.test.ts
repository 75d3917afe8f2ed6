import { describe, expect, it } from 'vitest';
import { checkPassword, generatePassword, PASSWORD_ALPHABET } from '../../src/registrar/passwords.js';

const policy = { minLength: 12, forbidUsername: true };

describe('generatePassword', () => {
  it('has the asked length, 24 by default', () => {
    expect(generatePassword()).toHaveLength(24);
    expect(generatePassword(8)).toHaveLength(8);
    expect(generatePassword(128)).toHaveLength(128);
  });

  it('uses the alphabet only, which has no look-alikes', () => {
    for (const c of '0Oo1lI') expect(PASSWORD_ALPHABET).not.toContain(c);
    expect(new Set(PASSWORD_ALPHABET).size).toBe(PASSWORD_ALPHABET.length);
    const sample = Array.from({ length: 200 }, () => generatePassword(32)).join('');
    expect(sample).toMatch(/^[A-HJ-NP-Za-km-np-z2-9]+$/);
    expect(sample).not.toMatch(/[0Oo1lI]/);
  });

  it('covers the whole alphabet roughly uniformly (no modulo bias)', () => {
    const counts = new Map<string, number>();
    const text = Array.from({ length: 2000 }, () => generatePassword(56)).join('');
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(PASSWORD_ALPHABET.length);
    const mean = text.length / PASSWORD_ALPHABET.length; // 2000
    for (const n of counts.values()) expect(Math.abs(n - mean)).toBeLessThan(mean * 0.15);
  });

  it('differs every time and passes the policy', () => {
    const a = generatePassword();
    expect(generatePassword()).not.toBe(a);
    expect(checkPassword(a, policy, 'alice', 'alice')).toBeNull();
  });

  it('refuses impossible lengths', () => {
    expect(() => generatePassword(0)).toThrow(RangeError);
    expect(() => generatePassword(1.5)).toThrow(RangeError);
    expect(() => generatePassword(1000)).toThrow(RangeError);
  });
});

describe('checkPassword', () => {
  it('accepts a long unrelated password', () => {
    expect(checkPassword('correct-horse-battery', policy, '1001', 'auth1001')).toBeNull();
  });

  it('refuses a short one', () => {
    expect(checkPassword('short', policy, '1001', '1001')).toMatch(/too short/);
    expect(checkPassword('a'.repeat(11), policy, 'x', 'x')).toMatch(/too short/);
    expect(checkPassword('a'.repeat(12), policy, 'x', 'x')).toBeNull();
  });

  it('refuses one containing the username or extension, case-insensitively', () => {
    expect(checkPassword('my-Alice-password', policy, 'alice', 'a9')).toMatch(/username/);
    expect(checkPassword('xx1001xxxxxxxx', policy, '1001', '1001')).toMatch(/username/);
  });

  it('refuses one containing the auth ID', () => {
    expect(checkPassword('zzzAUTHID77zzzz', policy, '1001', 'authid77')).toMatch(/auth ID/);
  });

  it('allows the username inside when the policy says so', () => {
    expect(checkPassword('my-alice-password', { minLength: 12, forbidUsername: false }, 'alice', 'alice')).toBeNull();
  });

  it('refuses spaces and control characters and absurd lengths', () => {
    expect(checkPassword(' leading-space-pw', policy, 'u', 'u')).toMatch(/spaces/);
    expect(checkPassword('tab\there-password', policy, 'u', 'u')).toMatch(/spaces/);
    expect(checkPassword('x'.repeat(129), policy, 'u', 'u')).toMatch(/too long/);
  });
});
