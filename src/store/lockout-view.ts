/**
 * How both adapters read stored lockout state: an expired lock shows as unlocked with no failures (the next
 * failure starts a new count). Shared so the memory and Redis adapters cannot drift apart here.
 */
import type { AddressLockout, ExtensionLockout } from '../domain/types.js';

export interface StoredLock {
  readonly failures: number;
  /** 0 when never locked. */
  readonly lockedUntil: number;
  readonly lockouts: number;
  readonly lastAddress: string | null;
  readonly firstFailAt?: number;
  readonly lastFailAt?: number;
  readonly seen?: readonly string[];
}

/** An expired lock reads as unlocked with no failures (the next failure starts a new count). */
function current(s: StoredLock, now: number): { failures: number; lockedUntil: number | null } {
  const locked = s.lockedUntil > now;
  const expired = !locked && s.lockedUntil > 0;
  return { failures: expired ? 0 : s.failures, lockedUntil: locked ? s.lockedUntil : null };
}

/** When the current count's failures happened (none for an expired lock: its count starts over). */
function times(s: StoredLock, now: number): { firstFailureAt: number | null; lastFailureAt: number | null } {
  const counting = current(s, now).failures > 0;
  return {
    firstFailureAt: counting && s.firstFailAt ? s.firstFailAt : null,
    lastFailureAt: counting && s.lastFailAt ? s.lastFailAt : null,
  };
}

export function extensionView(aor: string, s: StoredLock, now: number): ExtensionLockout {
  return {
    aor,
    ...current(s, now),
    lastAddress: s.lastAddress,
    lockouts: s.lockouts,
    ...times(s, now),
    sources: [...(s.seen ?? [])],
  };
}

export function addressView(address: string, s: StoredLock, now: number): AddressLockout {
  return { address, ...current(s, now), lockouts: s.lockouts, ...times(s, now), aors: [...(s.seen ?? [])] };
}
