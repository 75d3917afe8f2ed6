/**
 * Non-INVITE server transactions (RFC 3261 17.2.2), reduced to what a registrar needs: a retransmitted request is
 * recognised (17.2.3: branch, sent-by and method) and answered with the response already sent, or absorbed while the
 * first copy is still being processed, so no request is ever processed twice.
 *
 * State lives for Timer J (64*T1 = 32 s) on unreliable transports and is dropped at once on reliable ones (Timer J = 0).
 *
 * Hand-written storage, because the profile demanded it: at 3,000 registrations/s the table holds about 190,000
 * transactions, and kept as a Map of objects each holding its response Buffer (a view on an 8 kB pool slab), they cost
 * a quarter of the in-process CPU in garbage collection (bench/micro.mjs: 105-111 against 75-85 µs per registration
 * with no table at all). Here a transaction is a slot in preallocated typed arrays and its response is copied into
 * one byte ring, so what the collector sees per transaction is one key string and one Map entry.
 *
 * Every transaction lives as long as the others (Timer J from when it began), so the slots' order is their expiry
 * order: expired ones are swept from the oldest end as new ones arrive, without a timer each, and the table is
 * capped at maxEntries (at the cap the oldest goes). The byte ring grows, doubling up to maxBytes, while it would
 * overwrite responses still within Timer J; a response it overwrites anyway (at maxBytes) is forgotten, and its
 * retransmission is processed again, which the registrar tolerates: its CSeq and nonce rules make a repeat harmless.
 */

export type TransactionState =
  | { readonly kind: 'new' }
  | { readonly kind: 'proceeding' }
  | { readonly kind: 'completed'; readonly response: Buffer };

const NEW: TransactionState = { kind: 'new' };
const PROCEEDING: TransactionState = { kind: 'proceeding' };
/** Generous life while the first response is pending; complete() sets the real Timer J. */
const PENDING_MS = 32_000;
const FIRST_RING_BYTES = 64 * 1024;

