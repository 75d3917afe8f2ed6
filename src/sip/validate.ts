/**
 * Request checks a UAS makes before acting on a request (RFC 3261 8.2, 16.3), and the validated request they yield:
 * what they parsed (Vias, From, To, Call-ID, CSeq, Contacts, Request-URI) is kept, so no layer above parses it again.
 * A problem is the first one found, as a refusal of ./refusals.ts (a 400 says what is wrong).
 */
import type { SipRequest } from './message.js';
import {
  parseContacts,
  parseCSeq,
  parseNameAddr,
  parseVias,
  viaVersion,
  type ContactEntry,
  type NameAddr,
  type Via,
} from './headers.js';
import { invalid as bad, refusal, type Refusal } from './refusals.js';
import { parseSipUri, type SipUri } from './uri.js';

/** A request that passed validateRequest, with the headers every layer reads already parsed. */
export interface ValidRequest {
  readonly message: SipRequest;
  readonly method: string;
  /** Every via-parm, top first (at least one). */
  readonly vias: readonly Via[];
  readonly from: NameAddr;
  readonly to: NameAddr;
  readonly callId: string;
  readonly cseq: { readonly seq: number; readonly method: string };
  readonly requestUri: SipUri;
  /** null when the request has no Contact; '*' for the wildcard. */
  readonly contacts: readonly ContactEntry[] | '*' | null;
}

export type Validation =
  { readonly ok: true; readonly request: ValidRequest } | { readonly ok: false; readonly refusal: Refusal };

const refuse = (r: Refusal): Validation => ({ ok: false, refusal: r });

/** The single value of a header that must appear exactly once; a Refusal when missing or repeated. */
function single(req: SipRequest, name: string, label: string): string | Refusal {
  const values = req.headers.get(name);
  if (values === undefined || values.length === 0) return bad(`Missing ${label}`);
  if (values.length > 1) return bad(`Multiple ${label}`); // multi01
  const v = values[0] ?? '';
  if (v.length === 0) return bad(`Empty ${label}`);
  return v;
}

const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+\-.]*):/;

export function validateRequest(req: SipRequest): Validation {
  const r = check(req);
  return 'why' in r ? refuse(r) : { ok: true, request: r };
}

function check(req: SipRequest): ValidRequest | Refusal {
  // RFC 3261 21.5.6: an unsupported protocol version (badvers).
  if (req.version !== 'SIP/2.0') return refusal('version');

  // Via: present and well formed; the top one must be SIP/2.0 (RFC 3261 8.1.1.7, 20.42).
  const viaValues = req.headers.get('via');
  if (viaValues === undefined || viaValues.length === 0) return bad('Missing Via');
  const vias = parseVias(viaValues);
  if (vias === null) return bad('Malformed Via');
  const top = vias[0];
  if (top === undefined || viaVersion(top) !== '2.0') return bad('Malformed Via');

  // From / To: exactly one each, a valid name-addr or addr-spec (quotbal, badaspec, baddn).
  const fromText = single(req, 'from', 'From');
  if (typeof fromText !== 'string') return fromText;
  const from = parseNameAddr(fromText);
  if (from === null) return bad('Malformed From');
  const toText = single(req, 'to', 'To');
  if (typeof toText !== 'string') return toText;
  const to = parseNameAddr(toText);
  if (to === null) return bad('Malformed To');

  const callId = single(req, 'call-id', 'Call-ID');
  if (typeof callId !== 'string') return callId;
  // callid = word [ "@" word ] (RFC 3261 25.1): no whitespace inside.
  if (/\s/.test(callId)) return bad('Malformed Call-ID');

  const cseqText = single(req, 'cseq', 'CSeq');
  if (typeof cseqText !== 'string') return cseqText;
  const cseq = parseCSeq(cseqText);
  if (cseq === null) return bad('Malformed CSeq');
  // RFC 3261 8.2.1 / 12.2.2: the CSeq method must equal the Request-Line method (mismatch01, mismatch02).
  if (cseq.method !== req.method) return bad('CSeq method mismatch');

  // Max-Forwards: RFC 3261 8.1.1.6 says MUST be present, but many clients omit it on REGISTER: absent is accepted,
  // a value that is not 0..255 digits is not.
  const mf = req.headers.get('max-forwards');
  if (mf !== undefined) {
    if (mf.length !== 1) return bad('Multiple Max-Forwards');
    const t = (mf[0] ?? '').trim();
    if (!/^[0-9]{1,10}$/.test(t) || Number(t) > 255) return bad('Malformed Max-Forwards');
  }

  // Content-Length was checked against the body by the parser; a repeated one (mcl01) is refused there too.
  const cl = req.headers.get('content-length');
  if (cl !== undefined && (cl.length !== 1 || Number((cl[0] ?? '').trim()) !== req.body.length)) {
    return bad('Content-Length mismatch');
  }

  // Contact, when present, must be a valid list (regbadct). The registrar reads it, so it is checked here.
  const contactValues = req.headers.get('contact');
  const contacts = contactValues === undefined || contactValues.length === 0 ? null : parseContacts(contactValues);
  if (contactValues !== undefined && contactValues.length > 0 && contacts === null) return bad('Malformed Contact');

  // Request-URI: a scheme we do not support is 416 (RFC 3261 8.2.2.1: unkscm, novelsc), a broken SIP URI 400.
  const scheme = SCHEME_RE.exec(req.uri)?.[1]?.toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return refusal('uri-scheme');
  const ruri = parseSipUri(req.uri);
  if (ruri === null) return bad('Malformed Request-URI');
  // RFC 3261 19.1.1 table 1: headers are not allowed in a Request-URI (escruri).
  if (Object.keys(ruri.headers).length > 0) return bad('Headers not allowed in Request-URI');

  return { message: req, method: req.method, vias, from, to, callId, cseq, requestUri: ruri, contacts };
}
