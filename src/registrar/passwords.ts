/**
 * SIP password generation and the weak-password policy. Pure apart from the random source.
 *
 * Generated passwords are typed by people into phone web UIs and keypads, so they use letters and digits only and leave
 * out the characters that look alike in common fonts (0 O o 1 l I).
 */
import { randomBytes } from 'node:crypto';

export const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';

export interface PasswordPolicy {
  readonly minLength: number;
  /** Refuse a password that contains the username (the extension) or the auth ID. */
  readonly forbidUsername: boolean;
}

/** Passwords longer than this are refused: phones store a bounded field, and HA1 inputs should stay small. */
export const MAX_PASSWORD_LENGTH = 128;

/** Identifiers shorter than this are not looked for inside a password (a one-digit extension would forbid every digit). */
const MIN_FORBIDDEN_LENGTH = 3;

/**
 * A password of `length` characters drawn uniformly from PASSWORD_ALPHABET. Bytes at or above the largest multiple of
 * the alphabet size are rejected and redrawn, so no character is more likely than another (no modulo bias).
 */
export function generatePassword(length = 24): string {
  if (!Number.isInteger(length) || length < 1 || length > MAX_PASSWORD_LENGTH) {
    throw new RangeError(`password length must be an integer in 1..${MAX_PASSWORD_LENGTH}`);
  }
  const size = PASSWORD_ALPHABET.length;
  const limit = 256 - (256 % size);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= limit) continue;
      out += PASSWORD_ALPHABET[byte % size];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The reason `password` is refused under `policy`, or null when it is acceptable. */
export function checkPassword(
  password: string,
  policy: PasswordPolicy,
  username: string,
  authId: string,
): string | null {
  if (password.length < policy.minLength) return `password is too short (at least ${policy.minLength} characters)`;
  if (password.length > MAX_PASSWORD_LENGTH) return `password is too long (at most ${MAX_PASSWORD_LENGTH} characters)`;
  // Spaces and control characters are almost always a copy-paste accident, and many phones cannot enter them.
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(password)) return 'password must not contain spaces or control characters';
  if (policy.forbidUsername) {
    const lower = password.toLowerCase();
    for (const [what, value] of [
      ['username', username],
      ['auth ID', authId],
    ] as const) {
      if (value.length >= MIN_FORBIDDEN_LENGTH && lower.includes(value.toLowerCase())) {
        return `password must not contain the ${what}`;
      }
    }
  }
  return null;
}
