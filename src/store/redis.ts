/**
 * Redis Store (ioredis). Every key and its lifetime is listed in docs/store.md. Per-AOR keys share the hash tag
 * `{aor}`; multi-key atomic steps are Lua scripts from ./redis-scripts.ts, defined once and called by name.
 *
 * Logic runs on the callers' `now`; Redis TTLs run on Redis's clock, so every TTL is sent relative (PX / PEXPIRE
 * computed as `deadline - now`), never as an absolute PEXPIREAT.
 */
import { Cluster, Redis, type ChainableCommander, type ClusterOptions, type RedisOptions } from 'ioredis';
import { addressView, extensionView, type StoredLock } from './lockout-view.js';
import { SCRIPTS, type ScriptName } from './redis-scripts.js';
import {
  PERMANENT,
  applyAddressFailure,
  applyExtensionFailure,
  liftState,
  updateForgetAt,
  type LockState,
} from '../domain/lockout-rules.js';
import { DIGEST_ALGORITHMS, TRANSPORT_NAMES } from '../domain/types.js';
import type {
  Account,
  AccountPatch,
  AccountRecord,
  AddressLockout,
  AuditEntry,
  AuthType,
  Binding,
  Credentials,
  DigestAlgorithm,
  ExtensionLockout,
  LockoutPolicy,
  Ha1Set,
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

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A Redis URL (redis:// or rediss://), a master found through Sentinel, or a Redis Cluster's seed nodes. */
export type RedisTarget =
  | string
  | { readonly sentinels: ReadonlyArray<HostPort>; readonly name: string }
  | { readonly cluster: ReadonlyArray<HostPort> };

/** One client API over the three topologies: ioredis's Cluster speaks the same commands as its Redis. */
type Client = Redis | Cluster;

/**
 * Shards of the binding counts. One key would put every registration's count write on one Cluster master; sixteen
 * hash tags spread them (and countBindings reads sixteen, only when metrics are read).
 */
const COUNT_SHARDS = 16;
/** How long binding count changes are gathered before they are sent (the counts are for metrics only). */
const COUNT_BATCH_MS = 50;

export interface RedisStoreOptions {
  /** Replicas that must acknowledge a registration (WAIT) before it counts as stored; 0: do not wait. */
  waitReplicas?: number;
  /** How long WAIT may take; a registration whose replicas do not answer in time fails (the REGISTER gets 503). */
  waitTimeoutMs?: number;
  /** Prefix of every key; default `sipreg:`. */
  keyPrefix?: string;
  /** Per-command deadline; a command that gets no answer in time rejects. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Connection errors (the client keeps reconnecting in the background). Never carries secrets. */
  onError?: (err: Error) => void;
}

type ScriptArg = string | number;
type ScriptCaller<R> = Record<ScriptName, (...args: ScriptArg[]) => R>;

const RECONNECT_CAP_MS = 2000;
/** Compare-and-set attempts of a lockout update before giving up (only other instances can make one fail). */
const LOCK_ATTEMPTS = 16;

export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly persistent = true;

  private readonly redis: Client;
  private readonly p: string;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  /** Subscribed to the change channel on first onChange(): a subscribed connection runs no other command. */
  private subscriber: Client | null = null;
  private readonly onError: ((err: Error) => void) | undefined;
  private readonly changeListeners: Array<(aor: string | null) => void> = [];
  private readonly lockChains = new Map<string, Promise<unknown>>();
  /** Binding count changes not yet sent, per shard: expiry second -> delta. */
  private readonly pendingCounts = new Map<string, Map<number, number>>();
  private countFlush: NodeJS.Timeout | null = null;

  constructor(target: RedisTarget, opts: RedisStoreOptions = {}) {
    this.p = opts.keyPrefix ?? 'sipreg:';
    this.waitReplicas = opts.waitReplicas ?? 0;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 500;
    const options: RedisOptions = {
      // Reject instead of hanging when Redis is away; keep reconnecting so service resumes by itself.
      maxRetriesPerRequest: 1,
      commandTimeout: Math.max(opts.commandTimeoutMs ?? 2000, this.waitTimeoutMs + 1000),
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), RECONNECT_CAP_MS),
      lazyConnect: false,
      // Commands issued in the same tick (many REGISTERs in flight) go out in one write and come back in one read:
      // fewer system calls on both sides under load, no change when idle.
      enableAutoPipelining: true,
    };
    this.redis = connect(target, options);
    const onError = opts.onError;
    this.onError = onError;
    // Without a listener ioredis would report every failed reconnect as an unhandled 'error' event.
    this.redis.on('error', (err: Error) => onError?.(err));
    for (const [name, def] of Object.entries(SCRIPTS)) this.redis.defineCommand(name, def);
  }

  // Keys (docs/store.md)

  private acct(aor: string): string {
    return `${this.p}{${aor}}:acct`;
  }
  private bKey(aor: string): string {
    return `${this.p}{${aor}}:b`;
  }
  private nKey(aor: string, nonce: string): string {
    return `${this.p}{${aor}}:n:${nonce}`;
  }
  private failKey(aor: string): string {
    return `${this.p}{${aor}}:fail`;
  }
  private addrKey(address: string): string {
    return `${this.p}addr:{${address}}`;
  }
  /** The binding count shard of an AOR: a cheap string hash (FNV-1a), stable across instances. */
  private countShard(aor: string): string {
    let h = 0x811c9dc5;
    for (let i = 0; i < aor.length; i++) h = Math.imul(h ^ aor.charCodeAt(i), 0x01000193);
    return this.countKey((h >>> 0) % COUNT_SHARDS);
  }
  private countKey(shard: number): string {
    return `${this.p}bcount:{${shard}}`;
  }
  private get accountsIdx(): string {
    return `${this.p}accounts`;
  }
  private get extLocksIdx(): string {
    return `${this.p}locks:ext`;
  }
  private get addrLocksIdx(): string {
    return `${this.p}locks:addr`;
  }
  private get changesChannel(): string {
    return `${this.p}changes`;
  }
  private get auditKey(): string {
    return `${this.p}audit`;
  }
  private get nonceKeysKey(): string {
    return `${this.p}nonce-keys`;
  }

  // Accounts

  async createAccount(record: AccountRecord): Promise<boolean> {
    const aor = record.account.aor;
    // The index is another slot: written first, unconditionally and idempotently (an existing account is in it
    // already), so a listed AOR whose account is missing is the only possible leftover, and listing skips it.
    const [, created] = await Promise.all([
      this.redis.zadd(this.accountsIdx, 0, aor),
      this.run('sipregCreateAccount', [this.acct(aor)], encodeRecord(record)),
    ]);
    return created === 1;
  }

  async getAccount(aor: string): Promise<AccountRecord | null> {
    return decodeRecord(await this.redis.hgetall(this.acct(aor)));
  }

  async listAccounts(limit: number, cursor: string | null): Promise<Page<Account>> {
    if (limit <= 0) return { items: [], nextCursor: null };
    const aors = await this.redis.zrangebylex(
      this.accountsIdx,
      cursor === null ? '-' : `(${cursor}`,
      '+',
      'LIMIT',
      0,
      limit + 1,
    );
    const page = aors.slice(0, limit);
    // Separate commands, not one pipeline: on Cluster they go to several masters (auto-pipelined per node).
    const hashes = await Promise.all(page.map((aor) => this.redis.hgetall(this.acct(aor))));
    const items: Account[] = [];
    for (const h of hashes) {
      const rec = decodeRecord(h);
      if (rec) items.push(rec.account);
    }
    const last = page[page.length - 1];
    return { items, nextCursor: aors.length > limit && last !== undefined ? last : null };
  }

  async updateAccount(aor: string, patch: AccountPatch, now: number, clearBindings: boolean): Promise<Account | null> {
    const fields: string[] = [];
    if (patch.enabled !== undefined) fields.push('enabled', JSON.stringify(patch.enabled));
    if (patch.allowedAddresses !== undefined) fields.push('allowedAddresses', JSON.stringify(patch.allowedAddresses));
    if (patch.maxContacts !== undefined) fields.push('maxContacts', JSON.stringify(patch.maxContacts));
    if (patch.algorithms !== undefined) fields.push('algorithms', JSON.stringify(patch.algorithms));
    fields.push('updatedAt', JSON.stringify(now));
    const reply = await this.run(
      'sipregUpdateAccount',
      [this.acct(aor), this.bKey(aor)],
      [clearBindings ? '1' : '0', ...fields],
    );
    if (!Array.isArray(reply)) return null;
    const [hash, removed] = reply as unknown[];
    this.recount(aor, asStrings(removed), []);
    return decodeRecord(pairsToHash(hash))?.account ?? null;
  }

  async setCredentials(aor: string, credentials: Credentials, now: number): Promise<boolean> {
    const reply = await this.run(
      'sipregSetCredentials',
      [this.acct(aor), this.bKey(aor)],
      [
        'credentials',
        JSON.stringify(credentials),
        'passwordChangedAt',
        JSON.stringify(now),
        'updatedAt',
        JSON.stringify(now),
        'staleDevice',
        'null',
      ],
    );
    if (!Array.isArray(reply)) return false;
    this.recount(aor, asStrings(reply), []);
    return true;
  }

  async recordStaleDevice(aor: string, address: string, now: number, userAgent: string | null = null): Promise<void> {
    const device = JSON.stringify(userAgent === null ? { address, seenAt: now } : { address, seenAt: now, userAgent });
    await this.run('sipregSetIfExists', [this.acct(aor)], ['staleDevice', device]);
  }

  async setCredentialSecret(aor: string, secret: string): Promise<boolean> {
    return (await this.run('sipregSetIfExists', [this.acct(aor)], ['credentialSecret', JSON.stringify(secret)])) === 1;
  }

  async deleteAccount(aor: string): Promise<boolean> {
    const removed = await this.run('sipregDeleteAccount', [this.acct(aor), this.bKey(aor), this.failKey(aor)], []);
    // The indexes are other slots; an entry left by a crash in between is skipped when read.
    if (Array.isArray(removed)) this.recount(aor, asStrings(removed), []);
    await Promise.all([this.redis.zrem(this.accountsIdx, aor), this.redis.zrem(this.extLocksIdx, aor)]);
    return Array.isArray(removed);
  }

  async countAccounts(): Promise<number> {
    return this.redis.zcard(this.accountsIdx);
  }

  // Registrations and bindings

  async loadRegistration(aor: string, address: string, now: number): Promise<RegistrationSnapshot> {
    // One script for the AOR (one consistent view: the version matches the bindings read with it) and, sent in the
    // same write, the address's state, which lives in another slot.
    const [reply, addrHash] = await Promise.all([
      this.run('sipregLoad', [this.acct(aor), this.bKey(aor), this.failKey(aor)], []),
      this.redis.hgetall(this.addrKey(address)),
    ]);
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error('unexpected load reply from Redis');
    const [acctPairs, bPairs, failPairs] = reply as unknown[];
    const ext = decodeLock(pairsToHash(failPairs));
    const adr = decodeLock(addrHash);
    const b = pairsToHash(bPairs);
    return {
      record: decodeRecord(pairsToHash(acctPairs)),
      bindings: decodeBindings(b, now),
      version: Number(b[VERSION_FIELD] ?? 0) || 0,
      extensionLock: ext ? extensionView(aor, ext, now) : null,
      addressLock: adr ? addressView(address, adr, now) : null,
    };
  }

  async commitRegistration(commit: RegistrationCommit): Promise<CommitResult> {
    const { aor, now, nonce } = commit;
    const live = commit.bindings.filter((b) => b.expiresAt > now);
    const latest = live.reduce((m, b) => Math.max(m, b.expiresAt), now);
    const args: ScriptArg[] = [
      commit.expectedVersion,
      nonce ? '1' : '0',
      nonce ? nonce.nc : 0,
      nonce ? Math.max(1, Math.ceil(nonce.ttlMs)) : 0,
      Math.max(1, Math.ceil(latest - now)),
      commit.authenticated ? '1' : '0',
    ];
    for (const b of live) args.push(b.key, encodeBinding(b));
    const keys = [this.bKey(aor), this.nKey(aor, nonce?.nonce ?? ''), this.failKey(aor)];
    let reply: unknown;
    if (this.waitReplicas === 0) {
      reply = await this.run('sipregCommit', keys, args);
    } else {
      // WAIT counts the writes of the connection it is sent on: a pipeline keeps it on the AOR's master (on
      // Cluster too, where it follows the slot of the script's keys), one round trip for both.
      const pipe = this.redis.pipeline();
      this.queue(pipe, 'sipregCommit', keys, args);
      pipe.wait(this.waitReplicas, this.waitTimeoutMs);
      const [r, acked] = await execAll(pipe);
      reply = r;
      if (Array.isArray(r) && r[0] === 'ok' && Number(acked) < this.waitReplicas) {
        throw new Error(
          `only ${String(acked)} of ${this.waitReplicas} replicas acknowledged within ${this.waitTimeoutMs} ms`,
        );
      }
    }
    if (Array.isArray(reply) && reply[0] === 'ok') {
      // The binding counts are for metrics only: they are not on the REGISTER's path.
      this.recount(aor, asStrings(reply).slice(1), live);
      return 'ok';
    }
    if (reply === 'conflict' || reply === 'replay') return reply;
    throw new Error(`unexpected commit reply from Redis: ${String(reply)}`);
  }

  /**
   * Counts an AOR's binding change. Each binding is counted in the second it expires in (its shard's hash: second ->
   * bindings), so countBindings sums the seconds still to come, and a binding that expires silently in Redis drops
   * out of the count by itself; no entry per binding (an index cost 118 bytes a binding). `removed`: the stored values
   * the scripts returned, expired ones included (their seconds are past, so taking them off changes nothing live).
   * Sent COUNT_BATCH_MS later, one script per shard for every commit of the window (the commit itself is never
   * delayed). countBindings flushes first. A crash loses at most one window, which heals as those bindings expire.
   */
  private recount(aor: string, removed: readonly string[], added: readonly Binding[]): void {
    if (removed.length === 0 && added.length === 0) return;
    const shard = this.countShard(aor);
    let deltas = this.pendingCounts.get(shard);
    if (deltas === undefined) this.pendingCounts.set(shard, (deltas = new Map()));
    for (const value of removed) {
      // Decoded as a read decodes it: one home for the stored layout.
      const b = decodeBinding('', value);
      if (b !== null) addTo(deltas, expirySecond(b.expiresAt), -1);
    }
    for (const b of added) addTo(deltas, expirySecond(b.expiresAt), 1);
    this.countFlush ??= setTimeout(() => void this.flushCounts(), COUNT_BATCH_MS).unref();
  }

  /** Sends the queued count changes: one script per shard (in order on the connection, before any later count). */
  private flushCounts(): Promise<unknown> {
    if (this.countFlush !== null) clearTimeout(this.countFlush);
    this.countFlush = null;
    const writes: Array<Promise<unknown>> = [];
    for (const [shard, deltas] of this.pendingCounts) {
      const args: number[] = [];
      for (const [second, delta] of deltas) if (delta !== 0) args.push(second, delta);
      if (args.length > 0) writes.push(this.run('sipregCountDeltas', [shard], args));
    }
    this.pendingCounts.clear();
    return Promise.all(writes).catch((e: unknown) => this.onError?.(asError(e)));
  }

  async useNonce(aor: string, use: NonceUse): Promise<boolean> {
    const reply = await this.run(
      'sipregUseNonce',
      [this.nKey(aor, use.nonce)],
      [use.nc, Math.max(1, Math.ceil(use.ttlMs))],
    );
    return reply === 1;
  }

  async getBindings(aor: string, now: number): Promise<Binding[]> {
    return decodeBindings(await this.redis.hgetall(this.bKey(aor)), now);
  }

  async clearBindings(aor: string): Promise<number> {
    const removed = asStrings(await this.run('sipregClearBindings', [this.bKey(aor)], []));
    this.recount(aor, removed, []);
    return removed.length;
  }

  async countBindings(now: number): Promise<number> {
    void this.flushCounts();
    // Each shard sums the seconds after now and drops the past ones: O(seconds with an expiry ahead), not bindings.
    const counts = await Promise.all(
      Array.from({ length: COUNT_SHARDS }, (_, i) => this.run('sipregCountLive', [this.countKey(i)], [now])),
    );
    // Bindings stored before the counts existed (an upgrade) can be taken off without ever having been counted.
    return Math.max(
      0,
      counts.reduce<number>((a, n) => a + Number(n), 0),
    );
  }

  // Lockouts

  /**
   * One failed authentication. The rules are src/domain/lockout-rules.ts; this reads the states, lets the rules
   * decide, and stores the result with a compare-and-set (sipregSaveLock), deciding again from a fresh read when
   * another failure or a lift got in between. Failures on one key are serialised in this process, so only other
   * instances can make it retry.
   */
  async recordFailure(f: FailureRecord): Promise<FailureOutcome> {
    const { policy, now } = f;
    const [ext, addr] = await Promise.all([
      f.aor === null
        ? null
        : this.serialised(this.failKey(f.aor), () =>
            this.decideLock(
              this.failKey(f.aor as string),
              this.extLocksIdx,
              f.aor as string,
              now,
              policy,
              (s) => applyExtensionFailure(s, now, f.address, policy),
              this.bKey(f.aor as string),
            ),
          ),
      !f.countAddress
        ? null
        : this.serialised(this.addrKey(f.address), () =>
            this.decideLock(this.addrKey(f.address), this.addrLocksIdx, f.address, now, policy, (s) =>
              applyAddressFailure(s, now, policy, f.aor),
            ),
          ),
    ]);
    return {
      extension: ext === null ? null : extensionView(f.aor as string, ext.state, now),
      address: addr === null ? null : addressView(f.address, addr.state, now),
      extensionLockedNow: ext?.lockedNow ?? false,
      addressLockedNow: addr?.lockedNow ?? false,
    };
  }

  /**
   * Reads a lockout state, lets `apply` change it (the rules), and stores the result if nobody changed it meanwhile.
   * policy null: a lift, which keeps the state's forget time, and leaves an absent state absent (result null).
   */
  private async decideLock(
    key: string,
    index: string,
    member: string,
    now: number,
    policy: LockoutPolicy | null,
    apply: (s: LockState) => boolean,
    /** The AOR's binding hash, which holds its version: bumped when a lock starts (extensions only). */
    versionKey: string | null = null,
  ): Promise<{ state: LockState; lockedNow: boolean } | null> {
    for (let attempt = 1; ; attempt++) {
      const raw = await this.redis.hgetall(key);
      if (policy === null && Object.keys(raw).length === 0) return null;
      const rev = Number(raw['rev'] ?? 0);
      const state = lockStateOf(raw);
      const lockedNow = apply(state);
      if (policy !== null) updateForgetAt(state, now, policy);
      const ttl = state.forgetAt >= PERMANENT ? 0 : Math.max(1000, Math.ceil(state.forgetAt - now));
      const bump = versionKey !== null && lockedNow ? '1' : '0';
      const saved = await this.run(
        'sipregSaveLock',
        [key, versionKey ?? key], // without a version key the flag is 0 and the second key unused
        [rev, ttl, bump, ...lockFields(state)],
      );
      if (saved === 1) {
        // The index is another slot. Listing re-reads each state, so a member left behind is harmless; one missing
        // after a crash right here hides a lock from the list (never from enforcement) until it ends.
        if (state.lockedUntil > now) await this.redis.zadd(index, state.lockedUntil, member);
        else await this.redis.zrem(index, member);
        return { state, lockedNow };
      }
      if (attempt >= LOCK_ATTEMPTS) throw new Error(`lockout state of ${member} kept changing under us`);
      // Another instance won: a random pause breaks the lockstep two instances would otherwise retry in.
      await new Promise((r) => setTimeout(r, Math.random() * 2 * attempt));
    }
  }

  /** Runs `fn` after every earlier call for the same key has finished. */
  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.lockChains.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.lockChains.set(key, tail);
    void tail.then(() => {
      if (this.lockChains.get(key) === tail) this.lockChains.delete(key);
    });
    return run;
  }

  async isAddressLocked(address: string, now: number): Promise<boolean> {
    const until = await this.redis.hget(this.addrKey(address), 'lockedUntil');
    return until !== null && Number(until) > now;
  }

  async listLockouts(now: number): Promise<{ extensions: ExtensionLockout[]; addresses: AddressLockout[] }> {
    const { aors, addresses } = await this.lockedMembers(now);
    const hashes = await Promise.all([
      ...aors.map((aor) => this.redis.hgetall(this.failKey(aor))),
      ...addresses.map((a) => this.redis.hgetall(this.addrKey(a))),
    ]);
    const extensions: ExtensionLockout[] = [];
    const addrs: AddressLockout[] = [];
    aors.forEach((aor, i) => {
      const s = decodeLock(hashes[i] ?? {});
      if (s && s.lockedUntil > now) extensions.push(extensionView(aor, s, now));
    });
    addresses.forEach((a, i) => {
      const s = decodeLock(hashes[aors.length + i] ?? {});
      if (s && s.lockedUntil > now) addrs.push(addressView(a, s, now));
    });
    extensions.sort((x, y) => byteCompare(x.aor, y.aor));
    addrs.sort((x, y) => byteCompare(x.address, y.address));
    return { extensions, addresses: addrs };
  }

  /** A lift is decided by the same rules (liftState) and stored by the same compare-and-set as a failure. */
  async liftExtension(aor: string, now: number): Promise<boolean> {
    const key = this.failKey(aor);
    const r = await this.serialised(key, () =>
      this.decideLock(key, this.extLocksIdx, aor, now, null, (s) => liftState(s, now)),
    );
    return r?.lockedNow ?? false;
  }

  async liftAddress(address: string, now: number): Promise<boolean> {
    const key = this.addrKey(address);
    const r = await this.serialised(key, () =>
      this.decideLock(key, this.addrLocksIdx, address, now, null, (s) => liftState(s, now)),
    );
    return r?.lockedNow ?? false;
  }

  async liftAll(now: number): Promise<number> {
    const { aors, addresses } = await this.lockedMembers(now);
    const lifted = await Promise.all([
      ...aors.map((aor) => this.liftExtension(aor, now)),
      ...addresses.map((a) => this.liftAddress(a, now)),
    ]);
    return lifted.filter(Boolean).length;
  }

  async appendAudit(entry: Omit<AuditEntry, 'id'>, keep: number): Promise<void> {
    // A stream: ids grow with time, XREVRANGE pages newest first, MAXLEN bounds it (approximately, cheaply).
    await this.redis.xadd(this.auditKey, 'MAXLEN', '~', String(keep), '*', 'e', JSON.stringify(entry));
  }

  async listAudit(limit: number, cursor: string | null): Promise<Page<AuditEntry>> {
    const end = cursor === null ? '+' : `(${cursor}`;
    const rows = await this.redis.xrevrange(this.auditKey, end, '-', 'COUNT', limit + 1);
    const items: AuditEntry[] = [];
    for (const [id, fields] of rows.slice(0, limit)) {
      try {
        const e = JSON.parse(fields[1] ?? '') as Omit<AuditEntry, 'id'>;
        items.push({ id, at: e.at, actor: e.actor, action: e.action, target: e.target, detail: e.detail ?? {} });
      } catch {
        // a corrupt entry is skipped, not fatal
      }
    }
    return { items, nextCursor: rows.length > limit ? (rows[limit - 1]?.[0] ?? null) : null };
  }

  async nonceKeyRing(candidate: string): Promise<NonceKeyRing> {
    const tx = this.redis.multi();
    tx.hsetnx(this.nonceKeysKey, 'current', candidate);
    tx.hgetall(this.nonceKeysKey);
    const [, ring] = await execAll(tx);
    return decodeKeyRing(ring as Record<string, string>);
  }

  async rotateNonceKey(next: string, now: number): Promise<NonceKeyRing> {
    return decodeKeyRing(pairsToHash(await this.run('sipregRotateNonceKey', [this.nonceKeysKey], [next, now])));
  }

  async announceChange(aor: string | null): Promise<void> {
    await this.redis.publish(this.changesChannel, aor ?? '*');
  }

  onChange(listener: (aor: string | null) => void): void {
    this.changeListeners.push(listener);
    if (this.subscriber !== null) return;
    // On Cluster a subscriber on any node hears every PUBLISH (classic pub/sub is broadcast over the cluster bus).
    const sub =
      this.redis instanceof Cluster
        ? this.redis.duplicate([], { enableAutoPipelining: false })
        : this.redis.duplicate({ enableAutoPipelining: false });
    this.subscriber = sub;
    sub.on('error', () => {}); // reconnects by itself; a message missed meanwhile is covered by the cache's time limit
    sub.on('message', (_channel: string, message: string) => {
      for (const l of this.changeListeners) l(message === '*' ? null : message);
    });
    void sub.subscribe(this.changesChannel).catch(() => {});
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.flushCounts();
    this.subscriber?.disconnect();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  // Internals

  private run(name: ScriptName, keys: string[], args: ScriptArg[]): Promise<unknown> {
    // While Redis is away, fail at once instead of queueing for the command timeout: the registrar answers 503 and
    // the phone retries; a queue would only hold every REGISTER for seconds. (While first connecting, commands wait.)
    const status = this.redis.status;
    if (status === 'reconnecting' || status === 'close' || status === 'end') {
      return Promise.reject(new Error(`Redis is not connected (${status})`));
    }
    return (this.redis as unknown as ScriptCaller<Promise<unknown>>)[name](...keys, ...args);
  }

  private queue(chain: ChainableCommander, name: ScriptName, keys: string[], args: ScriptArg[]): void {
    (chain as unknown as ScriptCaller<ChainableCommander>)[name](...keys, ...args);
  }

  /** Members of the lock indexes still locked at `now`, pruning the rest (one round trip). */
  private async lockedMembers(now: number): Promise<{ aors: string[]; addresses: string[] }> {
    const live = async (idx: string) => {
      const [, members] = await Promise.all([
        this.redis.zremrangebyscore(idx, '-inf', now),
        this.redis.zrangebyscore(idx, `(${now}`, '+inf'),
      ]);
      return members;
    };
    const [aors, addresses] = await Promise.all([live(this.extLocksIdx), live(this.addrLocksIdx)]);
    return { aors, addresses };
  }
}

