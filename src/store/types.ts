/**
 * The store: everything the registrar keeps between messages, behind one interface with two adapters
 * (./memory.ts, in-process; ./redis.ts, ioredis). It speaks the registrar's domain (accounts, bindings, lockouts) and
 * knows nothing of SIP text. The same contract tests (test/store/contract.ts) run against both adapters.
 */

import type {
  AccountPatch,
  AccountRecord,
  Account,
  AddressLockout,
  AuditEntry,
  Binding,
  Credentials,
  ExtensionLockout,
  LockoutPolicy,
  NonceKeyRing,
} from '../domain/types.js';

/** Everything one REGISTER needs to be decided, read in one round trip. */
export interface RegistrationSnapshot {
  readonly record: AccountRecord | null;
  /** Live bindings only (expiresAt > now). */
  readonly bindings: readonly Binding[];
  /** Changes whenever the AOR's bindings change; commitRegistration succeeds only against the version read here. */
  readonly version: number;
  readonly extensionLock: ExtensionLockout | null;
  readonly addressLock: AddressLockout | null;
}

export interface NonceUse {
  readonly nonce: string;
  readonly nc: number;
  /** Lifetime of the replay record: the nonce's remaining life. */
  readonly ttlMs: number;
}

export interface RegistrationCommit {
  readonly aor: string;
  readonly expectedVersion: number;
  /** The complete new set of live bindings of the AOR (the registrar computed it; the store just writes it). */
  readonly bindings: readonly Binding[];
  /** The (nonce, nc) this REGISTER was authenticated with; the commit fails with 'replay' unless nc is higher than any seen. */
  readonly nonce: NonceUse | null;
  /** The REGISTER proved who it is: the extension's consecutive failures are reset. false for housekeeping (a flow that ended). */
  readonly authenticated: boolean;
  readonly now: number;
}

/** ok: written (and, when authenticated, the extension's failure count reset); conflict: the version moved, re-read and retry; replay: nothing written. */
export type CommitResult = 'ok' | 'conflict' | 'replay';

export interface FailureRecord {
  /** null when the failure names no account that exists (unknown user): only the address counts. */
  readonly aor: string | null;
  readonly address: string;
  /** false for trusted networks: never locked by address. */
  readonly countAddress: boolean;
  readonly now: number;
  readonly policy: LockoutPolicy;
}

export interface FailureOutcome {
  readonly extension: ExtensionLockout | null;
  readonly address: AddressLockout | null;
  /** True when this failure started a lockout (for the log event). */
  readonly extensionLockedNow: boolean;
  readonly addressLockedNow: boolean;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export interface Store {
  /** Short name for logs: 'memory' or 'redis'. */
  readonly kind: string;
  readonly persistent: boolean;

  // Accounts
  /** false when the AOR exists already. */
  createAccount(record: AccountRecord): Promise<boolean>;
  getAccount(aor: string): Promise<AccountRecord | null>;
  /** Ordered by AOR; cursor is the last AOR of the previous page. */
  listAccounts(limit: number, cursor: string | null): Promise<Page<Account>>;
  /** null when absent. With clearBindings, the AOR's bindings go in the same atomic step. */
  updateAccount(aor: string, patch: AccountPatch, now: number, clearBindings: boolean): Promise<Account | null>;
  /** Replaces the credentials and removes every binding of the AOR atomically; false when absent. */
  setCredentials(aor: string, credentials: Credentials, now: number): Promise<boolean>;
  recordStaleDevice(aor: string, address: string, now: number, userAgent?: string | null): Promise<void>;
  /** Sets the key of the account's short-lived credentials; bindings stay. false when absent. */
  setCredentialSecret(aor: string, secret: string): Promise<boolean>;
  /** Removes the account, its bindings and its lockout; false when absent. */
  deleteAccount(aor: string): Promise<boolean>;
  countAccounts(): Promise<number>;

  // Registrations and bindings
  loadRegistration(aor: string, address: string, now: number): Promise<RegistrationSnapshot>;
  commitRegistration(commit: RegistrationCommit): Promise<CommitResult>;
  /** Records a (nonce, nc) as used without changing bindings; false when it was used already. */
  useNonce(aor: string, use: NonceUse): Promise<boolean>;
  getBindings(aor: string, now: number): Promise<Binding[]>;
  /** Removes every binding of the AOR; returns how many there were. */
  clearBindings(aor: string): Promise<number>;
  /** Live bindings over all AORs, at bounded cost (no full scan). */
  countBindings(now: number): Promise<number>;

  // Lockouts
  recordFailure(failure: FailureRecord): Promise<FailureOutcome>;
  isAddressLocked(address: string, now: number): Promise<boolean>;
  listLockouts(now: number): Promise<{ extensions: ExtensionLockout[]; addresses: AddressLockout[] }>;
  /** Lifts and resets; false when it was not locked. */
  liftExtension(aor: string, now: number): Promise<boolean>;
  liftAddress(address: string, now: number): Promise<boolean>;
  /** Lifts every lockout; returns how many were lifted. */
  liftAll(now: number): Promise<number>;

  // Audit trail
  /** Appends an entry (the store assigns its id); only the newest `keep` are kept. */
  appendAudit(entry: Omit<AuditEntry, 'id'>, keep: number): Promise<void>;
  /** Newest first; cursor is the id of the last entry of the previous page. */
  listAudit(limit: number, cursor: string | null): Promise<Page<AuditEntry>>;

  // Nonce secrets
  /** The shared key ring; when there is none yet, `candidate` becomes its current secret (atomically: first wins). */
  nonceKeyRing(candidate: string): Promise<NonceKeyRing>;
  /** Makes `next` the current secret and the current one the previous. */
  rotateNonceKey(next: string, now: number): Promise<NonceKeyRing>;

  // Changes between instances
  /** Tells every instance on this store that what it remembers of `aor` (null: of everything) is out of date. */
  announceChange(aor: string | null): Promise<void>;
  /** Called for every change announced by any instance, this one included. */
  onChange(listener: (aor: string | null) => void): void;

  /** Rejects when the store does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
