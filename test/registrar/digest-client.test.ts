// The test digest client must itself be right: check it against the RFCs' worked examples.
import { describe, it, expect } from 'vitest';
import { answer, parseAuthParams, parseChallenge } from '../helpers/digest-client.js';

describe('test digest client', () => {
  it('reproduces RFC 2617 3.5 (MD5, qop=auth)', () => {
    const ch = parseChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const a = parseAuthParams(
      answer(ch, {
        username: 'Mufasa',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nc: 1,
        cnonce: '0a4f113b',
      }).replace(/^Digest /, ''),
    );
    expect(a.response).toBe('6629fae49393a05397450978507c4ef1');
    expect(a.opaque).toBe('5ccc069c403ebaf9f0171e9517f40e41');
    expect(a.nc).toBe('00000001');
  });

  it('reproduces RFC 7616 3.9.1 (SHA-256)', () => {
    const ch = parseChallenge(
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
    expect(ch.qop).toEqual(['auth', 'auth-int']);
    const a = parseAuthParams(
      answer(ch, {
        username: 'Mufasa',
        password: 'Circle of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nc: 1,
        cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
      }).replace(/^Digest /, ''),
    );
    expect(a.response).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    expect(a.algorithm).toBe('SHA-256');
  });

  it('parses stale and quoted escapes', () => {
    const ch = parseChallenge('Digest realm="a\\"b", nonce="n", stale=TRUE');
    expect(ch.realm).toBe('a"b');
    expect(ch.stale).toBe(true);
    expect(ch.algorithm).toBe('MD5');
  });
});