/** The ioredis client for a target; every topology gets the same reconnect and timeout behaviour. */
function connect(target: RedisTarget, options: RedisOptions): Client {
  if (typeof target === 'string') return new Redis(target, options);
  // ioredis asks the sentinels for the master, and again after a failover.
  if ('sentinels' in target)
    return new Redis({ ...options, sentinels: target.sentinels.map((x) => ({ ...x })), name: target.name });
  const clusterOptions: ClusterOptions = {
    redisOptions: { ...options, enableAutoPipelining: false },
    enableAutoPipelining: true,
    // Follow a failover: retry a command while its slot has no master (CLUSTERDOWN) or has moved, within the
    // command timeout, and keep trying to reach the cluster when all its nodes are away.
    retryDelayOnClusterDown: 100,
    retryDelayOnFailover: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    clusterRetryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), RECONNECT_CAP_MS),
    slotsRefreshTimeout: 2000,
  };
  return new Cluster(
    target.cluster.map((x) => ({ ...x })),
    clusterOptions,
  );
}

/** The second a binding is counted in: the one its expiry falls in, so it is counted until that second is over. */
function expirySecond(expiresAt: number): number {
  return Math.ceil(expiresAt / 1000);
}

function addTo(deltas: Map<number, number>, second: number, delta: number): void {
  deltas.set(second, (deltas.get(second) ?? 0) + delta);
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// Replies

async function execAll(chain: ChainableCommander): Promise<unknown[]> {
  const results = await chain.exec();
  if (results === null) throw new Error('Redis transaction aborted');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

function asStrings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A Lua HGETALL reply: a flat array of field, value. */
function pairsToHash(v: unknown): Record<string, string> {
  const a = asStrings(v);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < a.length; i += 2) out[a[i] as string] = a[i + 1] as string;
  return out;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// Accounts: one hash field per Account field (JSON value) plus `credentials` (JSON).

const ACCOUNT_FIELDS = [
  'aor',
  'username',
  'domain',
  'authId',
  'authType',
  'allowedAddresses',
  'enabled',
  'maxContacts',
  'algorithms',
  'createdAt',
  'updatedAt',
  'passwordChangedAt',
  'staleDevice',
] as const satisfies readonly (keyof Account)[];

function encodeRecord(record: AccountRecord): string[] {
  const out: string[] = [];
  for (const f of ACCOUNT_FIELDS) out.push(f, JSON.stringify(record.account[f]));
  out.push('credentials', JSON.stringify(record.credentials));
  if (record.credentialSecret) out.push('credentialSecret', JSON.stringify(record.credentialSecret));
  return out;
}

class CorruptRecord extends Error {
  constructor(field: string) {
    super(`corrupt account record in Redis: field ${field}`);
  }
}

function field(h: Record<string, string>, name: string): unknown {
  const raw = h[name];
  if (raw === undefined) throw new CorruptRecord(name);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new CorruptRecord(name);
  }
}

function str(h: Record<string, string>, name: string): string {
  const v = field(h, name);
  if (typeof v !== 'string') throw new CorruptRecord(name);
  return v;
}

function num(h: Record<string, string>, name: string): number {
  const v = field(h, name);
  if (typeof v !== 'number') throw new CorruptRecord(name);
  return v;
}

function numOrNull(h: Record<string, string>, name: string): number | null {
  const v = field(h, name);
  if (v !== null && typeof v !== 'number') throw new CorruptRecord(name);
  return v;
}

function isAlgorithm(v: unknown): v is DigestAlgorithm {
  return typeof v === 'string' && (DIGEST_ALGORITHMS as readonly string[]).includes(v);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ha1Set(v: unknown, name: string): Ha1Set {
  if (!isRecord(v)) throw new CorruptRecord(name);
  const out: Partial<Record<DigestAlgorithm, string>> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isAlgorithm(k) || typeof x !== 'string') throw new CorruptRecord(name);
    out[k] = x;
  }
  return out;
}

