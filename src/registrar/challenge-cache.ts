/**
 * What a phone's first, unauthenticated REGISTER needs to be challenged, remembered for a few seconds: the
 * algorithms to offer for its AOR, and which source addresses were recently seen locked. With it a full registration
 * reads the store once (for the authenticated REGISTER, which is always checked against the store) instead of twice.
 *
 * Staleness is bounded by ttlMs: an account's new algorithm order, or an address locked by another instance, takes
 * that long to show here. Lockouts decided or lifted in this process are seen at once. Bounded in size: the oldest
 * entries go first.
 */
import type { DigestAlgorithm } from '../store/types.js';

export class ChallengeCache {
  private readonly algorithms = new Map<string, { algorithms: readonly DigestAlgorithm[]; until: number }>();
  private readonly lockedAddresses = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  /** The algorithms to challenge the AOR with, when known and fresh. */
  algorithmsFor(aor: string, now: number): readonly DigestAlgorithm[] | undefined {
    const hit = this.algorithms.get(aor);
    if (hit === undefined) return undefined;
    if (hit.until > now) return hit.algorithms;
    this.algorithms.delete(aor);
    return undefined;
  }

  /** Remembers what the store said: an AOR challenged with these algorithms (unknown users too: the defaults). */
  rememberAlgorithms(aor: string, algorithms: readonly DigestAlgorithm[], now: number): void {
    if (this.ttlMs <= 0) return;
    this.algorithms.delete(aor); // re-insert: Map order stays oldest first
    this.algorithms.set(aor, { algorithms, until: now + this.ttlMs });
    bound(this.algorithms, this.maxEntries);
  }

  /** Forgets an AOR whose challenge would no longer be the same (not an ordinary digest account any more). */
  forget(aor: string): void {
    this.algorithms.delete(aor);
  }

  addressLocked(address: string, now: number): boolean {
    const until = this.lockedAddresses.get(address);
    if (until === undefined) return false;
    if (until > now) return true;
    this.lockedAddresses.delete(address);
    return false;
  }

  rememberLockedAddress(address: string, lockedUntil: number, now: number): void {
    if (this.ttlMs <= 0) return;
    this.lockedAddresses.set(address, Math.min(lockedUntil, now + this.ttlMs));
    bound(this.lockedAddresses, this.maxEntries);
  }

  /** An operator lifted lockouts: ask the store again. */
  forgetLockedAddresses(): void {
    this.lockedAddresses.clear();
  }
}

function bound<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) break;
    map.delete(key);
  }
}
