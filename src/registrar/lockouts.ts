/**
 * The operator's view of lockouts (the "blacklist" of extensions and source addresses) and lifting them.
 * Every lift is a log event naming who, what and when.
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { AddressLockout, ExtensionLockout } from '../domain/types.js';
import { AuditTrail, Audited } from './audit.js';
import type { Store } from '../store/types.js';
import { OperatorError } from './errors.js';

export interface ExtensionLockoutView {
  aor: string;
  failures: number;
  /** ISO-8601; null when the lock is permanent (lifted only by an operator). */
  lockedUntil: string | null;
  permanent: boolean;
  lastAddress: string | null;
  /** Lockouts within the escalation window, this one included: each lasts longer (lockout.escalation). */
  level: number;
  /** ISO-8601 first and last failure of the count that locked it. */
  firstFailure: string | null;
  lastFailure: string | null;
  /** The latest distinct source addresses of the failures, newest first. */
  sources: string[];
}

export interface AddressLockoutView {
  address: string;
  failures: number;
  lockedUntil: string | null;
  permanent: boolean;
  level: number;
  firstFailure: string | null;
  lastFailure: string | null;
  /** The latest distinct AORs tried from the address, newest first. */
  aors: string[];
}

export interface LockoutList {
  extensions: ExtensionLockoutView[];
  addresses: AddressLockoutView[];
}

/** The store marks a permanent lock with Number.MAX_SAFE_INTEGER. */
const isPermanent = (lockedUntil: number): boolean => lockedUntil >= Number.MAX_SAFE_INTEGER;

const isLocked = (lock: { lockedUntil: number | null }, now: number): lock is { lockedUntil: number } =>
  lock.lockedUntil !== null && lock.lockedUntil > now;

export function extensionView(lock: ExtensionLockout & { lockedUntil: number }): ExtensionLockoutView {
  const permanent = isPermanent(lock.lockedUntil);
  return {
    aor: lock.aor,
    failures: lock.failures,
    lockedUntil: permanent ? null : new Date(lock.lockedUntil).toISOString(),
    permanent,
    lastAddress: lock.lastAddress,
    level: lock.lockouts,
    ...failureTimes(lock),
    sources: [...(lock.sources ?? [])],
  };
}

export function addressView(lock: AddressLockout & { lockedUntil: number }): AddressLockoutView {
  const permanent = isPermanent(lock.lockedUntil);
  return {
    address: lock.address,
    failures: lock.failures,
    lockedUntil: permanent ? null : new Date(lock.lockedUntil).toISOString(),
    permanent,
    level: lock.lockouts,
    ...failureTimes(lock),
    aors: [...(lock.aors ?? [])],
  };
}

function failureTimes(lock: { firstFailureAt?: number | null; lastFailureAt?: number | null }): {
  firstFailure: string | null;
  lastFailure: string | null;
} {
  const iso = (t: number | null | undefined): string | null => (t ? new Date(t).toISOString() : null);
  return { firstFailure: iso(lock.firstFailureAt), lastFailure: iso(lock.lastFailureAt) };
}

/** The canonical text of an IP address, or null when it is not one (no CIDR: a lockout is per address). */
export function normaliseAddress(text: string): string | null {
  const trimmed = text.trim();
  const bare = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  const family = isIP(bare);
  if (family === 0) return null;
  return family === 6 ? bare.toLowerCase() : bare;
}

export class LockoutService extends Audited {
  /**
   * @param resolveAor turns a bare user into `user@defaultDomain` (pass `(a) => accounts.resolveAor(a)`); without it
   * an extension must be named in full.
   * @param onLift told of every lift (the AOR, or null for addresses and lift-all), so a registrar in this process
   * stops trusting the lockout state it remembered.
   */
  constructor(
    private readonly store: Store,
    logger: Logger,
    private readonly resolveAor: (aorOrUser: string) => string = (aor) => aor,
    private readonly onLift: (aor: string | null) => void = () => {},
    trail?: AuditTrail,
  ) {
    super(trail ?? new AuditTrail(store, logger));
  }

  /** Current lockouts only: counters that have not (yet) locked anything are not listed. */
  async list(now = Date.now()): Promise<LockoutList> {
    const { extensions, addresses } = await this.store.listLockouts(now);
    return {
      extensions: extensions
        .filter((l) => isLocked(l, now))
        .map((l) => extensionView(l as ExtensionLockout & { lockedUntil: number })),
      addresses: addresses
        .filter((l) => isLocked(l, now))
        .map((l) => addressView(l as AddressLockout & { lockedUntil: number })),
    };
  }

  async liftExtension(aorOrUser: string, now = Date.now()): Promise<void> {
    const aor = this.resolveAor(aorOrUser);
    if (!(await this.store.liftExtension(aor, now)))
      throw new OperatorError('not-found', `extension ${aor} is not locked`);
    this.onLift(aor);
    this.record('lockout.lift.extension', aor, now, { aor });
  }

  async liftAddress(address: string, now = Date.now()): Promise<void> {
    const canonical = normaliseAddress(address);
    if (canonical === null)
      throw new OperatorError('invalid', `address: ${JSON.stringify(address)} is not an IP address`);
    if (!(await this.store.liftAddress(canonical, now)))
      throw new OperatorError('not-found', `address ${canonical} is not locked`);
    this.onLift(null);
    this.record('lockout.lift.address', canonical, now, { address: canonical });
  }

  async liftAll(now = Date.now()): Promise<{ lifted: number }> {
    const lifted = await this.store.liftAll(now);
    this.onLift(null);
    this.record('lockout.lift.all', '*', now, { lifted });
    return { lifted };
  }
}
