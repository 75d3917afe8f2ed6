/**
 * What a REGISTER means (RFC 3261 10.3): which domain and AOR it is for, whether the sender proved who it is (digest,
 * RFC 2617 / 7616 / 8760, or an `ip` account's source address), whether lockouts let it in, and what it does to the
 * AOR's bindings. The dispatcher hands us a parsed request and sends back what we return.
 *
 * Authentication policy (contract, "SIP behaviour"). An answer we cannot check for its form (a scheme or realm not
 * ours, qop missing or not offered, an algorithm not offered, a nonce we did not issue or that expired, a (nonce, nc)
 * used before) is challenged afresh with 401, never refused: phones answer a 401 at once and a 403 makes them stop, so
 * a restart, another instance's nonce or a client quirk must never cost a phone its registration. `stale=true` marks
 * such a challenge when the answer was right for the password, and then nothing is counted. A wrong answer is always
 * counted towards lockouts, whatever its nonce, so foreign nonces are no way round the counter.
 *
 * A wrong answer with a nonce of ours, an unknown user and another user's credentials get 403 Forbidden, the same
 * for each. We answer 403 rather than a fresh 401 there because a phone with a wrong password that gets 401 re-sends
 * the same wrong answer at once, forever; 403 makes it stop and show an error, and gives a guesser nothing a wrong
 * password would not. 400 is only for a Digest answer that does not parse.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Peer } from '../sip/message.js';
import type { DigestCredentials } from '../sip/headers.js';
import type { RegisterRequest } from '../sip/register-request.js';
import { refusal, type Refusal, type RefusalReason } from '../sip/refusals.js';
import { addressOfRecord } from '../sip/uri.js';
import type { AccountRecord, Binding, Credentials, DigestAlgorithm } from '../domain/types.js';
import { computeHa1 } from '../sip/digest.js';
import { ephemeralPassword, parseEphemeral } from './ephemeral.js';
import { AuditTrail } from './audit.js';
import type { NonceUse, RegistrationSnapshot, Store } from '../store/types.js';
import { inNetworks, parseNetwork, parseNetworks, type Network } from './address-match.js';
import { DigestAuth, type AuthFailure } from './auth.js';
import { RegistrationCache } from './registration-cache.js';
import { applyRegister, contactHeaderValue, type BindingOutcome, type BindingRules } from './bindings.js';
import type { RegistrarConfig } from './config.js';
import { Nonces } from './nonce.js';

/** A refusal's name in ../sip/refusals.ts: metrics and logs label by it. */
export type RejectReason = RefusalReason;

export type RegisterOutcome =
  /** stale: the answer was right but its form could not be accepted (nonce expired, foreign, replayed...). */
  | { kind: 'challenged'; stale?: boolean; authFailure?: AuthFailureReason }
  | { kind: 'registered'; added: number; refreshed: number; removed: number }
  | { kind: 'rejected'; reason: RejectReason; authFailure?: AuthFailureReason };

/** Why an authentication failed, for the failure counter (a bounded set; never shown to the client). */
export type AuthFailureReason = AuthFailure | 'expired-credential';

export interface RegistrarReply {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  outcome: RegisterOutcome;
}

/** Option tags we implement (RFC 3261 8.2.2.3): Path (RFC 3327) and Outbound (RFC 5626) flow keying. */
const SUPPORTED_OPTIONS = new Set(['path', 'outbound']);
/** register() found the store's version moved on: decide again from a fresh read. */
const CONFLICT = Symbol('conflict');
/** Attempts of the optimistic commit before giving up with 500 (another REGISTER for the AOR kept winning). */
const COMMIT_ATTEMPTS = 4;

type Headers = Array<[string, string]>;

/** The reply for a refusal of the catalogue. */
export function refused(r: Refusal): RegistrarReply {
  return { status: r.status, reason: r.phrase, headers: r.headers, outcome: { kind: 'rejected', reason: r.why } };
}

const reject = (why: RejectReason, detail?: string, hdrs?: Headers): RegistrarReply =>
  refused(refusal(why, detail, hdrs));
// A temporary condition: Retry-After (RFC 3261 21.5.4) tells the phone to come back.
const storeDown = (): RegistrarReply => reject('store', undefined, [['Retry-After', '5']]);

/** RFC 7231 7.1.1.1 IMF-fixdate, as RFC 3261 20.17 wants for Date; formatted once per second, not per response. */
let dateSecond = -1;
let dateText = '';
function httpDate(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** An account's allowed networks, parsed once per record read (entries are validated on write; one that does not
 * parse here simply matches nothing). */
