/**
 * Non-INVITE server transactions (RFC 3261 17.2.2), reduced to what a registrar needs: a retransmitted request is
 * recognised (17.2.3: branch, sent-by and method) and answered with the response already sent, or absorbed while the
 * first copy is still being processed, so no request is ever processed twice.
 *
 * State lives for Timer J (64*T1 = 32 s) on unreliable transports and is dropped at once on reliable ones (Timer J = 0).
 * Every entry has the same lifetime, so insertion order is expiry order: expired entries are swept from the front of
 * the Map as new ones arrive, without a timer per transaction, and the Map is capped in size.
 */

export type TransactionState =
  | { readonly kind: 'new' }
  | { readonly kind: 'proceeding' }
  | { readonly kind: 'completed'; readonly response: Buffer };

interface Entry {
  response: Buffer | null;
  expiresAt: number;
}

export class ServerTransactions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly timerJMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The RFC 3261 17.2.3 matching key; null when the branch is not RFC 3261 compliant (no magic cookie). */
  static key(branch: string, sentBy: string, method: string): string | null {
    if (!branch.startsWith('z9hG4bK')) return null;
    return `${branch}\u0000${sentBy}\u0000${method}`;
  }

  /** Looks the request up; a new one is recorded as proceeding. */
  begin(key: string, now: number): TransactionState {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAt > now) {
      return hit.response === null ? { kind: 'proceeding' } : { kind: 'completed', response: hit.response };
    }
    if (hit !== undefined) this.entries.delete(key);
    this.sweep(now);
    // Generous bound while the first response is pending; complete() sets the real Timer J.
    this.entries.set(key, { response: null, expiresAt: now + Math.max(this.timerJMs, 32_000) });
    return { kind: 'new' };
  }

  /** Records the final response; reliable transports keep nothing (Timer J = 0). */
  complete(key: string, response: Buffer, reliable: boolean, now: number): void {
    if (reliable || this.timerJMs === 0) {
      this.entries.delete(key);
      return;
    }
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    // Re-insert so the Map's order stays the expiry order.
    this.entries.delete(key);
    this.entries.set(key, { response, expiresAt: now + this.timerJMs });
  }

  /** Forgets a transaction that ended without a response (e.g. a request that is ignored). */
  abandon(key: string): void {
    this.entries.delete(key);
  }

  private sweep(now: number): void {
    // Under the cap only expired entries go; at the cap the oldest goes too (under overload a retransmission may
    // then be processed again, which the registrar tolerates: its CSeq rules make a repeat harmless).
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
