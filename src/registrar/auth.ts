/**
 * Digest authentication of REGISTER (RFC 3261 22.4, RFC 2617, RFC 7616, RFC 8760): building challenges and deciding
 * what an Authorization answer proves. No I/O and no policy about lockouts: the caller counts failures.
 *
 * An unknown user is handled exactly like a known one: challenged with the configured algorithms, verified against a
 * throw-away HA1 (so it costs the same), and failed with the same outcome kind as a wrong password.
 */
import { randomBytes } from 'node:crypto';
import { computeResponse, hexEqual, parseAlgorithm } from '../sip/digest.js';
import { parseSipUri, uriComparisonKey, type SipUri } from '../sip/uri.js';
import type { Credentials, DigestAlgorithm } from '../domain/types.js';
import type { Nonces } from './nonce.js';

/** Why an answer failed; all of them count towards lockouts and all get the same response. */
export type AuthFailure = 'algorithm' | 'nonce' | 'user' | 'unknown-user' | 'answer';

/**
 * What an answer cannot be checked for, in its form, so it is challenged afresh instead of refused (contract, "SIP
 * behaviour"; RFC 4475 3.3.7): a scheme or realm that is not ours, qop missing or not offered, an algorithm not
 * offered, a nonce we did not issue (an earlier secret, another registrar, forged) or that expired.
 */
export type FormProblem = 'realm' | 'qop' | 'algorithm' | 'nonce' | 'stale-nonce';

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
  /**
   * Challenge afresh (401). stale: the answer was right for the account's password (RFC 7616 3.3), so the phone
   * re-answers at once without asking its user. failure: the answer could be checked and was wrong; it counts
   * towards lockouts whatever its nonce, so a foreign nonce is no way round the counter.
   */
  | {
      readonly kind: 'rechallenge';
      readonly problem: FormProblem;
      readonly stale: boolean;
      readonly failure: AuthFailure | null;
    }
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
  /** The Request-URI as sent, and parsed (when validating the request). */
  readonly requestUriText: string;
  readonly requestUri: SipUri;
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
    // qop absent is the RFC 2069 form, which has no nonce-count and so no replay protection: checked, then challenged
    // again. With a qop, nc and cnonce are mandatory (RFC 2617 3.2.2).
    const qopToken = p.qop?.toLowerCase();
    const qop = qopToken === undefined ? null : qopToken === 'auth' || qopToken === 'auth-int' ? qopToken : undefined;
    if (qopToken !== undefined && (p.nc === undefined || !NC_PATTERN.test(p.nc) || !p.cnonce))
      return { kind: 'malformed', detail: 'Bad nc or cnonce' };
    const nc = p.nc === undefined ? 0 : parseInt(p.nc, 16);
    if (qopToken !== undefined && nc === 0) return { kind: 'malformed', detail: 'Bad nc or cnonce' };
    // RFC 2617 3.2.2.5: the uri directive must name the Request-URI's resource, else 400.
    if (!sameUri(uri, input.requestUriText, input.requestUri))
      return { kind: 'malformed', detail: 'Digest URI Mismatch' };

    // What cannot be checked at all is challenged afresh and not counted: an answer for another realm (RFC 3261
    // 22.3), or a qop or algorithm we cannot compute.
    if (realm !== input.realm) return rechallenge('realm', false, null);
    const alg = parseAlgorithm(p.algorithm);
    if (alg === null) return rechallenge('algorithm', false, null);
    if (qop === undefined) return rechallenge('qop', false, null);
    const { algorithm, session } = alg;
    const { state: nonceState, remainingMs } = this.nonces.inspect(nonce, input.now);
    // Only our offer is accepted: qop=auth, a non-session algorithm offered to this account, a fresh nonce of ours.
    const problem: FormProblem | null =
      qop !== 'auth'
        ? 'qop'
        : session || !input.algorithms.includes(algorithm)
          ? 'algorithm'
          : nonceState === 'invalid'
            ? 'nonce'
            : nonceState === 'stale'
              ? 'stale-nonce'
              : null;

    const answerFor = (ha1: string): string =>
      computeResponse({
        algorithm,
        session,
        ha1,
        method: input.method,
        uri,
        nonce,
        qop,
        nc: p.nc ?? null,
        cnonce: p.cnonce ?? null,
        body: input.body,
      });
    const refuse = (why: AuthFailure): VerifyResult =>
      problem === null ? { kind: 'failed', why } : rechallenge(problem, false, why);

    const ha1 = input.credentials?.ha1[algorithm];
    if (input.authId === null || username !== input.authId || ha1 === undefined) {
      hexEqual(answerFor(this.decoyHa1), response); // same work as a real check
      return refuse(input.authId === null ? 'unknown-user' : username !== input.authId ? 'user' : 'answer');
    }
    if (hexEqual(answerFor(ha1), response)) {
      if (problem !== null) return rechallenge(problem, true, null);
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
    return refuse('answer');
  }
}

function rechallenge(problem: FormProblem, stale: boolean, failure: AuthFailure | null): VerifyResult {
  return { kind: 'rechallenge', problem, stale, failure };
}

/** RFC 7230 quoted-string escaping for values we put between quotes. */
function quote(s: string): string {
  return s.replace(/(["\\])/g, '\\$1');
}

/** Same resource: equal under RFC 3261 19.1.4 when both are SIP URIs, else equal as text. */
function sameUri(digestUri: string, requestUriText: string, requestUri: SipUri): boolean {
  if (digestUri === requestUriText) return true;
  const x = parseSipUri(digestUri);
  return x !== null && uriComparisonKey(x) === uriComparisonKey(requestUri);
}
