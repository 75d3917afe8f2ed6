/**
 * What the registrar last read or wrote for an AOR, trusted for a few seconds, so a registration usually costs one
 * store round trip instead of two: the unauthenticated first REGISTER is challenged from it (the account's
 * algorithms), and a refresh decides from it and commits with the version it holds. The commit is checked against
 * the store's version, and a password change, disabling or deleting bumps that version, so a stale entry can only
 * cost a retry with a fresh read, never let an old password in. Also remembered: source addresses seen locked.
 *
 * Staleness is bounded by ttlMs: an account's new algorithm order, or an address locked by another instance, takes
 * that long to show here; lockouts decided or lifted in this process are seen at once. Bounded in size: the oldest
 * entries go first.
 */
import type { RegistrationSnapshot } from '../store/types.js';

export class RegistrationCache {
  private readonly snapshots = new Map<string, { snapshot: RegistrationSnapshot; until: number }>();
  private readonly lockedAddresses = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 100_000,
  ) {}

  /** The AOR's last known state, when fresh. Only existing accounts are remembered. */
  snapshot(aor: string, now: number): RegistrationSnapshot | undefined {
    const hit = this.snapshots.get(aor);
    if (hit === undefined) return undefined;
    if (hit.until <= now) {
      this.snapshots.delete(aor);
      return undefined;
    }
    const s = hit.snapshot;
    // Bindings that expired since are dropped, as the store drops them on a read.
    return s.bindings.every((b) => b.expiresAt > now)
      ? s
      : { ...s, bindings: s.bindings.filter((b) => b.expiresAt > now) };
  }

  /** A snapshot just read from the store: trusted for ttlMs from now. Only existing accounts are remembered. */
  remember(aor: string, snapshot: RegistrationSnapshot, now: number): void {
    if (this.ttlMs <= 0 || snapshot.record === null) return;
    this.snapshots.delete(aor); // re-insert: Map order stays oldest first
    this.snapshots.set(aor, { snapshot, until: now + this.ttlMs });
    bound(this.snapshots, this.maxEntries);
  }

  /**
   * The AOR's state after a commit the store accepted (its version matched): bindings and version are current,
   * the account fields only as fresh as the read they came from, so the entry keeps that read's deadline.
   */
  committed(aor: string, snapshot: RegistrationSnapshot): void {
    const hit = this.snapshots.get(aor);
    if (hit !== undefined) hit.snapshot = snapshot;
  }

  forget(aor: string): void {
    this.snapshots.delete(aor);
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

  /** Forgets everything: the next message of every AOR and address is decided from a fresh read. */
  clear(): void {
    this.snapshots.clear();
    this.lockedAddresses.clear();
  }
}

function bound<K, V>(map: Map<K, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) break;
    map.delete(key);
  }
}
