/**
 * Non-INVITE server transactions (RFC 3261 17.2.2), reduced to what a registrar needs: a retransmitted request is
 * recognised (17.2.3: branch, sent-by and method) and answered with the response already sent, or absorbed while the
 * first copy is still being processed, so no request is ever processed twice.
 *
 * State lives for Timer J (64*T1 = 32 s) on unreliable transports and is dropped at once on reliable ones (Timer J = 0).
 *
 * Hand-written storage, because the profile demanded it: at 3,000 registrations/s the table holds about 190,000
 * transactions. Kept as a Map of objects, each holding its response Buffer (a view on an 8 kB pool slab), they cost a
 * quarter of the in-process CPU (bench/micro.mjs: 105-111 against 75-85 µs per registration with no table at all),
 * mostly as garbage collection of what lives 32 s. Here a transaction is a slot in preallocated typed arrays and its
 * response is copied into a 1 MB chunk of bytes, so what the collector sees per transaction is one key string and one
 * Map entry. The columns are allocated at once for maxEntries (24 bytes each, plus the key's reference).
 *
 * Every transaction lives as long as the others (Timer J from when it began), so the slots' order is their expiry
 * order: expired ones are swept from the oldest end as new ones arrive, without a timer each, and the table is
 * capped at maxEntries (at the cap the oldest goes). Chunks are filled in turn and reused once everything in them
 * has expired; a new one is allocated only while none is free, up to the byte bound. At that bound the oldest chunk
 * is reused anyway and its responses are forgotten: a retransmission of one is processed again, which the registrar
 * tolerates (its CSeq and nonce rules make a repeat harmless).
 */

export type TransactionState =
  | { readonly kind: 'new' }
  | { readonly kind: 'proceeding' }
  | { readonly kind: 'completed'; readonly response: Buffer };

const NEW: TransactionState = { kind: 'new' };
const PROCEEDING: TransactionState = { kind: 'proceeding' };
/** Generous life while the first response is pending; complete() sets the real Timer J. */
const PENDING_MS = 32_000;

export class ServerTransactions {
  /** Key -> slot of its live transaction. */
  private readonly slotOf = new Map<string, number>();
  /** Transactions being processed that will keep nothing once answered. */
  private readonly inFlight = new Set<string>();
  // Slot columns (a ring of maxEntries slots, oldest at `tail`).
  private readonly keys: Array<string | undefined>;
  private readonly expiresAt: Float64Array;
  /** Where the response is: chunk (-1 while proceeding), that chunk's generation then, offset, length. */
  private readonly chunkOf: Int32Array;
  private readonly generationOf: Int32Array;
  private readonly offsetOf: Int32Array;
  private readonly lengthOf: Int32Array;
  private head = 0;
  private tail = 0;
  private used = 0;
  // Response bytes: chunks, each with a generation (bumped on reuse) and the expiry of the last response put in it.
  private readonly chunks: Buffer[] = [];
  private readonly generations: number[] = [];
  private readonly chunkExpiresAt: number[] = [];
  /** Filled chunks, oldest first; `filling` takes responses at `fill`. */
  private readonly filled: number[] = [];
  private filling = -1;
  private fill: number;
  private readonly chunkBytes: number;
  private readonly maxChunks: number;

  /** bytes: at most `max` (default 768 per entry) of responses kept, in chunks of `chunk` (default 1 MB). */
  constructor(
    private readonly maxEntries: number,
    private readonly timerJMs: number,
    bytes: { max?: number; chunk?: number } = {},
  ) {
    this.chunkBytes = bytes.chunk ?? 1 << 20;
    this.fill = this.chunkBytes;
    this.keys = new Array<string | undefined>(maxEntries).fill(undefined);
    this.expiresAt = new Float64Array(maxEntries);
    this.chunkOf = new Int32Array(maxEntries);
    this.generationOf = new Int32Array(maxEntries);
    this.offsetOf = new Int32Array(maxEntries);
    this.lengthOf = new Int32Array(maxEntries);
    this.maxChunks = Math.max(1, Math.floor((bytes.max ?? maxEntries * 768) / this.chunkBytes));
  }

