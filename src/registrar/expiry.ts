/** How long a binding lives: RFC 3261 10.2.1.1 and 10.3 step 7. Pure. */

export interface ExpiryLimits {
  /** Seconds; shorter non-zero requests get 423 Interval Too Brief with Min-Expires (RFC 3261 20.23). */
  readonly minExpires: number;
  /** Longer requests are shortened to this (the registrar MAY shorten, RFC 3261 10.3 step 7). */
  readonly maxExpires: number;
  /** When neither the contact nor the request says. */
  readonly defaultExpires: number;
}

export type ExpiryDecision =
  | { readonly kind: 'set'; readonly seconds: number }
  | { readonly kind: 'remove' }
  | { readonly kind: 'too-brief'; readonly minExpires: number }
  | { readonly kind: 'invalid' };

function isDelta(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

/**
 * RFC 3261 10.3 step 7: the contact's expires parameter wins, then the Expires header, then the default.
 * 0 removes; 0 < e < min gets 423 (only for e under an hour, as the RFC allows); e > max is shortened.
 */
export function decideExpiry(
  contactExpires: number | null | undefined,
  headerExpires: number | undefined,
  limits: ExpiryLimits,
): ExpiryDecision {
  let requested: number;
  if (contactExpires !== null && contactExpires !== undefined) requested = contactExpires;
  else if (headerExpires !== undefined) requested = headerExpires;
  else requested = limits.defaultExpires;
  if (!isDelta(requested)) return { kind: 'invalid' };
  if (requested === 0) return { kind: 'remove' };
  if (requested < limits.minExpires && requested < 3600) return { kind: 'too-brief', minExpires: limits.minExpires };
  return { kind: 'set', seconds: Math.min(requested, limits.maxExpires) };
}
