/**
 * Property tests of digest verification (src/registrar/auth.ts DigestAuth, RFC 2617 / 7616 / 8760): an answer computed
 * by an independent client (test/helpers/digest-client.ts) always passes; changing any field of it, or answering with
 * any other password, never passes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DigestAuth, type VerifyInput } from '../../src/registrar/auth.js';
import { parseSipUri } from '../../src/sip/uri.js';
import { Nonces, singleKey } from '../../src/registrar/nonce.js';
import { computeHa1 } from '../../src/sip/digest.js';
import type { DigestAlgorithm } from '../../src/domain/types.js';
import { answer, parseAuthParams, parseChallenge } from '../helpers/digest-client.js';

const REALM = 'example.com';
const URI = 'sip:example.com';
const ALGORITHMS: DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256'];
const NOW = 1_700_000_000_000;

const nonces = new Nonces(singleKey(Buffer.from('property-test-nonce-secret')), 300_000);
const auth = new DigestAuth(nonces);

const token = fc.stringMatching(/^[A-Za-z0-9._~-]{1,24}$/);
const password = fc.string({ minLength: 1, maxLength: 40 });

interface Case {
  user: string;
  password: string;
  algorithm: DigestAlgorithm;
  nc: number;
  cnonce: string;
}

const cases = fc.record({
  user: token,
  password,
  algorithm: fc.constantFrom(...ALGORITHMS),
  nc: fc.integer({ min: 1, max: 0x7fffffff }),
  cnonce: token,
});

/** A fresh challenge for the algorithm, answered by the test client; the Authorization's params as the server sees them. */
function answered(c: Case, pw = c.password): { params: Record<string, string>; input: Omit<VerifyInput, 'params'> } {
  const [, value] = auth.challenge(REALM, [c.algorithm], NOW)[0] as [string, string];
  const challenge = parseChallenge(value);
  const authz = answer(challenge, {
    username: c.user,
    password: pw,
    method: 'REGISTER',
    uri: URI,
    nc: c.nc,
    cnonce: c.cnonce,
  });
  const params = parseAuthParams(authz.replace(/^Digest\s+/i, ''));
  const ha1 = computeHa1(c.algorithm, c.user, REALM, c.password);
  return {
    params,
    input: {
      realm: REALM,
      method: 'REGISTER',
      requestUriText: URI,
      requestUri: parseSipUri(URI)!,
      body: Buffer.alloc(0),
      authId: c.user,
      credentials: { ha1: { [c.algorithm]: ha1 }, previousHa1: null, previousUntil: null },
      algorithms: ALGORITHMS,
      now: NOW,
    },
  };
}

/** A value different from `v` for `field`, also after the case-folding the server may apply to that field. */
function mutated(field: string, v: string, seed: string): string {
  switch (field) {
    case 'algorithm':
      return ALGORITHMS.find((a) => a.toLowerCase() !== v.toLowerCase()) ?? 'MD5-sess';
    case 'qop':
      return v === 'auth' ? 'auth-int' : 'auth';
    case 'nc': {
      const n = (parseInt(v, 16) + 1 + (seed.length % 7)) % 0x100000000;
      return n.toString(16).padStart(8, '0');
    }
    case 'response': {
      // Flip one hex digit (case-insensitively different).
      const i = seed.length % v.length;
      const d = v[i] === '0' ? '1' : '0';
      return v.slice(0, i) + d + v.slice(i + 1);
    }
    default:
      return v + (seed === '' ? 'x' : seed);
  }
}

describe('DigestAuth.verify (property)', () => {
  it('accepts every correctly computed answer', () => {
    fc.assert(
      fc.property(cases, (c) => {
        const { params, input } = answered(c);
        const r = auth.verify({ ...input, params });
        expect(r.kind).toBe('ok');
        if (r.kind === 'ok') {
          expect(r.algorithm).toBe(c.algorithm);
          expect(r.nc).toBe(c.nc);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses the answer when any one field is changed', () => {
    const fields = ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'qop', 'nc', 'cnonce', 'opaque-less'];
    fc.assert(
      fc.property(cases, fc.constantFrom(...fields), token, (c, field, seed) => {
        const { params, input } = answered(c);
        const p = { ...params };
        if (field === 'opaque-less') {
          // Dropping a field the answer needs (any of them) makes it malformed or wrong.
          const needed = ['username', 'realm', 'nonce', 'uri', 'response', 'qop', 'nc', 'cnonce'];
          delete p[needed[seed.length % needed.length] as string];
        } else {
          p[field] = mutated(field, p[field] ?? '', seed);
        }
        expect(auth.verify({ ...input, params: p }).kind).not.toBe('ok');
      }),
      { numRuns: 500 },
    );
  });

  it('refuses an answer computed with any other password, another method, or for another account', () => {
    fc.assert(
      fc.property(cases, password, token, (c, other, otherUser) => {
        fc.pre(other !== c.password && otherUser !== c.user);
        const wrong = answered(c, other);
        expect(auth.verify({ ...wrong.input, params: wrong.params }).kind).toBe('failed');
        const right = answered(c);
        expect(auth.verify({ ...right.input, params: right.params, method: 'INVITE' }).kind).not.toBe('ok');
        expect(auth.verify({ ...right.input, params: right.params, authId: otherUser }).kind).toBe('failed');
        expect(auth.verify({ ...right.input, params: right.params, authId: null }).kind).toBe('failed');
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on arbitrary Authorization parameters', () => {
    const keys = fc.constantFrom(
      'username',
      'realm',
      'nonce',
      'uri',
      'response',
      'algorithm',
      'qop',
      'nc',
      'cnonce',
      'opaque',
      'x',
    );
    fc.assert(
      fc.property(fc.dictionary(keys, fc.string({ maxLength: 80 })), cases, (params, c) => {
        const { input } = answered(c);
        const r = auth.verify({ ...input, params });
        expect(['ok', 'stale', 'previous-password', 'malformed', 'failed']).toContain(r.kind);
        expect(r.kind).not.toBe('ok');
      }),
      { numRuns: 500 },
    );
  });
});