  /** Live transactions. */
  get size(): number {
    return this.slotOf.size + this.inFlight.size;
  }

  /** The RFC 3261 17.2.3 matching key; null when the branch is not RFC 3261 compliant (no magic cookie). */
  static key(branch: string, sentBy: string, method: string): string | null {
    if (!branch.startsWith('z9hG4bK')) return null;
    return `${branch}\u0000${sentBy}\u0000${method}`;
  }

  /**
   * Looks the request up; a new one is recorded as proceeding. One that will keep nothing (a reliable transport, or
   * Timer J 0) is only remembered while it is processed, outside the slots, so it never pushes out a kept one.
   */
  begin(key: string, now: number, reliable = false): TransactionState {
    const hit = this.slotOf.get(key);
    if (hit !== undefined) {
      if (this.expiresAt[hit]! > now) {
        const chunk = this.chunkOf[hit]!;
        if (chunk < 0) return PROCEEDING;
        // Copied out: the chunk may be reused before the send completes.
        if (this.generations[chunk] === this.generationOf[hit]) return { kind: 'completed', response: this.read(hit) };
      }
      this.drop(hit);
    }
    if (reliable || this.timerJMs === 0) {
      if (this.inFlight.has(key)) return PROCEEDING;
      this.inFlight.add(key);
      return NEW;
    }
    this.sweep(now);
    const slot = this.head;
    this.head = slot + 1 === this.maxEntries ? 0 : slot + 1;
    this.used++;
    this.keys[slot] = key;
    this.expiresAt[slot] = now + Math.max(this.timerJMs, PENDING_MS);
    this.chunkOf[slot] = -1;
    this.slotOf.set(key, slot);
    return NEW;
  }

  /** Records the final response; one begun as keeping nothing (see begin) is simply forgotten. */
  complete(key: string, response: Buffer, now: number): void {
    if (this.inFlight.delete(key)) return;
    const slot = this.slotOf.get(key);
    if (slot === undefined) return;
    const length = response.length;
    if (length > this.chunkBytes) {
      this.drop(slot);
      return;
    }
    // From when it began (the caller's `now`), so slot order stays expiry order.
    const expiresAt = now + this.timerJMs;
    if (this.fill + length > this.chunkBytes) this.nextChunk(now);
    const chunk = this.filling;
    this.chunks[chunk]!.set(response, this.fill);
    this.chunkOf[slot] = chunk;
    this.generationOf[slot] = this.generations[chunk]!;
    this.offsetOf[slot] = this.fill;
    this.lengthOf[slot] = length;
    this.expiresAt[slot] = expiresAt;
    this.fill += length;
    if (expiresAt > this.chunkExpiresAt[chunk]!) this.chunkExpiresAt[chunk] = expiresAt;
  }

  /** Forgets a transaction that ended without a response (e.g. a request that is ignored). */
  abandon(key: string): void {
    if (this.inFlight.delete(key)) return;
    const slot = this.slotOf.get(key);
    if (slot !== undefined) this.drop(slot);
  }

  /** Takes a slot out of the index; the sweep frees it when it reaches it. */
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

  /** The chunk to fill next: the oldest if all its responses expired (or none can be added), else a new one. */
  private nextChunk(now: number): void {
    if (this.filling >= 0) this.filled.push(this.filling);
    const oldest = this.filled[0];
    let chunk: number;
    if (oldest !== undefined && (this.chunkExpiresAt[oldest]! <= now || this.chunks.length >= this.maxChunks)) {
      chunk = this.filled.shift()!;
      this.generations[chunk] = (this.generations[chunk]! + 1) | 0; // what it held is forgotten
    } else {
      chunk = this.chunks.push(Buffer.allocUnsafeSlow(this.chunkBytes)) - 1;
      this.generations.push(0);
      this.chunkExpiresAt.push(0);
    }
    this.chunkExpiresAt[chunk] = 0;
    this.filling = chunk;
    this.fill = 0;
  }

  private read(slot: number): Buffer {
    const offset = this.offsetOf[slot]!;
    return Buffer.from(this.chunks[this.chunkOf[slot]!]!.subarray(offset, offset + this.lengthOf[slot]!));
  }
}
