/**
 * Every way this server refuses a request, in one table (like Kamailio's registrar/reply.c): a name, the status and
 * reason phrase that go on the wire. The checks of sip/validate.ts, the dispatcher and the registrar all build their
 * refusals here, and metrics and logs label them by name, so a status or phrase is written once.
 *
 * A 400 carries a phrase that says what is wrong ('Malformed Via', 'Invalid Expires'): the `detail`.
 */

export const REFUSALS = {
  /** RFC 3261 21.4.1: the request cannot be understood; the detail names the header. */
  invalid: { status: 400, phrase: 'Bad Request' },
  /** RFC 3261 21.5.6. */
  version: { status: 505, phrase: 'Version Not Supported' },
  /** RFC 3261 8.2.2.1: a Request-URI scheme we do not serve. */
  'uri-scheme': { status: 416, phrase: 'Unsupported URI Scheme' },
  /** RFC 3261 8.2.1: a method we understand but do not support here (with Allow). */
  method: { status: 405, phrase: 'Method Not Allowed' },
  /** RFC 3261 10.3 steps 1 and 5: a domain not served here. */
  domain: { status: 404, phrase: 'Not Found' },
  /** RFC 3261 8.2.2.3: Require names an extension we lack (with Unsupported). */
  extension: { status: 420, phrase: 'Bad Extension' },
  /** RFC 3261 10.3 step 7: expiry under the minimum (with Min-Expires). */
  interval: { status: 423, phrase: 'Interval Too Brief' },
  /** A wrong answer, an unknown user, another user's credentials: one answer for all (no enumeration). */
  auth: { status: 403, phrase: 'Forbidden' },
  /** A locked extension, from an address that holds none of its bindings. */
  locked: { status: 403, phrase: 'Forbidden' },
  disabled: { status: 403, phrase: 'Forbidden' },
  /** An address the account may not register from. */
  forbidden: { status: 403, phrase: 'Forbidden' },
  /** More contacts than the account may have (maxContactsPolicy 'reject'). */
  contacts: { status: 403, phrase: 'Too Many Contacts' },
  /** The password before the last change, within the grace period: refused, not counted. */
  'stale-password': { status: 403, phrase: 'Password Changed' },
  /** RFC 5626 6: a flow registered through a first hop (the bottom Path) that lacks the `ob` parameter. */
  'first-hop': { status: 439, phrase: 'First Hop Lacks Outbound Support' },
  /** RFC 3261 10.3 step 7: a CSeq not higher than the binding's for the same Call-ID. */
  order: { status: 500, phrase: 'Out of Order' },
  /** The store did not answer, or the commit kept conflicting (with Retry-After): never a 200 for what was not stored. */
  store: { status: 503, phrase: 'Service Unavailable' },
} as const satisfies Record<string, { readonly status: number; readonly phrase: string }>;

export type RefusalReason = keyof typeof REFUSALS;

export interface Refusal {
  readonly why: RefusalReason;
  readonly status: number;
  readonly phrase: string;
  readonly headers: Array<[string, string]>;
}

/** The refusal named `why`; `detail` replaces the phrase (400s), `headers` go with it. */
export function refusal(why: RefusalReason, detail?: string, headers: Array<[string, string]> = []): Refusal {
  const r = REFUSALS[why];
  return { why, status: r.status, phrase: detail ?? r.phrase, headers };
}

/** A 400 that says what is wrong. */
export const invalid = (detail: string): Refusal => refusal('invalid', detail);
