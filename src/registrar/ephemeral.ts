/**
 * Short-lived digest credentials for web apps (the TURN REST pattern, as Kamailio's auth_ephemeral does it), so a
 * browser softphone registers without ever holding the account's password:
 *
 *   username = "<expiry, Unix seconds>:<auth ID>"
 *   password = base64(HMAC-SHA1(account's credential secret, username))
 *
 * A web backend that holds the secret mints them itself with those two lines; sipreg mints them too
 * (POST /api/v1/accounts/{aor}/credentials). JsSIP and SIP.js answer them with plain Digest. Pure.
 */
import { createHmac, randomBytes } from 'node:crypto';

const EPHEMERAL_RE = /^([0-9]{1,12}):(.+)$/;

export function ephemeralUsername(expiresAtMs: number, authId: string): string {
  return `${Math.floor(expiresAtMs / 1000)}:${authId}`;
}

export function ephemeralPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/** The expiry (ms) and auth ID of a username of that form; null for any other username. */
export function parseEphemeral(username: string): { expiresAt: number; authId: string } | null {
  const m = EPHEMERAL_RE.exec(username);
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  return { expiresAt: Number(m[1]) * 1000, authId: m[2] };
}

export function newCredentialSecret(): string {
  return randomBytes(32).toString('base64url');
}