function decodeCredentials(v: unknown): Credentials | null {
  if (v === null) return null;
  if (!isRecord(v)) throw new CorruptRecord('credentials');
  const previousUntil = v['previousUntil'];
  if (previousUntil !== null && typeof previousUntil !== 'number') throw new CorruptRecord('credentials');
  return {
    ha1: ha1Set(v['ha1'], 'credentials'),
    previousHa1: v['previousHa1'] === null ? null : ha1Set(v['previousHa1'], 'credentials'),
    previousUntil,
  };
}

function decodeRecord(h: Record<string, string>): AccountRecord | null {
  if (Object.keys(h).length === 0) return null;
  const authType = str(h, 'authType');
  if (authType !== 'digest' && authType !== 'ip') throw new CorruptRecord('authType');
  const allowed = field(h, 'allowedAddresses');
  if (!Array.isArray(allowed) || !allowed.every((x) => typeof x === 'string')) {
    throw new CorruptRecord('allowedAddresses');
  }
  const enabled = field(h, 'enabled');
  if (typeof enabled !== 'boolean') throw new CorruptRecord('enabled');
  const algorithms = field(h, 'algorithms');
  if (algorithms !== null && !(Array.isArray(algorithms) && algorithms.every(isAlgorithm))) {
    throw new CorruptRecord('algorithms');
  }
  const stale = field(h, 'staleDevice');
  let staleDevice: Account['staleDevice'] = null;
  if (stale !== null) {
    if (!isRecord(stale) || typeof stale['address'] !== 'string' || typeof stale['seenAt'] !== 'number') {
      throw new CorruptRecord('staleDevice');
    }
    const ua = stale['userAgent'];
    staleDevice =
      typeof ua === 'string'
        ? { address: stale['address'], seenAt: stale['seenAt'], userAgent: ua }
        : { address: stale['address'], seenAt: stale['seenAt'] };
  }
  const account: Account = {
    aor: str(h, 'aor'),
    username: str(h, 'username'),
    domain: str(h, 'domain'),
    authId: str(h, 'authId'),
    authType: authType satisfies AuthType,
    allowedAddresses: allowed,
    enabled,
    maxContacts: numOrNull(h, 'maxContacts'),
    algorithms,
    createdAt: num(h, 'createdAt'),
    updatedAt: num(h, 'updatedAt'),
    passwordChangedAt: numOrNull(h, 'passwordChangedAt'),
    staleDevice,
  };
  const secret = h.credentialSecret === undefined ? null : field(h, 'credentialSecret');
  if (secret !== null && typeof secret !== 'string') throw new CorruptRecord('credentialSecret');
  const credentials = decodeCredentials(field(h, 'credentials'));
  return secret === null ? { account, credentials } : { account, credentials, credentialSecret: secret };
}

