import { describe, it, expect } from 'vitest';
import { computeHa1, computeResponse, digestHash, hexEqual, parseAlgorithm } from '../../src/sip/digest.js';

describe('parseAlgorithm', () => {
  it('treats an absent algorithm as MD5 (RFC 7616 3.3)', () => {
    expect(parseAlgorithm(undefined)).toEqual({ algorithm: 'MD5', session: false });
  });
  it('accepts every algorithm and its -sess variant, case-insensitively', () => {
    expect(parseAlgorithm('md5')).toEqual({ algorithm: 'MD5', session: false });
    expect(parseAlgorithm('MD5-sess')).toEqual({ algorithm: 'MD5', session: true });
    expect(parseAlgorithm('sha-256')).toEqual({ algorithm: 'SHA-256', session: false });
    expect(parseAlgorithm('SHA-256-SESS')).toEqual({ algorithm: 'SHA-256', session: true });
    expect(parseAlgorithm('SHA-512-256')).toEqual({ algorithm: 'SHA-512-256', session: false });
    expect(parseAlgorithm('sha-512-256-sess')).toEqual({ algorithm: 'SHA-512-256', session: true });
  });
  it('refuses unknown algorithms', () => {
    expect(parseAlgorithm('SHA-1')).toBeNull();
    expect(parseAlgorithm('')).toBeNull();
    expect(parseAlgorithm('-sess')).toBeNull();
    expect(parseAlgorithm('AKAv1-MD5')).toBeNull();
  });
});

describe('digestHash', () => {
  it('produces lower-case hex of the right length', () => {
    expect(digestHash('MD5', '')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(digestHash('SHA-256', 'abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // FIPS 180-4 SHA-512/256 known answer for "abc".
    expect(digestHash('SHA-512-256', 'abc')).toBe('53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  });
});

describe('computeResponse', () => {
  it('matches RFC 2617 3.5 (MD5, qop=auth)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    const response = computeResponse({
      algorithm: 'MD5',
      session: false,
      ha1,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    expect(response).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('matches the RFC 2069 example when qop is absent', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'CircleOfLife');
    const response = computeResponse({
      algorithm: 'MD5',
      session: false,
      ha1,
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: null,
      nc: null,
      cnonce: null,
    });
    expect(response).toBe('1949323746fe6a43ef61f9606e7febea');
  });

  const rfc7616 = {
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    qop: 'auth' as const,
    nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    session: false,
  };

  it('matches RFC 7616 3.9.1 (MD5)', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeResponse({ ...rfc7616, algorithm: 'MD5', ha1 })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });

  it('matches RFC 7616 3.9.1 (SHA-256)', () => {
    const ha1 = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeResponse({ ...rfc7616, algorithm: 'SHA-256', ha1 })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('computes SHA-512-256 (RFC 7616 3.9.1 inputs; value cross-checked with Python hashlib)', () => {
    const ha1 = computeHa1('SHA-512-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(ha1).toBe('fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce');
    expect(computeResponse({ ...rfc7616, algorithm: 'SHA-512-256', ha1 })).toBe(
      '430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0',
    );
  });

  it('matches the MD5-sess SIP example (bob / zanzibar / biloxi.com)', () => {
    const ha1 = computeHa1('MD5', 'bob', 'biloxi.com', 'zanzibar');
    expect(ha1).toBe('12af60467a33e8518da5c68bbff12b11');
    const base = {
      algorithm: 'MD5' as const,
      ha1,
      method: 'INVITE',
      uri: 'sip:bob@biloxi.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth' as const,
      nc: '00000001',
      cnonce: '0a4f113b',
    };
    expect(computeResponse({ ...base, session: false })).toBe('89eb0059246c02b2f6ee02c7961d5ea3');
    expect(computeResponse({ ...base, session: true })).toBe('e4e4ea61d186d07a92c9e1f6919902e9');
  });

  it('hashes the body for auth-int with a -sess HA1 (cross-checked with Python hashlib)', () => {
    const body = Buffer.from('v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n');
    const input = {
      algorithm: 'SHA-256' as const,
      session: true,
      ha1: computeHa1('SHA-256', 'bob', 'biloxi.com', 'zanzibar'),
      method: 'REGISTER',
      uri: 'sip:biloxi.com',
      nonce: 'abc',
      qop: 'auth-int' as const,
      nc: '0000000a',
      cnonce: 'xyz',
      body,
    };
    expect(computeResponse(input)).toBe('08070e75e73acf3d5a1c344a3db4dedcc72f498944d9255c02935b42f36776de');
    expect(computeResponse({ ...input, body: Buffer.from('other') })).not.toBe(computeResponse(input));
  });
});

describe('hexEqual', () => {
  it('compares equal strings, case-insensitively', () => {
    expect(hexEqual('abcdef01', 'abcdef01')).toBe(true);
    expect(hexEqual('ABCDEF01', 'abcdef01')).toBe(true);
  });
  it('is false for different values or lengths', () => {
    expect(hexEqual('abcdef01', 'abcdef02')).toBe(false);
    expect(hexEqual('abcdef01', 'abcdef0')).toBe(false);
    expect(hexEqual('', 'a')).toBe(false);
  });
});
