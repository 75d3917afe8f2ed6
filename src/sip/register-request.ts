/**
 * A REGISTER as the registrar reads it (RFC 3261 10.3): the validated request plus the headers only a REGISTER needs,
 * each parsed once here (Authorization, Expires, Path, Require, Supported, User-Agent, the To URI). The dispatcher
 * builds it and passes it down; the registrar parses nothing.
 */
import type { Peer } from './message.js';
import { parseAuthorization, parseDelta, parseOptionTags, splitList, type DigestCredentials } from './headers.js';
import { invalid, type Refusal } from './refusals.js';
import { parseSipUri, type SipUri } from './uri.js';
import type { ValidRequest } from './validate.js';

/** Stored User-Agents are cut to this. */
const MAX_USER_AGENT = 256;

export interface RegisterRequest extends ValidRequest {
  /** The To URI: it names the address-of-record (RFC 3261 10.3 step 5). */
  readonly toUri: SipUri;
  /** Authorization values that parse, of any scheme, in order; an unparseable non-Digest one is simply not ours. */
  readonly credentials: readonly DigestCredentials[];
  /** The Expires header; undefined when absent. */
  readonly expires: number | undefined;
  readonly path: readonly string[];
  readonly require: readonly string[];
  /** Supported: outbound (RFC 5626 4.2). */
  readonly supportsOutbound: boolean;
  readonly userAgent: string | null;
  readonly body: Buffer;
  readonly source: Peer;
}

const DIGEST_RE = /^\s*digest(\s|$)/i;

export function toRegisterRequest(valid: ValidRequest, source: Peer): RegisterRequest | Refusal {
  const h = valid.message.headers;
  const toUri = parseSipUri(valid.to.uri);
  if (toUri === null) return invalid('Invalid To');

  const credentials: DigestCredentials[] = [];
  for (const value of h.get('authorization') ?? []) {
    const c = parseAuthorization(value);
    // A broken Digest answer is 400 (RFC 2617 3.2.2.5); other schemes (e.g. token68 Bearer) are simply not ours.
    if (c === null) {
      if (DIGEST_RE.test(value)) return invalid('Malformed Authorization');
      continue;
    }
    credentials.push(c);
  }

  // RFC 3261 20.19: one delta-seconds; several or junk is a client error.
  const expiresValues = h.get('expires');
  let expires: number | undefined;
  if (expiresValues !== undefined && expiresValues.length > 0) {
    const e = expiresValues.length === 1 ? parseDelta(expiresValues[0] ?? '') : null;
    if (e === null) return invalid('Invalid Expires');
    expires = e;
  }

  const path: string[] = [];
  for (const v of h.get('path') ?? []) for (const p of splitList(v)) if (p.length > 0) path.push(p);

  const supported = parseOptionTags(h.get('supported') ?? []);
  // Fields listed, not spread: a spread copies through a generic runtime path (the profile showed it at 10 %).
  return {
    message: valid.message,
    method: valid.method,
    vias: valid.vias,
    from: valid.from,
    to: valid.to,
    callId: valid.callId,
    cseq: valid.cseq,
    requestUri: valid.requestUri,
    contacts: valid.contacts,
    toUri,
    credentials,
    expires,
    path,
    require: parseOptionTags(h.get('require') ?? []),
    supportsOutbound: supported.some((t) => t.toLowerCase() === 'outbound'),
    userAgent: h.get('user-agent')?.[0]?.slice(0, MAX_USER_AGENT) ?? null,
    body: valid.message.body,
    source,
  };
}
