/**
 * Digest authentication of REGISTER (RFC 3261 22.4, RFC 2617, RFC 7616, RFC 8760): building challenges and deciding
 * what an Authorization answer proves. No I/O and no policy about lockouts: the caller counts failures.
 *
 * An unknown user is handled exactly like a known one: challenged with the configured algorithms, verified against a
 * throw-away HA1 (so it costs the same), and failed with the same outcome kind as a wrong password.
 */
import { randomBytes } from 'node:crypto';
import { computeResponse, hexEqual, parseAlgorithm } from '../sip/digest.js';
import { parseSipUri, uriComparisonKey } from '../sip/uri.js';
import type { Credentials, DigestAlgorithm } from '../store/types.js';
import type { Nonces } from './nonce.js';

/** Why an answer failed; all of them count towards lockouts and all get the same response. */
export type AuthFailure = 'realm' | 'algorithm' | 'nonce' | 'user' | 'unknown-user' | 'answer';

export type VerifyResult =
  | {
      readonly kind: 'ok';
      readonly algorithm: DigestAlgorithm;
      readonly nonce: string;
      /** The nonce-count as a number (the store refuses a (nonce, nc) it has seen). */
      readonly nc: number;
      /** The nonce's life left: how long its replay record must be kept. */
      readonly nonceTtlMs: number;
      /** Authentication-Info parameters other than nextnonce (RFC 2617 3.2.3): qop, rspauth, cnonce, nc. */
      readonly info: string;
    }
  /** The nonce expired but the answer was right: challenge again with stale=true (RFC 7616 3.3); not a failure. */
  | { readonly kind: 'stale' }
  /** Answered with the password replaced less than the grace period ago: refused, not counted. */
  | { readonly kind: 'previous-password' }
  /** Not a well-formed Digest answer (RFC 2617 3.2.2.5: 400), or its uri names another resource. */
  | { readonly kind: 'malformed'; readonly detail: string }
  | { readonly kind: 'failed'; readonly why: AuthFailure };

export interface VerifyInput {
  /** The Authorization's auth-params: lower-case keys, unquoted values. */
  readonly params: Readonly<Record<string, string>>;
  /** The realm we challenge with: the AOR's domain. */
  readonly realm: string;
  readonly method: string;
  readonly requestUri: string;
  readonly body: Buffer;
  /** The account's auth ID; null for an unknown user. */
  readonly authId: string | null;
  readonly credentials: Credentials | null;
  /** Algorithms this account is challenged with. */
  readonly algorithms: readonly DigestAlgorithm[];
  readonly now: number;
}

const NC_PATTERN = /^[0-9a-fA-F]{8}$/;

export class DigestAuth {
  /** Constant per instance; RFC 7616 lets the server choose it and clients echo it. */
  readonly opaque = randomBytes(12).toString('hex');
  /** Verification of an unknown user runs against this, so it takes as long as a real one. */
  private readonly decoyHa1 = randomBytes(32).toString('hex');

  constructor(private readonly nonces: Nonces) {}

  /** One WWW-Authenticate per algorithm, preferred first (RFC 7616 3.7, RFC 8760 2.4). */
  challenge(
    realm: string,
    algorithms: readonly DigestAlgorithm[],
    now: number,
    stale = false,
  ): Array<[string, string]> {
    const nonce = this.nonces.issue(now);
    return algorithms.map((algorithm) => [
      'WWW-Authenticate',
      `Digest realm="${quote(realm)}", nonce="${nonce}", opaque="${this.opaque}", algorithm=${algorithm}, qop="auth"` +
        (stale ? ', stale=true' : ''),
    ]);
  }

  /** A fresh nonce for Authentication-Info's nextnonce (RFC 2617 3.2.3, RFC 7616 3.5). */
  nextNonce(now: number): string {
    return this.nonces.issue(now);
  }

  verify(input: VerifyInput): VerifyResult {
    const p = input.params;
    const { username, realm, nonce, uri, response } = p;
    if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || !response)
      return { kind: 'malformed', detail: 'Incomplete Authorization' };
    // We offer qop=auth (and accept auth-int); the RFC 2069 form without qop/nc/cnonce has no replay protection.
    const qop = p.qop?.toLowerCase();
    if (qop !== 'auth' && qop !== 'auth-int') return { kind: 'malformed', detail: 'Unsupported qop' };
    if (p.nc === undefined || !NC_PATTERN.test(p.nc) || !p.cnonce)
      return { kind: 'malformed', detail: 'Bad nc or cnonce' };
    const nc = parseInt(p.nc, 16);
    if (nc === 0) return { kind: 'malformed', detail: 'Bad nc or cnonce' };
    // RFC 2617 3.2.2.5: the uri directive must name the Request-URI's resource, else 400.
    if (!sameUri(uri, input.requestUri)) return { kind: 'malformed', detail: 'Digest URI Mismatch' };

    if (realm !== input.realm) return { kind: 'failed', why: 'realm' };
    const alg = parseAlgorithm(p.algorithm);
    if (!alg || alg.session || !input.algorithms.includes(alg.algorithm)) return { kind: 'failed', why: 'algorithm' };
    const algorithm = alg.algorithm;
    const { state: nonceState, remainingMs } = this.nonces.inspect(nonce, input.now);
    if (nonceState === 'invalid') return { kind: 'failed', why: 'nonce' };

    const answerFor = (ha1: string): string =>
      computeResponse({
        algorithm,
        session: false,
        ha1,
        method: input.method,
        uri,
        nonce,
        qop,
        nc: p.nc ?? null,
        cnonce: p.cnonce ?? null,
        body: input.body,
      });

    const ha1 = input.credentials?.ha1[algorithm];
    if (input.authId === null || username !== input.authId || ha1 === undefined) {
      hexEqual(answerFor(this.decoyHa1), response); // same work as a real check
      return {
        kind: 'failed',
        why: input.authId === null ? 'unknown-user' : username !== input.authId ? 'user' : 'answer',
      };
    }
    if (hexEqual(answerFor(ha1), response)) {
      if (nonceState === 'stale') return { kind: 'stale' };
      // rspauth: the same computation with an empty method (RFC 2617 3.2.3), over our empty response body.
      const rspauth = computeResponse({
        algorithm,
        session: false,
        ha1,
        method: '',
        uri,
        nonce,
        qop,
        nc: p.nc ?? null,
        cnonce: p.cnonce ?? null,
        body: Buffer.alloc(0),
      });
      return {
        kind: 'ok',
        algorithm,
        nonce,
        nc,
        nonceTtlMs: remainingMs,
        info: `qop=${qop}, rspauth="${rspauth}", cnonce="${quote(p.cnonce ?? '')}", nc=${p.nc}`,
      };
    }
    const previous = input.credentials?.previousHa1?.[algorithm];
    const until = input.credentials?.previousUntil ?? null;
    if (previous !== undefined && until !== null && input.now < until && hexEqual(answerFor(previous), response))
      return { kind: 'previous-password' };
    return { kind: 'failed', why: 'answer' };
  }
}

/** RFC 7230 quoted-string escaping for values we put between quotes. */
function quote(s: string): string {
  return s.replace(/(["\\])/g, '\\$1');
}

/** Same resource: equal under RFC 3261 19.1.4 when both are SIP URIs, else equal as text. */
function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseSipUri(a);
  const y = parseSipUri(b);
  return x !== null && y !== null && uriComparisonKey(x) === uriComparisonKey(y);
}
