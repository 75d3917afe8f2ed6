/**
 * What a REGISTER's Contact list does to an AOR's bindings: RFC 3261 10.3 steps 6-8, with RFC 5626 flows and RFC 3327
 * Path. Pure: given the live bindings and the request, it returns the complete new set (or why the request fails, in
 * which case nothing changes: the RFC's "all or nothing" commit of step 8).
 */
import type { ContactEntry } from '../sip/headers.js';
import { parseSipUri, uriComparisonKey } from '../sip/uri.js';
import type { Binding, BindingSource } from '../domain/types.js';
import { decideExpiry, type ExpiryLimits } from './expiry.js';

export interface BindingRules {
  readonly limits: ExpiryLimits;
  readonly maxContacts: number;
  readonly policy: 'reject' | 'replace-oldest';
  /** No binding may outlive this (ms): the expiry of the short-lived credentials it was made with. */
  readonly notAfter?: number;
}

export interface BindingRequest {
  /** null: no Contact header (a fetch, RFC 3261 10.2.3). */
  readonly contacts: readonly ContactEntry[] | '*' | null;
  /** The Expires header; undefined when absent. */
  readonly expiresHeader: number | undefined;
  /** Supported: outbound (RFC 5626 4.2); without it reg-id is ignored. */
  readonly outbound?: boolean;
  readonly callId: string;
  readonly cseq: number;
  readonly path: readonly string[];
  readonly source: BindingSource;
  readonly userAgent: string | null;
  readonly now: number;
}

/** Named as in ../sip/refusals.ts, which gives each its status and phrase. */
export type BindingFailure =
  | { readonly code: 'invalid'; readonly detail: string }
  | { readonly code: 'interval'; readonly minExpires: number }
  | { readonly code: 'order' }
  | { readonly code: 'contacts' };

export type BindingOutcome =
  | {
      readonly ok: true;
      /** The complete new set of live bindings. */
      readonly bindings: Binding[];
      readonly added: number;
      readonly refreshed: number;
      readonly removed: number;
      /** The request changed nothing (a fetch). */
      readonly unchanged: boolean;
    }
  | ({ readonly ok: false } & BindingFailure);

const invalid = (detail: string): BindingOutcome => ({ ok: false, code: 'invalid', detail });
const outOfOrder: BindingOutcome = { ok: false, code: 'order' };

interface Wanted {
  readonly key: string;
  readonly entry: ContactEntry;
  /** Seconds, or 0 to remove. */
  readonly seconds: number;
  readonly instance: string | null;
  readonly regId: number | null;
}

/** RFC 5626 4.2: `+sip.instance` (a quoted URN in angle brackets) and `reg-id` together name a flow. */
/**
 * The contact's flow (RFC 5626 4.2, 6): `+sip.instance` and `reg-id` from a UA that supports outbound. reg-id is
 * 1 to 2^31-1 (RFC 5626 13: `reg-id=0` is no reg-id, refused as malformed); without `+sip.instance`, or without
 * `Supported: outbound`, the contact is bound by the rules of RFC 3261 and its reg-id ignored. null: malformed.
 */
function flowOf(entry: ContactEntry, outbound: boolean): { instance: string | null; regId: number | null } | null {
  const rawInstance = entry.params['+sip.instance'];
  const rawRegId = entry.params['reg-id'];
  const quoted = rawInstance === undefined || rawInstance === null ? null : rawInstance.replace(/^"(.*)"$/, '$1');
  const instance = quoted === '' ? null : quoted;
  let regId: number | null = null;
  if (rawRegId !== undefined) {
    if (rawRegId === null || !/^[0-9]{1,10}$/.test(rawRegId) || Number(rawRegId) < 1 || Number(rawRegId) > 0x7fffffff)
      return null;
    regId = instance !== null && outbound ? Number(rawRegId) : null;
  }
  return { instance, regId };
}

/** The binding's identity within its AOR (see Binding.key). */
function keyOf(uriKey: string, instance: string | null, regId: number | null): string {
  return instance !== null && regId !== null ? `${instance};reg-id=${regId}` : uriKey;
}

