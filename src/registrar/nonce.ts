/**
 * Stateless digest nonces (RFC 7616 3.3 leaves the format to the server): base64url of an 8-byte issue time, a 4-byte
 * random instance id and a 4-byte counter (unique without drawing random bytes per nonce), and a 16-byte truncated
 * HMAC-SHA256 over both, keyed with the configured secret. Any instance holding the same
 * secret can tell a genuine nonce from a forged one and a fresh one from a stale one without shared state; replay of a
 * (nonce, nc) pair is the store's job (NonceUse).
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const TIME_BYTES = 8;
const RANDOM_BYTES = 8; // instance id + counter
const MAC_BYTES = 16;
const TOTAL_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes in unpadded base64url
/** Instances' clocks differ a little: a nonce from slightly in the future is still genuine. */
const FUTURE_SKEW_MS = 30_000;

export type NonceState = 'valid' | 'stale' | 'invalid';

export class Nonces {
  private readonly instance = randomBytes(4).readUInt32BE(0);
  private counter = randomBytes(4).readUInt32BE(0);
  private readonly key: KeyObject;
  /** The last nonce checked and its issue time: verify and the replay TTL both ask about the same nonce. */
  private lastNonce = '';
  private lastIssuedAt: number | null = null;

  constructor(
    secret: Buffer,
    private readonly lifetimeMs: number,
  ) {
    if (secret.length < 16) throw new Error('nonce secret must be at least 16 bytes');
    this.key = createSecretKey(secret);
  }

  issue(now: number): string {
    const body = Buffer.alloc(TIME_BYTES + RANDOM_BYTES);
    body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 0);
    body.writeUInt32BE(this.instance, TIME_BYTES);
    this.counter = (this.counter + 1) >>> 0;
    body.writeUInt32BE(this.counter, TIME_BYTES + 4);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  check(nonce: string, now: number): NonceState {
    const issuedAt = this.issuedAt(nonce);
    if (issuedAt === null || issuedAt > now + FUTURE_SKEW_MS) return 'invalid';
    return now - issuedAt >= this.lifetimeMs ? 'stale' : 'valid';
  }

  /** Life left, for the replay record's TTL; 0 for a stale or forged nonce. */
  remainingMs(nonce: string, now: number): number {
    const issuedAt = this.issuedAt(nonce);
    if (issuedAt === null) return 0;
    return Math.max(0, issuedAt + this.lifetimeMs - now);
  }

  /** The issue time of a genuine nonce, else null. */
  private issuedAt(nonce: string): number | null {
    if (nonce === this.lastNonce) return this.lastIssuedAt;
    const issued = this.verifiedIssueTime(nonce);
    this.lastNonce = nonce;
    this.lastIssuedAt = issued;
    return issued;
  }

  private verifiedIssueTime(nonce: string): number | null {
    if (!NONCE_PATTERN.test(nonce)) return null;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== TOTAL_BYTES) return null;
    const body = raw.subarray(0, TIME_BYTES + RANDOM_BYTES);
    if (!timingSafeEqual(raw.subarray(TIME_BYTES + RANDOM_BYTES), this.mac(body))) return null;
    const issued = raw.readBigUInt64BE(0);
    return issued > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(issued);
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC_BYTES);
  }
}