// Bindings: binding key -> a JSON array of the Binding's fields in a fixed order, written by this adapter only.
// Positional rather than an object: a third of the bytes in Redis (docs/store.md), and the key is the hash field.
// [uri ('' when it equals the key), params, q, expiresAt, callId, cseq, instance, regId, path, transport, address,
//  port, connectionId, userAgent, registeredAt, updatedAt, node]; 16-element entries written before `node` read as
//  node null.

function encodeBinding(b: Binding): string {
  const s = b.source;
  return JSON.stringify([
    b.uri === b.key ? '' : b.uri,
    b.params,
    b.q,
    b.expiresAt,
    b.callId,
    b.cseq,
    b.instance,
    b.regId,
    b.path,
    s.transport,
    s.address,
    s.port,
    s.connectionId,
    b.userAgent,
    b.registeredAt,
    b.updatedAt,
    s.node,
  ]);
}

const TRANSPORTS = new Set<string>(TRANSPORT_NAMES);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const numOrNullValue = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function decodeBinding(key: string, raw: string): Binding | null {
  let a: unknown;
  try {
    a = JSON.parse(raw) as unknown;
  } catch {
    return null;
  }
  if (!Array.isArray(a) || (a.length !== 16 && a.length !== 17)) return null;
  const [uri, params, q, expiresAt, callId, cseq, instance, regId, path, transport, address, port, connectionId] = a;
  if (typeof expiresAt !== 'number' || typeof cseq !== 'number' || typeof callId !== 'string') return null;
  if (typeof transport !== 'string' || !TRANSPORTS.has(transport) || typeof address !== 'string') return null;
  return {
    key,
    uri: typeof uri === 'string' && uri !== '' ? uri : key,
    params: typeof params === 'string' ? params : '',
    q: numOrNullValue(q),
    expiresAt,
    callId,
    cseq,
    instance: strOrNull(instance),
    regId: numOrNullValue(regId),
    path: Array.isArray(path) ? path.filter((p): p is string => typeof p === 'string') : [],
    source: {
      transport: transport as Binding['source']['transport'],
      address,
      port: typeof port === 'number' ? port : 0,
      connectionId: numOrNullValue(connectionId),
      node: strOrNull(a[16]),
    },
    userAgent: strOrNull(a[13]),
    registeredAt: typeof a[14] === 'number' ? a[14] : 0,
    updatedAt: typeof a[15] === 'number' ? a[15] : 0,
  };
}

