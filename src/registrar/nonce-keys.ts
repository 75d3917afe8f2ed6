/**
 * Where the nonce secrets come from (contract: "the nonce secret is kept in the store unless one is configured").
 *
 * - Configured (`NONCE_SECRET`): that secret; `NONCE_SECRET_PREVIOUS` keeps the one it replaced verifying for one
 *   nonce lifetime after start, so a rotation by hand re-challenges no phone.
 * - Otherwise the store's key ring: created once (the first instance to ask wins) and shared by every instance and
 *   worker on the store, so a restart or a phone moving to another instance keeps its nonce good. With the embedded
 *   store the ring lives in the process: after a restart old nonces are foreign and get 401 stale=true.
 *
 * A rotation (POST /api/v1/nonce-keys/rotate) moves the current secret to previous, which verifies for one nonce
 * lifetime; other instances pick the new ring up within REFRESH_MS (until then, a nonce of the new secret reaching
 * them is re-challenged, never refused).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { NonceKeyRing } from '../domain/types.js';
import type { Store } from '../store/types.js';
import type { NonceKeys, Nonces } from './nonce.js';

const REFRESH_MS = 10_000;

export interface NonceSecretConfig {
  readonly secret: string | null;
  readonly previous: string | null;
  readonly lifetimeMs: number;
}

const newSecret = (): string => randomBytes(32).toString('base64url');

export function keysFromRing(ring: NonceKeyRing, lifetimeMs: number): NonceKeys {
  return {
    current: Buffer.from(ring.current, 'base64url'),
    previous: ring.previous === null ? null : Buffer.from(ring.previous, 'base64url'),
    previousUntil: ring.rotatedAt === null ? 0 : ring.rotatedAt + lifetimeMs,
  };
}

export class NonceKeyService {
  private timer: NodeJS.Timeout | null = null;
  private readonly users = new Set<Nonces>();

  constructor(
    private readonly store: Store,
    private readonly config: NonceSecretConfig,
    private readonly logger: Logger,
  ) {}

  get configured(): boolean {
    return this.config.secret !== null;
  }

  /** The keys to start with. */
  async load(now: number): Promise<NonceKeys> {
    const { secret, previous, lifetimeMs } = this.config;
    if (secret !== null) {
      return {
        current: Buffer.from(secret, 'utf8'),
        previous: previous === null ? null : Buffer.from(previous, 'utf8'),
        previousUntil: now + lifetimeMs,
      };
    }
    return keysFromRing(await this.store.nonceKeyRing(newSecret()), lifetimeMs);
  }

  /** Keeps `nonces` on the store's current ring (a rotation made by another instance). */
  follow(nonces: Nonces): void {
    this.users.add(nonces);
    if (this.configured || this.timer !== null) return;
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  /** A new current secret for every instance; the old one verifies for one nonce lifetime. */
  async rotate(now: number): Promise<{ rotatedAt: number }> {
    const ring = await this.store.rotateNonceKey(newSecret(), now);
    this.apply(ring);
    this.logger.warn({ event: 'nonce-key-rotated', at: now }, 'nonce secret rotated');
    return { rotatedAt: ring.rotatedAt ?? now };
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async refresh(): Promise<void> {
    try {
      this.apply(await this.store.nonceKeyRing(newSecret()));
    } catch (err) {
      // The store is away: keep the keys we have; the next refresh tries again.
      this.logger.debug({ err, event: 'nonce-keys-refresh-failed' }, 'could not refresh the nonce keys');
    }
  }

  private apply(ring: NonceKeyRing): void {
    const keys = keysFromRing(ring, this.config.lifetimeMs);
    for (const n of this.users) n.setKeys(keys);
  }
}
