/**
 * Stateless digest nonces (RFC 7616 3.3 leaves the format to the server): base64url of an 8-byte issue time, a 4-byte
 * random instance id and a 4-byte counter (unique without drawing random bytes per nonce), and a 16-byte truncated
 * HMAC-SHA256 over both, keyed with the configured secret. Any instance holding the same
 * secret can tell a genuine nonce from a forged one and a fresh one from a stale one without shared state; replay of a
 * (nonce, nc) pair is the store's job (NonceUse).
 */
import * as crypto from 'node:crypto';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Node >= 20.12's one-shot hash; HMAC from it with precomputed pads costs a third of createHmac per nonce. */
type OneShot = (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;
const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

const TIME_BYTES = 8;
const RANDOM_BYTES = 8; // instance id + counter
const MAC_BYTES = 16;
const TOTAL_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{43}$/; // 32 bytes in unpadded base64url
/** Instances' clocks differ a little: a nonce from slightly in the future is still genuine. */
const FUTURE_SKEW_MS = 30_000;

export type NonceState = 'valid' | 'stale' | 'invalid';

/** The secrets nonces are signed with. */
export interface NonceKeys {
  /** Signs every new nonce. At least 16 bytes. */
  readonly current: Buffer;
  /** The secret before the last rotation: still verifies until previousUntil (ms since the epoch). */
  readonly previous: Buffer | null;
  readonly previousUntil: number;
}

/** HMAC-SHA256 (RFC 2104) with the key's pads computed once: scratch for K^ipad || message and K^opad || inner hash. */
class Mac {
  private readonly inner = Buffer.alloc(SHA256_BLOCK + TIME_BYTES + RANDOM_BYTES);
  private readonly outer = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES);

  constructor(readonly secret: Buffer) {
    if (secret.length < 16) throw new Error('nonce secret must be at least 16 bytes');
    const key = secret.length > SHA256_BLOCK ? crypto.createHash('sha256').update(secret).digest() : secret;
    for (let i = 0; i < SHA256_BLOCK; i++) {
      this.inner[i] = (key[i] ?? 0) ^ 0x36;
      this.outer[i] = (key[i] ?? 0) ^ 0x5c;
    }
  }

  /** HMAC-SHA256(secret, body); callers truncate it to MAC_BYTES. */
  of(body: Buffer): Buffer {
    if (oneShot === undefined) return createHmac('sha256', this.secret).update(body).digest();
    body.copy(this.inner, SHA256_BLOCK);
    oneShot('sha256', this.inner, 'buffer').copy(this.outer, SHA256_BLOCK);
    return oneShot('sha256', this.outer, 'buffer');
  }
}

export class Nonces {
  private readonly instance = randomBytes(4).readUInt32BE(0);
  private counter = randomBytes(4).readUInt32BE(0);
  private current!: Mac;
  private previous: Mac | null = null;
  private previousUntil = 0;

  constructor(
    keys: NonceKeys,
    private readonly lifetimeMs: number,
  ) {
    this.setKeys(keys);
  }

  /** Takes a new key ring (a rotation seen in the store); nonces already issued keep verifying as the ring says. */
  setKeys(keys: NonceKeys): void {
    if (this.current === undefined || !this.current.secret.equals(keys.current)) this.current = new Mac(keys.current);
    this.previous = keys.previous === null ? null : new Mac(keys.previous);
    this.previousUntil = keys.previousUntil;
  }

  issue(now: number): string {
    const raw = Buffer.allocUnsafe(TOTAL_BYTES);
    const t = Math.max(0, Math.floor(now));
    raw.writeUInt32BE(Math.floor(t / 0x1_0000_0000), 0);
    raw.writeUInt32BE(t >>> 0, 4);
    raw.writeUInt32BE(this.instance, TIME_BYTES);
    this.counter = (this.counter + 1) >>> 0;
    raw.writeUInt32BE(this.counter, TIME_BYTES + 4);
    this.current.of(raw.subarray(0, TIME_BYTES + RANDOM_BYTES)).copy(raw, TIME_BYTES + RANDOM_BYTES, 0, MAC_BYTES);
    return raw.toString('base64url');
  }

  /** Whether the nonce is ours and fresh, and its life left (for the replay record's TTL): one MAC check for both. */
  inspect(nonce: string, now: number): { state: NonceState; remainingMs: number } {
    const issuedAt = this.verifiedIssueTime(nonce, now);
    if (issuedAt === null || issuedAt > now + FUTURE_SKEW_MS) return { state: 'invalid', remainingMs: 0 };
    const remainingMs = Math.max(0, issuedAt + this.lifetimeMs - now);
    return { state: remainingMs === 0 ? 'stale' : 'valid', remainingMs };
  }

  check(nonce: string, now: number): NonceState {
    return this.inspect(nonce, now).state;
  }

  /** Life left; 0 for a stale or forged nonce. */
  remainingMs(nonce: string, now: number): number {
    return this.inspect(nonce, now).remainingMs;
  }

  private verifiedIssueTime(nonce: string, now: number): number | null {
    if (!NONCE_PATTERN.test(nonce)) return null;
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== TOTAL_BYTES) return null;
    const body = raw.subarray(0, TIME_BYTES + RANDOM_BYTES);
    const mac = raw.subarray(TIME_BYTES + RANDOM_BYTES);
    const signed =
      timingSafeEqual(mac, this.current.of(body).subarray(0, MAC_BYTES)) ||
      (this.previous !== null &&
        now < this.previousUntil &&
        timingSafeEqual(mac, this.previous.of(body).subarray(0, MAC_BYTES)));
    if (!signed) return null;
    const issued = raw.readUInt32BE(0) * 0x1_0000_0000 + raw.readUInt32BE(4);
    return issued > Number.MAX_SAFE_INTEGER ? null : issued;
  }
}

/** A key ring of one secret (tests, and a configured secret without a previous one). */
export function singleKey(secret: Buffer): NonceKeys {
  return { current: secret, previous: null, previousUntil: 0 };
}
