/**
 * The registrar's domain: accounts and their credentials, bindings, lockouts and their policy, nonce keys. Every layer
 * that speaks of them (sip/ for the digest algorithms, registrar/, store/, admin/) imports them from here; nothing in
 * this module does I/O or knows SIP text.
 */

/** Digest algorithms (RFC 2617 MD5, RFC 7616/8760 SHA-256 and SHA-512-256): the one list every schema uses. */
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
  readonly staleDevice: {
    readonly address: string;
    readonly seenAt: number;
    readonly userAgent?: string | null;
  } | null;
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
  /** HMAC key of the account's short-lived credentials (registrar/ephemeral.ts); absent until first used. */
  readonly credentialSecret?: string | null;
}

export type AccountPatch = Partial<Pick<Account, 'enabled' | 'allowedAddresses' | 'maxContacts' | 'algorithms'>>;

/** SIP transports: RFC 3261 UDP, TCP, TLS; RFC 7118 WebSocket (ws) and secure WebSocket (wss). */
export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
export const TRANSPORT_NAMES: readonly TransportName[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

export interface BindingSource {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
  readonly connectionId: number | null;
  /**
   * The registrar instance (process) that holds the connection, so a connection id is unambiguous across instances;
   * null over UDP. RFC 5626 flows and WebSocket bindings end with their connection.
   */
  readonly node: string | null;
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

export interface ExtensionLockout {
  readonly aor: string;
  readonly failures: number;
  /** null while not locked; Number.MAX_SAFE_INTEGER when locked permanently. */
  readonly lockedUntil: number | null;
  readonly lastAddress: string | null;
  /** Lockouts within the escalation window (a day by default), for lengthening repeated locks. */
  readonly lockouts: number;
  /** First and last failure of the current count; null when none. */
  readonly firstFailureAt?: number | null;
  readonly lastFailureAt?: number | null;
  /** The latest distinct source addresses of the failures, newest first. */
  readonly sources?: readonly string[];
}

export interface AddressLockout {
  readonly address: string;
  readonly failures: number;
  readonly lockedUntil: number | null;
  readonly lockouts: number;
  readonly firstFailureAt?: number | null;
  readonly lastFailureAt?: number | null;
  /** The latest distinct AORs tried from the address, newest first. */
  readonly aors?: readonly string[];
}

export interface LockoutPolicy {
  readonly extension: { readonly threshold: number; readonly lockMs: number };
  readonly address: { readonly threshold: number; readonly windowMs: number; readonly lockMs: number };
  /** Each further lockout within windowMs multiplies the lock by factor; after `permanentAfter` lockouts it is permanent (0 = never). */
  readonly escalation: { readonly windowMs: number; readonly factor: number; readonly permanentAfter: number };
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

export type AuditValue = string | number | boolean | null | readonly string[];

/** One entry of the audit trail: an operator's action (API, CLI, console) or a lockout the registrar decided. */
export interface AuditEntry {
  /** Store-assigned, newest greatest; the paging cursor. */
  readonly id: string;
  readonly at: number;
  /** Who: `api`, `cli`, `console:<session label>`, or `registrar`. Never a token. */
  readonly actor: string;
  /** What, e.g. `account.create`, `lockout.lift.extension`, `lockout.extension`. */
  readonly action: string;
  /** The AOR or address acted on; `*` for everything. */
  readonly target: string;
  readonly detail: Readonly<Record<string, AuditValue>>;
}