/** The field of the binding hash that holds the AOR's version (redis-scripts.ts VERSION). */
const VERSION_FIELD = '#v';

function decodeBindings(h: Record<string, string>, now: number): Binding[] {
  const out: Binding[] = [];
  for (const key in h) {
    if (key === VERSION_FIELD) continue;
    const b = decodeBinding(key, h[key] as string);
    if (b !== null && b.expiresAt > now) out.push(b);
  }
  return out;
}

// Lockout state hashes (fields written by the Lua scripts).

function decodeLock(h: Record<string, string>): StoredLock | null {
  return Object.keys(h).length === 0 ? null : lockStateOf(h);
}

/** A stored lockout hash as the rules' state; absent fields are 0 ("never"). */
function lockStateOf(h: Record<string, string>): LockState {
  const n = (k: string): number => Number(h[k] ?? 0) || 0;
  return {
    failures: n('failures'),
    lockedUntil: n('lockedUntil'),
    lockouts: n('lockouts'),
    lastLockAt: n('lastLockAt'),
    lastFailAt: n('lastFailAt'),
    windowStart: n('windowStart'),
    firstFailAt: n('firstFailAt'),
    lastAddress: h['lastAddress'] ?? null,
    seen: seenOf(h['seen']),
    forgetAt: n('forgetAt'),
  };
}

function seenOf(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function lockFields(s: LockState): string[] {
  const out = [
    'failures',
    String(s.failures),
    'lockedUntil',
    String(s.lockedUntil),
    'lockouts',
    String(s.lockouts),
    'lastLockAt',
    String(s.lastLockAt),
    'lastFailAt',
    String(s.lastFailAt),
    'windowStart',
    String(s.windowStart),
    'forgetAt',
    String(s.forgetAt),
    'firstFailAt',
    String(s.firstFailAt),
    'seen',
    JSON.stringify(s.seen),
  ];
  if (s.lastAddress !== null) out.push('lastAddress', s.lastAddress);
  return out;
}

function decodeKeyRing(h: Record<string, string>): NonceKeyRing {
  if (!h.current) throw new Error('nonce key ring has no current secret');
  return { current: h.current, previous: h.previous || null, rotatedAt: h.rotatedAt ? Number(h.rotatedAt) : null };
}