export class ServerTransactions {
  /** Key -> slot of its live transaction. */
  private readonly slotOf = new Map<string, number>();
  // Slot columns (a ring of maxEntries slots, oldest at `tail`).
  private readonly keys: Array<string | undefined>;
  private readonly expiresAt: Float64Array;
  /** Absolute position of the response in the byte ring; -1 while proceeding. */
  private readonly responseAt: Float64Array;
  private readonly responseLength: Int32Array;
  private head = 0;
  private tail = 0;
  private used = 0;
  /** The byte ring and the number of bytes ever written to it (positions are absolute, exact to 2^53). */
  private ring: Buffer;
  private written = 0;
  /** Bytes before this position are gone (overwritten, or not carried over when the ring grew). */
  private validFrom = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly timerJMs: number,
    private readonly maxBytes = Math.max(FIRST_RING_BYTES, maxEntries * 768),
  ) {
    this.keys = new Array<string | undefined>(maxEntries).fill(undefined);
    this.expiresAt = new Float64Array(maxEntries);
    this.responseAt = new Float64Array(maxEntries);
    this.responseLength = new Int32Array(maxEntries);
    this.ring = Buffer.allocUnsafeSlow(Math.min(FIRST_RING_BYTES, this.maxBytes));
  }

  /** Live transactions. */
  get size(): number {
    return this.slotOf.size;
  }

  /** The RFC 3261 17.2.3 matching key; null when the branch is not RFC 3261 compliant (no magic cookie). */
  static key(branch: string, sentBy: string, method: string): string | null {
    if (!branch.startsWith('z9hG4bK')) return null;
    return `${branch}\u0000${sentBy}\u0000${method}`;
  }

  /** Looks the request up; a new one is recorded as proceeding. */
  begin(key: string, now: number): TransactionState {
    const hit = this.slotOf.get(key);
    if (hit !== undefined) {
      if (this.expiresAt[hit]! > now) {
        const at = this.responseAt[hit]!;
        if (at < 0) return PROCEEDING;
        // Copied out: the ring may be overwritten before the send completes.
        if (at >= this.validFrom) return { kind: 'completed', response: this.read(at, hit) };
      }
      this.drop(hit);
    }
    this.sweep(now);
    const slot = this.head;
    this.head = slot + 1 === this.maxEntries ? 0 : slot + 1;
    this.used++;
    this.keys[slot] = key;
    this.expiresAt[slot] = now + Math.max(this.timerJMs, PENDING_MS);
    this.responseAt[slot] = -1;
    this.slotOf.set(key, slot);
    return NEW;
  }

  /** Records the final response; reliable transports keep nothing (Timer J = 0). */
  complete(key: string, response: Buffer, reliable: boolean, now: number): void {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    if (reliable || this.timerJMs === 0) {
      this.drop(slot);
      return;
    }
    const length = response.length;
    if (length > this.maxBytes) {
      this.drop(slot);
      return;
    }
    this.makeRoom(length, now);
    this.write(response);
    this.responseAt[slot] = this.written - length;
    this.responseLength[slot] = length;
    // From when it began (the caller's `now`), so slot order stays expiry order.
    this.expiresAt[slot] = now + this.timerJMs;
  }

  /** Forgets a transaction that ended without a response (e.g. a request that is ignored). */
  abandon(key: string): void {
    const slot = this.slotOf.get(key);
    if (slot !== undefined) this.drop(slot);
  }

  /** Takes a slot out of the index; the ring frees it when the sweep reaches it. */
  private drop(slot: number): void {
    const key = this.keys[slot];
    if (key !== undefined) this.slotOf.delete(key);
    this.keys[slot] = undefined;
    this.expiresAt[slot] = 0;
  }

  private sweep(now: number): void {
    while (this.used > 0 && (this.expiresAt[this.tail]! <= now || this.used >= this.maxEntries)) {
      const key = this.keys[this.tail];
      if (key !== undefined) {
        this.slotOf.delete(key);
        this.keys[this.tail] = undefined;
      }
      this.tail = this.tail + 1 === this.maxEntries ? 0 : this.tail + 1;
      this.used--;
    }
  }

  /**
   * Doubles the ring (up to maxBytes) while writing `length` bytes would overwrite the oldest live response: the
   * tail's, or the first completed one after it (responses are written in completion order, close to slot order).
   */
  private makeRoom(length: number, now: number): void {
    while (this.ring.length < this.maxBytes) {
      const oldest = this.oldestLiveResponse(now);
      if (oldest === null || oldest >= this.written + length - this.ring.length) return;
      this.grow();
    }
  }

  private oldestLiveResponse(now: number): number | null {
    // A few slots from the tail suffice: one still proceeding has no bytes yet.
    for (let i = 0, s = this.tail; i < Math.min(this.used, 8); i++, s = s + 1 === this.maxEntries ? 0 : s + 1) {
      if (this.keys[s] !== undefined && this.expiresAt[s]! > now && this.responseAt[s]! >= 0)
        return this.responseAt[s]!;
    }
    return null;
  }

  private grow(): void {
    const old = this.ring;
    const next = Buffer.allocUnsafeSlow(Math.min(old.length * 2, this.maxBytes));
    // The old ring's live window is its last old.length bytes: rotate it into a line, then write it back in place.
    const start = Math.max(0, this.written - old.length);
    const line =
      this.written <= old.length
        ? old.subarray(0, this.written)
        : Buffer.concat([old.subarray(this.written % old.length), old.subarray(0, this.written % old.length)]);
    this.ring = next;
    this.copyIn(line, start);
  }

  private write(data: Buffer): void {
    this.copyIn(data, this.written);
    this.written += data.length;
    this.validFrom = Math.max(this.validFrom, this.written - this.ring.length);
  }

  /** Copies data to absolute position `at`, wrapping at the ring's end (TypedArray set: cheaper than copy here). */
  private copyIn(data: Buffer, at: number): void {
    const size = this.ring.length;
    const i = at % size;
    const first = Math.min(data.length, size - i);
    if (first === data.length) this.ring.set(data, i);
    else {
      this.ring.set(data.subarray(0, first), i);
      this.ring.set(data.subarray(first), 0);
    }
  }

  private read(at: number, slot: number): Buffer {
    const size = this.ring.length;
    const length = this.responseLength[slot]!;
    const out = Buffer.allocUnsafe(length);
    const i = at % size;
    const first = Math.min(length, size - i);
    out.set(this.ring.subarray(i, i + first), 0);
    if (first < length) out.set(this.ring.subarray(0, length - first), first);
    return out;
  }
}