export function applyRegister(current: readonly Binding[], req: BindingRequest, rules: BindingRules): BindingOutcome {
  const { contacts, now } = req;
  if (contacts === null) {
    return { ok: true, bindings: [...current], added: 0, refreshed: 0, removed: 0, unchanged: true };
  }

  if (contacts === '*') {
    // RFC 3261 10.2.2 / 10.3 step 6: '*' only with Expires: 0.
    if (req.expiresHeader !== 0) return invalid('Wildcard Contact Needs Expires 0');
    // Step 6: a binding from the same Call-ID with a CSeq not lower than this one aborts the whole request.
    if (current.some((b) => b.callId === req.callId && req.cseq <= b.cseq)) return outOfOrder;
    return { ok: true, bindings: [], added: 0, refreshed: 0, removed: current.length, unchanged: false };
  }

  // Refuse absurd lists before doing any per-contact work.
  if (contacts.length > rules.maxContacts) return tooMany();

  const wanted = new Map<string, Wanted>();
  for (const entry of contacts) {
    const uri = parseSipUri(entry.uri);
    // RFC 3261 allows other schemes in Contact; this registrar only routes to SIP, so it refuses to store them.
    if (uri === null) return invalid('Unsupported Contact URI');
    const flow = flowOf(entry, req.outbound ?? true);
    if (flow === null) return invalid('Invalid reg-id');
    const decision = decideExpiry(entry.expires, req.expiresHeader, rules.limits);
    if (decision.kind === 'invalid') return invalid('Invalid Expires');
    if (decision.kind === 'too-brief') return { ok: false, code: 'interval', minExpires: decision.minExpires };
    const key = keyOf(uriComparisonKey(uri), flow.instance, flow.regId);
    // The same contact twice in one request: the later one wins (it is the same binding).
    wanted.set(key, { key, entry, seconds: decision.kind === 'remove' ? 0 : decision.seconds, ...flow });
  }

  const byKey = new Map(current.map((b) => [b.key, b]));
  // Step 7: a binding refreshed from the same Call-ID must carry a higher CSeq, else the whole request is aborted.
  for (const w of wanted.values()) {
    const existing = byKey.get(w.key);
    if (existing && existing.callId === req.callId && req.cseq <= existing.cseq) return outOfOrder;
  }

  let added = 0;
  let refreshed = 0;
  let removed = 0;
  const next = new Map(byKey);
  for (const w of wanted.values()) {
    const existing = byKey.get(w.key);
    if (w.seconds === 0) {
      if (existing) {
        next.delete(w.key);
        removed++;
      }
      continue;
    }
    next.set(w.key, {
      key: w.key,
      uri: w.entry.uri,
      params: w.entry.paramsText,
      q: w.entry.q,
      expiresAt: Math.min(now + w.seconds * 1000, rules.notAfter ?? Infinity),
      callId: req.callId,
      cseq: req.cseq,
      instance: w.instance,
      regId: w.regId,
      path: [...req.path],
      source: req.source,
      userAgent: req.userAgent,
      registeredAt: existing?.registeredAt ?? now,
      updatedAt: now,
    });
    if (existing) refreshed++;
    else added++;
  }

  if (next.size > rules.maxContacts) {
    if (rules.policy === 'reject') return tooMany();
    // Make room by dropping the least recently refreshed bindings this request did not touch.
    const touched = new Set(wanted.keys());
    const evictable = [...next.values()]
      .filter((b) => !touched.has(b.key))
      .sort((a, b) => a.updatedAt - b.updatedAt || a.registeredAt - b.registeredAt);
    while (next.size > rules.maxContacts) {
      const victim = evictable.shift();
      if (!victim) return tooMany();
      next.delete(victim.key);
      removed++;
    }
  }

  return { ok: true, bindings: [...next.values()], added, refreshed, removed, unchanged: false };
}

function tooMany(): BindingOutcome {
  return { ok: false, code: 'contacts' };
}

/** Remaining lifetime in whole seconds, as the 200 OK's `expires` (never 0 for a live binding). */
export function remainingSeconds(binding: Binding, now: number): number {
  return Math.max(1, Math.ceil((binding.expiresAt - now) / 1000));
}

/** One Contact header value of a 200 OK (RFC 3261 10.3 step 8): the contact as sent, its q and what is left of it. */
export function contactHeaderValue(binding: Binding, now: number): string {
  const q = binding.q === null ? '' : `;q=${binding.q}`;
  return `<${binding.uri}>${binding.params}${q};expires=${remainingSeconds(binding, now)}`;
}