const allowedNetworks = new WeakMap<readonly string[], Network[]>();

function fromAllowedAddress(account: AccountRecord['account'], address: string): boolean {
  let networks = allowedNetworks.get(account.allowedAddresses);
  if (networks === undefined) {
    networks = account.allowedAddresses.map((a) => parseNetwork(a)).filter((n): n is Network => n !== null);
    allowedNetworks.set(account.allowedAddresses, networks);
  }
  return inNetworks(address, networks);
}

export class Registrar {
  /** The nonce keys in use; replaced when the store's key ring changes (a rotation). */
  readonly nonces: Nonces;
  /** This process among the registrar instances: recorded on bindings made over its connections. */
  readonly node: string;
  private readonly auth: DigestAuth;
  private readonly trail: AuditTrail;
  private readonly cache: RegistrationCache;
  private readonly trusted: Network[];
  private readonly domains: Set<string>;
  /** Connection id -> AORs with bindings that end with it (this instance's connections only). */
  private readonly flows = new Map<number, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly config: RegistrarConfig,
    private readonly logger: Logger,
  ) {
    this.nonces = new Nonces(config.nonceKeys, config.nonceLifetimeMs);
    this.node = config.node ?? randomBytes(6).toString('base64url');
    this.trail = new AuditTrail(store, logger);
    this.auth = new DigestAuth(this.nonces);
    this.cache = new RegistrationCache(config.cacheMs);
    this.trusted = parseNetworks(config.trustedNetworks);
    this.domains = new Set(config.domains.map((d) => d.toLowerCase()));
  }

  /**
   * An operator changed an account or lifted a lockout (null: addresses, or everything): stop trusting what this
   * process remembered of it (./registration-cache.ts).
   */
  forget(aor: string | null): void {
    if (aor === null) this.cache.clear();
    else this.cache.forget(aor);
  }

  /** null = send nothing (a locked source address is ignored). */
  async handleRegister(req: RegisterRequest, now: number): Promise<RegistrarReply | null> {
    const peer = req.source;
    try {
      return await this.handle(req, peer, now);
    } catch (err) {
      // A store that rejects (down, timed out) must never turn into a 200, nor crash the dispatcher.
      this.logger.error({ err, event: 'register-error', source: peer.address }, 'REGISTER could not be processed');
      return storeDown();
    }
  }

  private async handle(req: RegisterRequest, peer: Peer, now: number): Promise<RegistrarReply | null> {
    // Step 1: is the Request-URI's domain ours? (Its form was validated with the request.)
    if (!this.domains.has(req.requestUri.host.toLowerCase())) return reject('domain');

    // Step 2: Require (RFC 3261 8.2.2.3): 420 listing what we do not support.
    const unsupported = req.require.filter((t) => !SUPPORTED_OPTIONS.has(t.toLowerCase()));
    if (unsupported.length > 0) return reject('extension', undefined, [['Unsupported', unsupported.join(', ')]]);

    // Step 5: the To header names the AOR; it must be in a domain we serve (else 404).
    const domain = req.toUri.host.toLowerCase();
    const aor = addressOfRecord(req.toUri);
    if (aor === null || !this.domains.has(domain)) return reject('domain');

    const trustedPeer = inNetworks(peer.address, this.trusted);
    const authenticated = req.message.headers.has('authorization');
    if (!trustedPeer && this.cache.addressLocked(peer.address, now)) return null;
    // Decide from what the cache holds, when it holds the AOR; a commit that finds the store moved on (another
    // REGISTER, a password change, a disabled account) is decided again from a fresh read, credentials included.
    for (let attempt = 1; ; attempt++) {
      const cached = attempt === 1 ? this.cache.snapshot(aor, now) : undefined;
      if (cached !== undefined && !authenticated) {
        // The first REGISTER of a full registration: challenged without reading the store.
        const account = cached.record?.account;
        if (account !== undefined && account.authType === 'digest' && account.enabled) {
          return this.challenge(domain, this.algorithmsFor(domain, account), now, false);
        }
      }
      const snapshot = cached ?? (await this.store.loadRegistration(aor, peer.address, now));
      if (cached === undefined) this.cache.remember(aor, snapshot, now);
      const reply = await this.decide(req, peer, now, aor, domain, trustedPeer, snapshot);
      if (reply !== CONFLICT) return reply;
      this.cache.forget(aor);
      if (attempt >= COMMIT_ATTEMPTS) {
        this.logger.error({ event: 'commit-conflict', aor, attempts: attempt }, 'registration kept conflicting');
        return storeDown();
      }
    }
  }

  /** Everything after the read: lockouts, authentication, and the bindings (one commit attempt). */
  private async decide(
    req: RegisterRequest,
    peer: Peer,
    now: number,
    aor: string,
    domain: string,
    trustedPeer: boolean,
    snapshot: RegistrationSnapshot,
  ): Promise<RegistrarReply | null | typeof CONFLICT> {
    if (!trustedPeer && isLocked(snapshot.addressLock, now)) {
      this.cache.rememberLockedAddress(peer.address, snapshot.addressLock?.lockedUntil ?? now, now);
      this.logger.debug({ event: 'locked-address-ignored', source: peer.address, aor }, 'locked address ignored');
      return null;
    }

    const record = snapshot.record;
    const account = record?.account ?? null;
    // Unknown users are challenged with the domain's algorithms, like everybody else.
    const algorithms = this.algorithmsFor(domain, account);

    if (account !== null && account.authType === 'ip') {
      if (!account.enabled || !fromAllowedAddress(account, peer.address))
        return reject(account.enabled ? 'forbidden' : 'disabled');
      return this.register(req, peer, now, aor, domain, record as AccountRecord, snapshot, null, null);
    }
    if (account !== null && !account.enabled) return reject('disabled');

    // Step 3 (RFC 3261 22.4): authenticate. Credentials of other schemes are not an answer to our challenge; of
    // several Digest answers (one per realm a proxy on the way challenged for), ours is the one for our realm.
    // Step 4 (only its own AOR) is the auth ID check inside verify: another user's name fails like a wrong password.
    let creds: DigestCredentials | undefined;
    for (const c of req.credentials) {
      if (c.scheme.toLowerCase() !== 'digest') continue;
      if (creds === undefined || (creds.params.realm !== domain && c.params.realm === domain)) creds = c;
    }
    if (creds === undefined) return this.challenge(domain, algorithms, now, false);

    const tried = { username: creds.params.username ?? null, userAgent: req.userAgent };
    // Short-lived web credentials (./ephemeral.ts): the username carries their expiry; the password is derived.
    const ephemeral = ephemeralFor(record, creds.params.username, domain, algorithms);
    if (ephemeral !== null && ephemeral.expiresAt <= now) {
      // Expired: a failed authentication like any other.
      await this.countFailure(aor, peer, now, 'expired-credential', tried);
      return { ...reject('auth'), outcome: { kind: 'rejected', reason: 'auth', authFailure: 'expired-credential' } };
    }
    const result = this.auth.verify({
      params: creds.params,
      realm: domain,
      method: req.method,
      requestUriText: req.message.uri,
      requestUri: req.requestUri,
      body: req.body,
      authId: ephemeral?.username ?? account?.authId ?? null,
      credentials: ephemeral?.credentials ?? record?.credentials ?? null,
      algorithms,
      now,
    });
    switch (result.kind) {
      case 'malformed':
        return reject('invalid', result.detail);
      case 'rechallenge': {
        if (result.failure !== null)
          await this.countFailure(account === null ? null : aor, peer, now, result.failure, tried);
        const reply = this.challenge(domain, algorithms, now, result.stale);
        if (result.failure !== null) reply.outcome = { kind: 'challenged', authFailure: result.failure };
        return reply;
      }
      case 'previous-password':
        await this.store.recordStaleDevice(aor, peer.address, now, req.userAgent);
        this.logger.warn(
          { event: 'previous-password', aor, source: peer.address },
          'device answered with the password replaced recently; refused',
        );
        return reject('stale-password');
      case 'failed':
        await this.countFailure(account === null ? null : aor, peer, now, result.why, tried);
        return { ...reject('auth'), outcome: { kind: 'rejected', reason: 'auth', authFailure: result.why } };
      case 'ok':
        break;
    }

    // Contract: a locked extension gets 403, except from an address that holds one of its live bindings.
    if (isLocked(snapshot.extensionLock, now) && !snapshot.bindings.some((b) => b.source.address === peer.address)) {
      this.logger.info({ event: 'locked-extension-refused', aor, source: peer.address }, 'locked extension refused');
      return reject('locked');
    }

    // A digest account may also be pinned to addresses (hosted PBXs' "restrict to IP"). Checked only after a right
    // answer, so the restriction tells a guesser nothing.
    if (account !== null && account.allowedAddresses.length > 0 && !fromAllowedAddress(account, peer.address)) {
      return reject('forbidden');
    }

    const nonceUse: NonceUse = {
      nonce: result.nonce,
      nc: result.nc,
      ttlMs: Math.max(1000, result.nonceTtlMs),
    };
    // nextnonce is off by default: several phones (linphone's belle-sip) answer it without qop on their next request.
    const info = this.config.nextNonce ? `nextnonce="${this.auth.nextNonce(now)}", ${result.info}` : result.info;
    return this.register(
      req,
      peer,
      now,
      aor,
      domain,
      record as AccountRecord,
      snapshot,
      nonceUse,
      info,
      ephemeral?.expiresAt,
    );
  }

  /**
   * A connection closed (RFC 5626 flow failure): the bindings that cannot outlive it are removed at once. Those are
   * the WebSocket ones (a browser's contact is `.invalid`: unreachable but over that connection) and the RFC 5626
   * flows (reg-id). A plain TCP/TLS binding stays: such a phone opens a new connection when it is called or
   * refreshes, and an idle timeout must not unregister it.
   */
  async connectionClosed(connectionId: number): Promise<void> {
    const aors = this.flows.get(connectionId);
    if (aors === undefined) return;
    this.flows.delete(connectionId);
    for (const aor of aors) {
      try {
        await this.endFlows(aor, connectionId);
      } catch (err) {
        // The store is away: the bindings expire by themselves; lookups see them as flows of a closed connection.
        this.logger.warn({ err, event: 'flow-cleanup-failed', aor }, 'could not remove the bindings of a closed flow');
      }
    }
  }

  /** Whether a binding ends with connection `id` of this instance. */
  private endsWith(b: Binding, id: number): boolean {
    const s = b.source;
    return (
      s.connectionId === id &&
      s.node === this.node &&
      (s.transport === 'ws' || s.transport === 'wss' || b.regId !== null)
    );
  }

  private flowAors(id: number): Set<string> {
    let set = this.flows.get(id);
    if (set === undefined) this.flows.set(id, (set = new Set()));
    return set;
  }

  private async endFlows(aor: string, connectionId: number): Promise<void> {
    for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
      const now = Date.now();
      const snap = await this.store.loadRegistration(aor, '', now);
      const keep = snap.bindings.filter((b) => !this.endsWith(b, connectionId));
      if (keep.length === snap.bindings.length) return;
      const r = await this.store.commitRegistration({
        aor,
        expectedVersion: snap.version,
        bindings: keep,
        nonce: null,
        authenticated: false,
        now,
      });
      if (r === 'ok') {
        this.cache.forget(aor);
        this.logger.info(
          { event: 'flow-closed', aor, removed: snap.bindings.length - keep.length },
          'connection closed: its flows removed',
        );
        return;
      }
    }
  }

  /** The account's own challenge order, else its domain's, else the registrar's (contract: MD5 alone by default). */
  private algorithmsFor(domain: string, account: AccountRecord['account'] | null): readonly DigestAlgorithm[] {
    return account?.algorithms ?? this.config.domainAlgorithms[domain] ?? this.config.algorithms;
  }

  private challenge(
    realm: string,
    algorithms: readonly DigestAlgorithm[],
    now: number,
    stale: boolean,
  ): RegistrarReply {
    return {
      status: 401,
      reason: 'Unauthorized',
      headers: this.auth.challenge(realm, algorithms, now, stale),
      outcome: stale ? { kind: 'challenged', stale } : { kind: 'challenged' },
    };
  }

  /** Counts the failure (extension only when the account exists; address unless trusted) and logs lockouts. */
  private async countFailure(
    aor: string | null,
    peer: Peer,
    now: number,
    why: AuthFailureReason,
    tried: { username: string | null; userAgent: string | null },
  ): Promise<void> {
    if (aor !== null) this.cache.forget(aor); // its lockout state is about to change
    const countAddress = !inNetworks(peer.address, this.trusted);
    const outcome = await this.store.recordFailure({
      aor,
      address: peer.address,
      countAddress,
      now,
      policy: this.config.lockout,
    });
    // Never the answer, a hash or the Authorization value: who, what, when and from where.
    this.logger.info({ event: 'auth-failed', aor, source: peer.address, why }, 'authentication failed');
    if (outcome.extensionLockedNow && outcome.extension) {
      // Every instance enforces it at once, not when its cache runs out.
      this.store.announceChange(outcome.extension.aor).catch(() => {});
      void this.trail.record(
        'lockout.extension',
        outcome.extension.aor,
        now,
        {
          source: peer.address,
          failures: outcome.extension.failures,
          lockedUntil: outcome.extension.lockedUntil,
          username: tried.username,
          userAgent: tried.userAgent,
        },
        'registrar',
      );
      this.logger.warn(
        {
          event: 'lockout',
          kind: 'extension',
          aor: outcome.extension.aor,
          source: peer.address,
          failures: outcome.extension.failures,
          lockedUntil: outcome.extension.lockedUntil,
          at: now,
        },
        'extension locked',
      );
    }
    if (outcome.address !== null && outcome.address.lockedUntil !== null) {
      this.cache.rememberLockedAddress(outcome.address.address, outcome.address.lockedUntil, now);
    }
    if (outcome.addressLockedNow && outcome.address) {
      this.store.announceChange(null).catch(() => {});
      void this.trail.record(
        'lockout.address',
        outcome.address.address,
        now,
        {
          source: peer.address,
          aor,
          failures: outcome.address.failures,
          lockedUntil: outcome.address.lockedUntil,
          username: tried.username,
          userAgent: tried.userAgent,
        },
        'registrar',
      );
      this.logger.warn(
        {
          event: 'lockout',
          kind: 'address',
          address: outcome.address.address,
          aor,
          failures: outcome.address.failures,
          lockedUntil: outcome.address.lockedUntil,
          at: now,
        },
        'source address locked',
      );
    }
  }

  /** Steps 6-8: apply the contacts and commit, re-reading and re-applying when another REGISTER got in first. */
  private async register(
    req: RegisterRequest,
    peer: Peer,
    now: number,
    aor: string,
    domain: string,
    record: AccountRecord,
    snapshot: RegistrationSnapshot,
    nonce: NonceUse | null,
    authInfo: string | null,
    notAfter?: number,
  ): Promise<RegistrarReply | typeof CONFLICT> {
    const { contacts, path } = req;
    // RFC 5626 6: a flow through proxies needs an edge proxy that keeps it; that proxy's Path is the bottom one.
    if (flowRequested(req) && path.length > 0 && !/;\s*ob(?:\s*[;>=]|$)/i.test(path[path.length - 1] ?? ''))
      return reject('first-hop');
    const rules: BindingRules = {
      limits: this.config,
      maxContacts: record.account.maxContacts ?? this.config.maxContacts,
      policy: this.config.maxContactsPolicy,
      notAfter,
    };
    const request = {
      contacts,
      expiresHeader: req.expires,
      outbound: req.supportsOutbound,
      callId: req.callId,
      cseq: req.cseq.seq,
      path,
      source: {
        transport: peer.transport,
        address: peer.address,
        port: peer.port,
        connectionId: peer.connectionId ?? null,
        node: peer.connectionId === undefined ? null : this.node,
      },
      userAgent: req.userAgent,
      now,
    };

    const outcome: BindingOutcome = applyRegister(snapshot.bindings, request, rules);
    if (!outcome.ok) {
      switch (outcome.code) {
        case 'interval':
          return reject('interval', undefined, [['Min-Expires', String(outcome.minExpires)]]);
        case 'invalid':
          return reject('invalid', outcome.detail);
        case 'order': {
          const again = await this.sameRequestAgain(aor, snapshot, request, nonce);
          if (again !== null) return this.ok(again, path, flowRequested(req), authInfo, now);
          this.logger.info({ event: 'register-out-of-order', aor }, 'out of order');
          return reject('order');
        }
        case 'contacts':
          return reject('contacts');
      }
    }
    let result;
    try {
      result = await this.store.commitRegistration({
        aor,
        expectedVersion: snapshot.version,
        bindings: outcome.bindings,
        nonce,
        authenticated: true,
        now,
      });
    } catch (err) {
      this.logger.error({ err, event: 'store-error', aor }, 'could not store the registration');
      return storeDown();
    }
    if (result === 'conflict') return CONFLICT;
    // A (nonce, nc) used before, with a right answer: SIP.js re-sends its last Authorization on every refresh, and
    // a captured packet must not let anyone lock out its extension. Challenge afresh, count nothing.
    if (result === 'replay') return this.challenge(domain, this.algorithmsFor(domain, record.account), now, true);
    // Both adapters bump the version by one on a commit: the cache now holds what the store holds.
    this.cache.committed(aor, { ...snapshot, bindings: outcome.bindings, version: snapshot.version + 1 });
    if (peer.connectionId !== undefined && outcome.bindings.some((b) => this.endsWith(b, peer.connectionId!)))
      this.flowAors(peer.connectionId).add(aor);
    this.logChanges(aor, peer, outcome);
    return this.ok(outcome, path, flowRequested(req), authInfo, now);
  }

  /**
   * A REGISTER already applied that comes again outside its transaction (a retransmission that reached another
   * worker, or whose transaction state was evicted) gets the same answer instead of 'out of order' (RFC 3261 17.2.2
   * in spirit): its Call-ID and CSeq are on the bindings, and its (nonce, nc) was used already. Idempotent: nothing
   * changes. A new request that merely repeats a CSeq consumes its nonce-count and stays out of order.
   */
  private async sameRequestAgain(
    aor: string,
    snapshot: RegistrationSnapshot,
    request: { callId: string; cseq: number },
    nonce: NonceUse | null,
  ): Promise<(BindingOutcome & { ok: true }) | null> {
    const applied = snapshot.bindings.some((b) => b.callId === request.callId && b.cseq === request.cseq);
    if (!applied) return null;
    if (nonce !== null && (await this.store.useNonce(aor, nonce))) return null;
    return { ok: true, bindings: [...snapshot.bindings], added: 0, refreshed: 0, removed: 0, unchanged: true };
  }

  private logChanges(aor: string, peer: Peer, o: BindingOutcome & { ok: true }): void {
    if (o.added + o.removed > 0)
      this.logger.info(
        {
          event: 'bindings-changed',
          aor,
          source: peer.address,
          added: o.added,
          refreshed: o.refreshed,
          removed: o.removed,
        },
        'bindings changed',
      );
  }

  private ok(
    o: BindingOutcome & { ok: true },
    path: readonly string[],
    flow: boolean,
    authInfo: string | null,
    now: number,
  ): RegistrarReply {
    const hdrs: Headers = o.bindings.map((b): [string, string] => ['Contact', contactHeaderValue(b, now)]);
    hdrs.push(['Date', httpDate(now)]);
    // RFC 3327 5.3: the Path we stored goes back so the UA learns its route set.
    if (path.length > 0 && o.added + o.refreshed > 0) {
      for (const p of path) hdrs.push(['Path', p]);
      hdrs.push(['Supported', 'path']);
    }
    // RFC 5626 6: a registrar that honoured a flow (reg-id) of a UA supporting outbound says so with Require.
    if (flow) hdrs.push(['Require', 'outbound']);
    if (authInfo !== null) hdrs.push(['Authentication-Info', authInfo]);
    return {
      status: 200,
      reason: 'OK',
      headers: hdrs,
      outcome: { kind: 'registered', added: o.added, refreshed: o.refreshed, removed: o.removed },
    };
  }
}

