/**
 * The store: everything the registrar keeps between messages, behind one interface with two adapters
 * (./memory.ts, in-process; ./redis.ts, ioredis). It speaks the registrar's domain (accounts, bindings, lockouts) and
 * knows nothing of SIP text. The same contract tests (test/store/contract.ts) run against both adapters.
 */

export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256';
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256'];

export type AuthType = 'digest' | 'ip';

export interface Account {
  /** `user@domain`, the address-of-record; the account's identity. */
  readonly aor: string;
  readonly username: string;
  readonly domain: string;
  /** The digest username the phone authenticates with; equals `username` unless set otherwise. */
  readonly authId: string;
  readonly authType: AuthType;
  /** IP addresses or CIDRs an `ip` account may register from. */
  readonly allowedAddresses: readonly string[];
  readonly enabled: boolean;
  /** null: the registrar's configured default. */
  readonly maxContacts: number | null;
  /** Challenge order for this account; null: the registrar's configured default. */
  readonly algorithms: readonly DigestAlgorithm[] | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly passwordChangedAt: number | null;
  /** Last REGISTER that answered with the previous password during the grace period (issue 4). */
  readonly staleDevice: { readonly address: string; readonly seenAt: number } | null;
}

/** HA1 per algorithm, lower-case hex (RFC 7616 3.4.2). The plaintext password is never stored. */
export type Ha1Set = Readonly<Partial<Record<DigestAlgorithm, string>>>;

export interface Credentials {
  readonly ha1: Ha1Set;
  /** HA1s of the password before the last change, recognised (and refused without counting) until `previousUntil`. */
  readonly previousHa1: Ha1Set | null;
  readonly previousUntil: number | null;
}

export interface AccountRecord {
  readonly account: Account;
  /** null for an `ip` account or one created without a password. */
  readonly credentials: Credentials | null;
}

export type AccountPatch = Partial<Pick<Account, 'enabled' | 'allowedAddresses' | 'maxContacts' | 'algorithms'>>;

export interface BindingSource {
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
  readonly connectionId: number | null;
}

/** One registered contact of an AOR (RFC 3261 10.3). Times are milliseconds since the epoch. */
export interface Binding {
  /**
   * Identity within the AOR: `<+sip.instance>;reg-id` for an outbound flow (RFC 5626 6), else the contact URI in the
   * comparable form of RFC 3261 19.1.4. Two contacts with the same key are the same binding.
   */
  readonly key: string;
  /** The Contact URI as the phone sent it. */
  readonly uri: string;
  /** Contact header parameters other than expires and q, as sent (e.g. `;+sip.instance="<urn:...>";reg-id=1`). */
  readonly params: string;
  readonly q: number | null;
  readonly expiresAt: number;
  readonly callId: string;
  readonly cseq: number;
  readonly instance: string | null;
  readonly regId: number | null;
  readonly path: readonly string[];
  readonly source: BindingSource;
  readonly userAgent: string | null;
  readonly registeredAt: number;
  readonly updatedAt: number;
}

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
  readonly now: number;
}

/** ok: written (and the extension's failure count reset); conflict: the version moved, re-read and retry; replay: nothing written. */
export type CommitResult = 'ok' | 'conflict' | 'replay';

export interface ExtensionLockout {
  readonly aor: string;
  readonly failures: number;
  /** null while not locked; Number.MAX_SAFE_INTEGER when locked permanently. */
  readonly lockedUntil: number | null;
  readonly lastAddress: string | null;
  /** Lockouts within the escalation window (a day by default), for lengthening repeated locks. */
  readonly lockouts: number;
}

export interface AddressLockout {
  readonly address: string;
  readonly failures: number;
  readonly lockedUntil: number | null;
  readonly lockouts: number;
}

export interface LockoutPolicy {
  readonly extension: { readonly threshold: number; readonly lockMs: number };
  readonly address: { readonly threshold: number; readonly windowMs: number; readonly lockMs: number };
  /** Each further lockout within windowMs multiplies the lock by factor; after `permanentAfter` lockouts it is permanent (0 = never). */
  readonly escalation: { readonly windowMs: number; readonly factor: number; readonly permanentAfter: number };
}

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

/**
 * The secrets digest nonces are signed with, shared by every instance on the store (so a restart, or a phone moving
 * to another instance, does not invalidate its nonce). Created once; a rotation moves current to previous.
 */
export interface NonceKeyRing {
  /** base64url, at least 16 bytes. */
  readonly current: string;
  readonly previous: string | null;
  /** When current replaced previous; null before the first rotation. */
  readonly rotatedAt: number | null;
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
  recordStaleDevice(aor: string, address: string, now: number): Promise<void>;
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

  // Nonce secrets
  /** The shared key ring; when there is none yet, `candidate` becomes its current secret (atomically: first wins). */
  nonceKeyRing(candidate: string): Promise<NonceKeyRing>;
  /** Makes `next` the current secret and the current one the previous. */
  rotateNonceKey(next: string, now: number): Promise<NonceKeyRing>;

  /** Rejects when the store does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
