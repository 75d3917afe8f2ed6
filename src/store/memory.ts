/**
 * In-process Store: Maps, for a single registrar instance and for tests. Not persistent.
 *
 * Decisions use only the callers' `now`. Expired data is pruned lazily on access and by a small periodic sweep that
 * judges expiry against the highest `now` seen so far (starting from the wall clock at construction), so behaviour
 * follows the same logical rules as the Redis adapter. The sweep timer is unref'd: it never keeps the process alive.
 */
import { addressView, extensionView } from './lockout-view.js';
import {
  applyAddressFailure,
  applyExtensionFailure,
  emptyLockState,
  liftState,
  updateForgetAt,
  type LockState,
} from '../domain/lockout-rules.js';
import type {
  Account,
  AccountPatch,
  AccountRecord,
  AddressLockout,
  AuditEntry,
  Binding,
  Credentials,
  ExtensionLockout,
  NonceKeyRing,
} from '../domain/types.js';
import type {
  CommitResult,
  FailureOutcome,
  FailureRecord,
  NonceUse,
  Page,
  RegistrationCommit,
  RegistrationSnapshot,
  Store,
} from './types.js';

const SWEEP_INTERVAL_MS = 30_000;
const SWEEP_BUDGET = 10_000;

/** Byte order of the UTF-8 encodings: the order Redis ZRANGEBYLEX uses, so both adapters page identically. */
function compareAor(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

interface AccountEntry {
  account: Account;
  credentials: Credentials | null;
  credentialSecret?: string | null;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly persistent = false;

  private readonly accounts = new Map<string, AccountEntry>();
  /** AORs in byte order, for paging. */
  private readonly sortedAors: string[] = [];
  private readonly bindings = new Map<string, Map<string, Binding>>();
  private readonly versions = new Map<string, number>();
  /** `aor \n nonce` -> highest nc used and when the record expires. */
  private readonly nonces = new Map<string, { nc: number; expiresAt: number }>();
  private readonly extensionLocks = new Map<string, LockState>();
  private readonly addressLocks = new Map<string, LockState>();
  /** The highest `now` any caller passed: the sweep's clock. */
  /** In process: a restart makes a new one, and the phones' next refresh is challenged with stale=true. */
  private keyRing: NonceKeyRing | null = null;
  private readonly audit: AuditEntry[] = [];
  private readonly changeListeners: Array<(aor: string | null) => void> = [];
  private auditSeq = 0;
  private clock = Date.now();
  private timer: NodeJS.Timeout | null;

  constructor(opts: { sweepIntervalMs?: number } = {}) {
    this.timer = setInterval(() => this.sweep(), opts.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  // Accounts

  async createAccount(record: AccountRecord): Promise<boolean> {
    const aor = record.account.aor;
    if (this.accounts.has(aor)) return false;
    this.accounts.set(aor, {
      account: frozen(record.account),
      credentials: frozen(record.credentials),
      credentialSecret: record.credentialSecret ?? null,
    });
    this.sortedInsert(aor);
    return true;
  }

  async getAccount(aor: string): Promise<AccountRecord | null> {
    const e = this.accounts.get(aor);
    if (!e) return null;
    return e.credentialSecret
      ? { account: e.account, credentials: e.credentials, credentialSecret: e.credentialSecret }
      : { account: e.account, credentials: e.credentials };
  }

  async listAccounts(limit: number, cursor: string | null): Promise<Page<Account>> {
    let start = 0;
    if (cursor !== null) {
      start = this.lowerBound(cursor);
      if (this.sortedAors[start] === cursor) start += 1;
    }
    const slice = this.sortedAors.slice(start, start + Math.max(0, limit));
    const items = slice.flatMap((aor) => {
      const e = this.accounts.get(aor);
      return e ? [e.account] : [];
    });
    const more = start + slice.length < this.sortedAors.length;
    const last = slice[slice.length - 1];
    return { items, nextCursor: more && last !== undefined ? last : null };
  }

  async updateAccount(aor: string, patch: AccountPatch, now: number, clearBindings: boolean): Promise<Account | null> {
    this.tick(now);
    const e = this.accounts.get(aor);
    if (!e) return null;
    const p = patch;
    e.account = frozen({
      ...e.account,
      ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
      ...(p.allowedAddresses !== undefined ? { allowedAddresses: p.allowedAddresses } : {}),
      ...(p.maxContacts !== undefined ? { maxContacts: p.maxContacts } : {}),
      ...(p.algorithms !== undefined ? { algorithms: p.algorithms } : {}),
      updatedAt: now,
    });
    if (clearBindings) this.dropBindings(aor);
    return e.account;
  }

  async setCredentials(aor: string, credentials: Credentials, now: number): Promise<boolean> {
    this.tick(now);
    const e = this.accounts.get(aor);
    if (!e) return false;
    e.credentials = frozen(credentials);
    e.account = frozen({ ...e.account, passwordChangedAt: now, updatedAt: now, staleDevice: null });
    this.dropBindings(aor);
    return true;
  }

  async recordStaleDevice(aor: string, address: string, now: number, userAgent: string | null = null): Promise<void> {
    this.tick(now);
    const e = this.accounts.get(aor);
    if (e)
      e.account = frozen({
        ...e.account,
        staleDevice: userAgent === null ? { address, seenAt: now } : { address, seenAt: now, userAgent },
      });
  }

  async setCredentialSecret(aor: string, secret: string): Promise<boolean> {
    const e = this.accounts.get(aor);
    if (!e) return false;
    e.credentialSecret = secret;
    return true;
  }

  async deleteAccount(aor: string): Promise<boolean> {
    if (!this.accounts.delete(aor)) return false;
    const i = this.lowerBound(aor);
    if (this.sortedAors[i] === aor) this.sortedAors.splice(i, 1);
    this.bindings.delete(aor);
    this.versions.delete(aor);
    this.extensionLocks.delete(aor);
    return true;
  }

  async countAccounts(): Promise<number> {
    return this.accounts.size;
  }

  // Registrations and bindings

  async loadRegistration(aor: string, address: string, now: number): Promise<RegistrationSnapshot> {
    this.tick(now);
    const record = await this.getAccount(aor);
    const ext = this.extensionLocks.get(aor);
    const addr = this.addressLocks.get(address);
    return {
      record,
      bindings: this.liveBindings(aor, now),
      version: this.versions.get(aor) ?? 0,
      extensionLock: ext ? extensionView(aor, ext, now) : null,
      addressLock: addr ? addressView(address, addr, now) : null,
    };
  }

  async commitRegistration(commit: RegistrationCommit): Promise<CommitResult> {
    const { aor, now } = commit;
    this.tick(now);
    if (commit.nonce && !this.nonceFresh(aor, commit.nonce)) return 'replay';
    if ((this.versions.get(aor) ?? 0) !== commit.expectedVersion) return 'conflict';
    if (commit.nonce) this.recordNonce(aor, commit.nonce, now);
    const next = new Map<string, Binding>();
    for (const b of commit.bindings) if (b.expiresAt > now) next.set(b.key, frozen(b));
    if (next.size > 0) this.bindings.set(aor, next);
    else this.bindings.delete(aor);
    this.bump(aor);
    const ext = commit.authenticated ? this.extensionLocks.get(aor) : undefined;
    if (ext) {
      ext.failures = 0;
      ext.lastFailAt = 0;
    }
    return 'ok';
  }

  async useNonce(aor: string, use: NonceUse): Promise<boolean> {
    if (!this.nonceFresh(aor, use)) return false;
    // NonceUse carries no `now`: the record lives from the latest time any caller passed.
    this.recordNonce(aor, use, this.clock);
    return true;
  }

  async getBindings(aor: string, now: number): Promise<Binding[]> {
    this.tick(now);
    return this.liveBindings(aor, now);
  }

  async clearBindings(aor: string): Promise<number> {
    return this.dropBindings(aor);
  }

  async countBindings(now: number): Promise<number> {
    this.tick(now);
    let n = 0;
    for (const m of this.bindings.values()) for (const b of m.values()) if (b.expiresAt > now) n += 1;
    return n;
  }

  // Lockouts

  async recordFailure(f: FailureRecord): Promise<FailureOutcome> {
    this.tick(f.now);
    let extension: ExtensionLockout | null = null;
    let address: AddressLockout | null = null;
    let extensionLockedNow = false;
    let addressLockedNow = false;
    if (f.aor !== null) {
      const s = this.extensionLocks.get(f.aor) ?? emptyLockState();
      this.extensionLocks.set(f.aor, s);
      extensionLockedNow = applyExtensionFailure(s, f.now, f.address, f.policy);
      // A lock that starts moves the AOR's version: a registration decided from a cached read fails its commit.
      if (extensionLockedNow) this.bump(f.aor);
      updateForgetAt(s, f.now, f.policy);
      extension = extensionView(f.aor, s, f.now);
    }
    if (f.countAddress) {
      const s = this.addressLocks.get(f.address) ?? emptyLockState();
      this.addressLocks.set(f.address, s);
      addressLockedNow = applyAddressFailure(s, f.now, f.policy, f.aor);
      updateForgetAt(s, f.now, f.policy);
      address = addressView(f.address, s, f.now);
    }
    return { extension, address, extensionLockedNow, addressLockedNow };
  }

  async isAddressLocked(address: string, now: number): Promise<boolean> {
    this.tick(now);
    const s = this.addressLocks.get(address);
    return s !== undefined && s.lockedUntil > now;
  }

  async listLockouts(now: number): Promise<{ extensions: ExtensionLockout[]; addresses: AddressLockout[] }> {
    this.tick(now);
    const extensions: ExtensionLockout[] = [];
    const addresses: AddressLockout[] = [];
    for (const [aor, s] of this.extensionLocks) if (s.lockedUntil > now) extensions.push(extensionView(aor, s, now));
    for (const [a, s] of this.addressLocks) if (s.lockedUntil > now) addresses.push(addressView(a, s, now));
    extensions.sort((x, y) => compareAor(x.aor, y.aor));
    addresses.sort((x, y) => compareAor(x.address, y.address));
    return { extensions, addresses };
  }

  async liftExtension(aor: string, now: number): Promise<boolean> {
    this.tick(now);
    const s = this.extensionLocks.get(aor);
    return s ? liftState(s, now) : false;
  }

  async liftAddress(address: string, now: number): Promise<boolean> {
    this.tick(now);
    const s = this.addressLocks.get(address);
    return s ? liftState(s, now) : false;
  }

  async liftAll(now: number): Promise<number> {
    this.tick(now);
    let n = 0;
    for (const s of this.extensionLocks.values()) if (s.lockedUntil > now && liftState(s, now)) n += 1;
    for (const s of this.addressLocks.values()) if (s.lockedUntil > now && liftState(s, now)) n += 1;
    return n;
  }

  async appendAudit(entry: Omit<AuditEntry, 'id'>, keep: number): Promise<void> {
    this.audit.push({ ...entry, id: String(++this.auditSeq) });
    if (this.audit.length > keep) this.audit.splice(0, this.audit.length - keep);
  }

  async listAudit(limit: number, cursor: string | null): Promise<Page<AuditEntry>> {
    const before = cursor === null ? Infinity : Number(cursor);
    const items: AuditEntry[] = [];
    for (let i = this.audit.length - 1; i >= 0 && items.length <= limit; i--) {
      const e = this.audit[i] as AuditEntry;
      if (Number(e.id) < before) items.push(e);
    }
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? (items[items.length - 1]?.id ?? null) : null };
  }

  async nonceKeyRing(candidate: string): Promise<NonceKeyRing> {
    this.keyRing ??= { current: candidate, previous: null, rotatedAt: null };
    return this.keyRing;
  }

  async rotateNonceKey(next: string, now: number): Promise<NonceKeyRing> {
    this.keyRing = { current: next, previous: this.keyRing?.current ?? null, rotatedAt: now };
    return this.keyRing;
  }

  /** In process: every instance on this store is this one. */
  async announceChange(aor: string | null): Promise<void> {
    for (const l of this.changeListeners) l(aor);
  }

  onChange(listener: (aor: string | null) => void): void {
    this.changeListeners.push(listener);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // Internals

  private tick(now: number): void {
    if (now > this.clock) this.clock = now;
  }

  private bump(aor: string): void {
    this.versions.set(aor, (this.versions.get(aor) ?? 0) + 1);
  }

  /** Removes every binding (bumping the version); returns how many were stored. */
  private dropBindings(aor: string): number {
    const n = this.bindings.get(aor)?.size ?? 0;
    this.bindings.delete(aor);
    this.bump(aor);
    return n;
  }

  private liveBindings(aor: string, now: number): Binding[] {
    const m = this.bindings.get(aor);
    if (!m) return [];
    const out: Binding[] = [];
    for (const b of m.values()) if (b.expiresAt > now) out.push(b);
    // Lazy pruning: once every binding has expired the AOR's entry goes, like the Redis hash's PEXPIRE.
    if (out.length === 0) this.bindings.delete(aor);
    return out;
  }

  /** The record's lifetime is garbage collection only (the registrar judges nonce age itself), as in Redis. */
  private nonceFresh(aor: string, use: NonceUse): boolean {
    const rec = this.nonces.get(`${aor}\n${use.nonce}`);
    return rec === undefined || use.nc > rec.nc;
  }

  private recordNonce(aor: string, use: NonceUse, now: number): void {
    const from = Math.max(now, this.clock);
    this.nonces.set(`${aor}\n${use.nonce}`, { nc: use.nc, expiresAt: from + Math.max(1, use.ttlMs) });
  }

  private lowerBound(aor: string): number {
    let lo = 0;
    let hi = this.sortedAors.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.sortedAors[mid];
      if (v !== undefined && compareAor(v, aor) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private sortedInsert(aor: string): void {
    this.sortedAors.splice(this.lowerBound(aor), 0, aor);
  }

  /** Bounded housekeeping: forgets expired nonce records, stale lockout states and AORs whose bindings all expired. */
  private sweep(): void {
    const now = this.clock;
    let budget = SWEEP_BUDGET;
    for (const [k, s] of this.addressLocks) {
      if (budget-- <= 0) return;
      if (s.forgetAt <= now) this.addressLocks.delete(k);
    }
    for (const [k, s] of this.extensionLocks) {
      if (budget-- <= 0) return;
      if (s.forgetAt <= now) this.extensionLocks.delete(k);
    }
    for (const [k, rec] of this.nonces) {
      if (budget-- <= 0) return;
      if (rec.expiresAt <= now) this.nonces.delete(k);
    }
    for (const [aor, m] of this.bindings) {
      if (budget-- <= 0) return;
      let live = false;
      for (const b of m.values()) if (b.expiresAt > now) live = true;
      if (!live) this.bindings.delete(aor);
    }
  }
}

/**
 * Callers must not be able to mutate stored state through returned or passed objects. Stored values are frozen
 * (deeply) when written and shared when read: reads, the hot path, copy nothing. A caller's object is frozen in
 * place; the store's types are readonly, so no caller means to change one anyway.
 */
function frozen<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) frozen((v as Record<string, unknown>)[k]);
  }
  return v;
}
