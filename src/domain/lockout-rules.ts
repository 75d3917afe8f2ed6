/**
 * The lockout rules (contract, "Lockout defaults"), in one place: what one failed authentication does to the lockout
 * state of an extension and of a source address, and what lifting does. Pure functions over a plain state record;
 * both store adapters persist what these decide (the Redis adapter with a compare-and-set script), so the rules
 * exist once, here, and not again in Lua.
 */
import type { LockoutPolicy } from './types.js';

/** A lock that never ends (lifted only by an operator). */
export const PERMANENT = Number.MAX_SAFE_INTEGER;

/** Lockout state of one extension or address. 0 stands for "never" in the time fields. */
export interface LockState {
  failures: number;
  lockedUntil: number;
  lockouts: number;
  lastLockAt: number;
  /** Extension: time of the last failure (the consecutive count is forgotten after the escalation window). */
  lastFailAt: number;
  /** Address: start of the current counting window. */
  windowStart: number;
  /** First failure of the current count (what an operator asks: since when). */
  firstFailAt: number;
  lastAddress: string | null;
  /** The latest distinct values seen with the failures, newest first: source addresses of an extension's, AORs tried from an address. */
  seen: string[];
  /** When the state no longer matters (garbage collection only; the Redis key's TTL). PERMANENT: never. */
  forgetAt: number;
}

export function emptyLockState(): LockState {
  return {
    failures: 0,
    lockedUntil: 0,
    lockouts: 0,
    lastLockAt: 0,
    lastFailAt: 0,
    windowStart: 0,
    firstFailAt: 0,
    lastAddress: null,
    seen: [],
    forgetAt: 0,
  };
}

/** Starts a lockout, escalating within the escalation window; the `permanentAfter`-th lockout is permanent. */
function startLock(s: LockState, now: number, lockMs: number, policy: LockoutPolicy): void {
  const esc = policy.escalation;
  if (s.lastLockAt > 0 && now - s.lastLockAt >= esc.windowMs) s.lockouts = 0;
  s.lockouts += 1;
  s.lastLockAt = now;
  if (esc.permanentAfter > 0 && s.lockouts >= esc.permanentAfter) {
    s.lockedUntil = PERMANENT;
  } else {
    const ms = Math.floor(lockMs * Math.pow(esc.factor, s.lockouts - 1));
    s.lockedUntil = Math.min(now + ms, PERMANENT);
  }
}

/**
 * One failed authentication against an extension: `threshold` consecutive failures lock it. The consecutive count
 * is forgotten after `escalation.windowMs` without a failure, or when a lock ends. Returns true when a lock started.
 */
/** How many distinct values a lockout remembers in `seen`. */
export const SEEN_KEPT = 5;

function see(s: LockState, value: string | null): void {
  if (value === null) return;
  s.seen = [value, ...s.seen.filter((v) => v !== value)].slice(0, SEEN_KEPT);
}

export function applyExtensionFailure(s: LockState, now: number, address: string, policy: LockoutPolicy): boolean {
  s.lastAddress = address;
  see(s, address);
  if (s.lockedUntil > now) {
    s.failures += 1;
    s.lastFailAt = now;
    return false;
  }
  if (s.lockedUntil > 0) {
    s.lockedUntil = 0;
    s.failures = 0;
  }
  if (s.lastFailAt > 0 && now - s.lastFailAt >= policy.escalation.windowMs) s.failures = 0;
  s.failures += 1;
  if (s.failures === 1) s.firstFailAt = now;
  s.lastFailAt = now;
  if (s.failures < policy.extension.threshold) return false;
  startLock(s, now, policy.extension.lockMs, policy);
  return true;
}

/** One failure from an address: `threshold` failures within `windowMs` lock it. Returns true when a lock started. */
export function applyAddressFailure(
  s: LockState,
  now: number,
  policy: LockoutPolicy,
  aor: string | null = null,
): boolean {
  see(s, aor);
  s.lastFailAt = now;
  if (s.lockedUntil > now) {
    s.failures += 1;
    return false;
  }
  if (s.lockedUntil > 0) {
    s.lockedUntil = 0;
    s.failures = 0;
    s.windowStart = 0;
  }
  if (s.windowStart === 0 || now - s.windowStart >= policy.address.windowMs) {
    s.failures = 0;
    s.windowStart = now;
    s.firstFailAt = now;
  }
  s.failures += 1;
  if (s.failures < policy.address.threshold) return false;
  startLock(s, now, policy.address.lockMs, policy);
  return true;
}

/** After this time every rule above would have reset the state anyway (or it is locked for good). */
export function updateForgetAt(s: LockState, now: number, policy: LockoutPolicy): void {
  const esc = policy.escalation.windowMs;
  s.forgetAt = Math.max(
    s.lockedUntil,
    s.lastLockAt > 0 ? s.lastLockAt + esc : 0,
    now + esc,
    now + policy.address.windowMs,
  );
}

/** Lift: clears the lock and the counter but keeps the lockout history (escalation still applies). */
export function liftState(s: LockState, now: number): boolean {
  const wasLocked = s.lockedUntil > now;
  s.lockedUntil = 0;
  s.failures = 0;
  s.windowStart = 0;
  s.lastFailAt = 0;
  s.firstFailAt = 0;
  s.seen = [];
  return wasLocked;
}
