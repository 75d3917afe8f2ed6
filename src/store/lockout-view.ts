/**
 * How both adapters read stored lockout state: an expired lock shows as unlocked with no failures (the next
 * failure starts a new count). Shared so the memory and Redis adapters cannot drift apart here.
 */
import type { AddressLockout, ExtensionLockout } from './types.js';

export interface StoredLock {
  readonly failures: number;
  /** 0 when never locked. */
  readonly lockedUntil: number;
  readonly lockouts: number;
  readonly lastAddress: string | null;
}

export function extensionView(aor: string, s: StoredLock, now: number): ExtensionLockout {
  const locked = s.lockedUntil > now;
  const expired = !locked && s.lockedUntil > 0;
  return {
    aor,
    failures: expired ? 0 : s.failures,
    lockedUntil: locked ? s.lockedUntil : null,
    lastAddress: s.lastAddress,
    lockouts: s.lockouts,
  };
}

export function addressView(address: string, s: StoredLock, now: number): AddressLockout {
  const locked = s.lockedUntil > now;
  const expired = !locked && s.lockedUntil > 0;
  return {
    address,
    failures: expired ? 0 : s.failures,
    lockedUntil: locked ? s.lockedUntil : null,
    lockouts: s.lockouts,
  };
}