/** The UA supports outbound (RFC 5626 4.2) and registered a flow (a contact with +sip.instance and reg-id). */
function flowRequested(req: RegisterRequest): boolean {
  const { contacts } = req;
  return (
    req.supportsOutbound &&
    Array.isArray(contacts) &&
    contacts.some((c) => c.params['reg-id'] !== undefined && c.params['+sip.instance'] !== undefined)
  );
}

function isLocked(lock: { lockedUntil: number | null } | null, now: number): boolean {
  return lock !== null && lock.lockedUntil !== null && lock.lockedUntil > now;
}

/**
 * The account's short-lived credentials named by `username`, when it is one (`<expiry>:<auth ID>` and the account
 * has a credential secret): the HA1s of the derived password, for the algorithms offered.
 */
function ephemeralFor(
  record: AccountRecord | null,
  username: string | undefined,
  realm: string,
  algorithms: readonly DigestAlgorithm[],
): { username: string; expiresAt: number; credentials: Credentials } | null {
  const secret = record?.credentialSecret;
  if (!secret || username === undefined || record === null) return null;
  const parsed = parseEphemeral(username);
  if (parsed === null || parsed.authId !== record.account.authId) return null;
  const password = ephemeralPassword(secret, username);
  const ha1: Partial<Record<DigestAlgorithm, string>> = {};
  for (const a of algorithms) ha1[a] = computeHa1(a, username, realm, password);
  return { username, expiresAt: parsed.expiresAt, credentials: { ha1, previousHa1: null, previousUntil: null } };
}
