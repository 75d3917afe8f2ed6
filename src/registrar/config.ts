/** What the registrar core needs to know about its deployment; the loader (src/config) fills it from file and env. */
import type { DigestAlgorithm, LockoutPolicy } from '../domain/types.js';
import type { NonceKeys } from './nonce.js';

export interface RegistrarConfig {
  /** Domains served; the first is the default domain and the realm of challenges for it. */
  domains: string[];
  /** Challenge order (RFC 7616 3.7: one WWW-Authenticate per algorithm, preferred first). */
  algorithms: readonly DigestAlgorithm[];
  /** Per-domain challenge order, over `algorithms`; an account's own order wins over both. */
  domainAlgorithms: Readonly<Record<string, readonly DigestAlgorithm[]>>;
  /** Put nextnonce in Authentication-Info. */
  nextNonce: boolean;
  /** HMAC keys of the stateless nonces; the same on every instance sharing a store (./nonce-keys.ts). */
  nonceKeys: NonceKeys;
  nonceLifetimeMs: number;
  /** Seconds (RFC 3261 10.3 step 7, 20.23). */
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  /** Live bindings per AOR unless the account says otherwise. */
  maxContacts: number;
  maxContactsPolicy: 'reject' | 'replace-oldest';
  lockout: LockoutPolicy;
  /** IPs or CIDRs never locked by address (an office NAT, the SBC in front). */
  trustedNetworks: string[];
  /** How long an answer computed with the previous password is recognised after a change. */
  passwordGraceMs: number;
  /** Value of the Server header, when set. */
  serverName?: string;
  /** This instance's name on the bindings it holds connections for; default a random one per process. */
  node?: string;
  /** How long what was read for an AOR (and a seen address lockout) is trusted (./registration-cache.ts); 0: always read. */
  cacheMs: number;
}

const MINUTE = 60_000;

export const DEFAULT_LOCKOUT_POLICY: LockoutPolicy = {
  extension: { threshold: 5, lockMs: 15 * MINUTE },
  address: { threshold: 20, windowMs: 10 * MINUTE, lockMs: 15 * MINUTE },
  escalation: { windowMs: 24 * 60 * MINUTE, factor: 2, permanentAfter: 0 },
};

export const DEFAULT_REGISTRAR_CONFIG: Omit<RegistrarConfig, 'nonceKeys'> = {
  domains: ['localhost'],
  algorithms: ['MD5'],
  domainAlgorithms: {},
  nextNonce: false,
  nonceLifetimeMs: 5 * MINUTE,
  minExpires: 60,
  maxExpires: 7200,
  defaultExpires: 3600,
  maxContacts: 10,
  maxContactsPolicy: 'reject',
  lockout: DEFAULT_LOCKOUT_POLICY,
  trustedNetworks: [],
  passwordGraceMs: 24 * 60 * MINUTE,
  cacheMs: 5_000,
};
