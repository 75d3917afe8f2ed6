/**
 * Digest authentication arithmetic (RFC 2617 3.2.2, RFC 7616 3.4, RFC 8760 for SIP). Pure functions over strings:
 * no header parsing, no policy. Every hash is lower-case hex, as the RFCs' `H()` and `KD()` require.
 */
import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { DigestAlgorithm } from '../domain/types.js';

/** Node >= 20.12's one-shot crypto.hash is ~2.5x cheaper than createHash for short inputs; fall back without it. */
type OneShot = (algorithm: string, data: string | Buffer, encoding: 'hex') => string;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;

const NODE_HASH: Readonly<Record<DigestAlgorithm, string>> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

const BY_TOKEN: ReadonlyMap<string, DigestAlgorithm> = new Map([
  ['md5', 'MD5'],
  ['sha-256', 'SHA-256'],
  ['sha-512-256', 'SHA-512-256'],
]);

/**
 * The `algorithm` parameter: absent means MD5 (RFC 7616 3.3); a `-sess` suffix selects the session variant
 * (RFC 7616 3.4.2). Tokens are compared case-insensitively. null for an algorithm we do not implement.
 */
export function parseAlgorithm(token: string | undefined): { algorithm: DigestAlgorithm; session: boolean } | null {
  if (token === undefined) return { algorithm: 'MD5', session: false };
  let t = token.trim().toLowerCase();
  let session = false;
  if (t.endsWith('-sess')) {
    session = true;
    t = t.slice(0, -'-sess'.length);
  }
  const algorithm = BY_TOKEN.get(t);
  return algorithm === undefined ? null : { algorithm, session };
}

/** H(data) in lower-case hex; strings are hashed as UTF-8 (RFC 7616 3.4.4). */
export function digestHash(algorithm: DigestAlgorithm, data: string | Buffer): string {
  const name = NODE_HASH[algorithm];
  return oneShot !== undefined ? oneShot(name, data, 'hex') : createHash(name).update(data).digest('hex');
}

/** HA1 = H(username ":" realm ":" password) (RFC 7616 3.4.2, non-session form); what the store keeps. */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface ResponseInput {
  algorithm: DigestAlgorithm;
  session: boolean;
  /** The stored, non-session HA1. */
  ha1: string;
  method: string;
  uri: string;
  nonce: string;
  qop: 'auth' | 'auth-int' | null;
  nc: string | null;
  cnonce: string | null;
  /** The message body, for qop=auth-int; absent means empty. */
  body?: Buffer;
}

/** The expected `response` value; compare with hexEqual. */
export function computeResponse(input: ResponseInput): string {
  const { algorithm, nonce, qop } = input;
  const h = (s: string): string => digestHash(algorithm, s);
  const cnonce = input.cnonce ?? '';
  // RFC 7616 3.4.2: for -sess, A1 = H(user:realm:pass) ":" nonce ":" cnonce.
  const ha1 = input.session ? h(`${input.ha1}:${nonce}:${cnonce}`) : input.ha1;
  // RFC 7616 3.4.3: auth-int adds H(entity-body) to A2.
  const a2 =
    qop === 'auth-int'
      ? `${input.method}:${input.uri}:${digestHash(algorithm, input.body ?? Buffer.alloc(0))}`
      : `${input.method}:${input.uri}`;
  const ha2 = h(a2);
  // RFC 2069 form when qop is absent (RFC 2617 3.2.2.1).
  if (qop === null) return h(`${ha1}:${nonce}:${ha2}`);
  return h(`${ha1}:${nonce}:${input.nc ?? ''}:${cnonce}:${qop}:${ha2}`);
}

/** Constant-time comparison of two hex strings (case-insensitive); false when the lengths differ. */
export function hexEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false; // lengths are not secret: every HA1 and response of one algorithm has one
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b.toLowerCase(), 'utf8');
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}
