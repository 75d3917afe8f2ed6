/**
 * The bench account set: u<digits>@domain, index i -> username u00042, password bench-pass-00042 (16 characters,
 * over the 12-character minimum and never containing the username, so the server's password policy takes it).
 * The same scheme as ../shared/peer-bench/gen-users.sh with PW_PREFIX=bench-pass-, so sipp, Kamailio and sipreg
 * share one set.
 */
export const DEFAULT_PW_PREFIX = 'bench-pass-';

/** Digits of the account number: 5 (u00000..u99999), more past 100,000 accounts. @param {number} n accounts */
export function padWidthFor(n) {
  return Math.max(5, String(Math.max(0, n - 1)).length);
}

/** @param {number} i @param {number} [width] */
export function benchUser(i, width = 5) {
  return `u${String(i).padStart(width, '0')}`;
}

/** @param {number} i @param {number} [width] @param {string} [prefix] @param {string} [suffix] */
export function benchPassword(i, width = 5, prefix = DEFAULT_PW_PREFIX, suffix = '') {
  return `${prefix}${String(i).padStart(width, '0')}${suffix}`;
}
