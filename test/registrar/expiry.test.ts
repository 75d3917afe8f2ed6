import { describe, it, expect } from 'vitest';
import { decideExpiry } from '../../src/registrar/expiry.js';
import { parseDelta } from '../../src/sip/headers.js';

const limits = { minExpires: 60, maxExpires: 7200, defaultExpires: 3600 };

describe('decideExpiry (RFC 3261 10.3 step 7)', () => {
  it('prefers the contact parameter over the Expires header', () => {
    expect(decideExpiry(120, 600, limits)).toEqual({ kind: 'set', seconds: 120 });
  });
  it('falls back to the Expires header, then the default', () => {
    expect(decideExpiry(null, 600, limits)).toEqual({ kind: 'set', seconds: 600 });
    expect(decideExpiry(undefined, undefined, limits)).toEqual({ kind: 'set', seconds: 3600 });
  });
  it('0 removes, from either place', () => {
    expect(decideExpiry(0, 600, limits)).toEqual({ kind: 'remove' });
    expect(decideExpiry(null, 0, limits)).toEqual({ kind: 'remove' });
  });
  it('0 < e < min is too brief (423 with Min-Expires)', () => {
    expect(decideExpiry(1, undefined, limits)).toEqual({ kind: 'too-brief', minExpires: 60 });
    expect(decideExpiry(59, undefined, limits)).toEqual({ kind: 'too-brief', minExpires: 60 });
    expect(decideExpiry(60, undefined, limits)).toEqual({ kind: 'set', seconds: 60 });
  });
  it('never refuses an hour or more, even when the minimum is higher (RFC 3261 10.3 step 7)', () => {
    expect(decideExpiry(3600, undefined, { ...limits, minExpires: 5000 })).toEqual({ kind: 'set', seconds: 3600 });
  });
  it('clamps above the maximum', () => {
    expect(decideExpiry(100_000, undefined, limits)).toEqual({ kind: 'set', seconds: 7200 });
    expect(decideExpiry(null, 2 ** 40, limits)).toEqual({ kind: 'set', seconds: 7200 });
  });
  it('junk is invalid', () => {
    expect(decideExpiry(-1, undefined, limits)).toEqual({ kind: 'invalid' });
    expect(decideExpiry(1.5, undefined, limits)).toEqual({ kind: 'invalid' });
    expect(decideExpiry(Number.NaN, undefined, limits)).toEqual({ kind: 'invalid' });
  });
});

describe('Expires header (delta-seconds, sip/headers.ts)', () => {
  it('parses delta-seconds, capping at 2^32-1', () => {
    expect(parseDelta(' 3600 ')).toBe(3600);
    expect(parseDelta('99999999999999')).toBe(2 ** 32 - 1);
    expect(parseDelta('-1')).toBeNull();
    expect(parseDelta('1e3')).toBeNull();
    expect(parseDelta('')).toBeNull();
  });
});
