/**
 * A digest client written from RFC 2617 3.2.2 and RFC 7616 3.4, on purpose independent of src/sip/digest.ts, so the
 * tests check the server's arithmetic against a second implementation. Test code only.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string | null;
  /** As sent, e.g. `SHA-256`, `MD5`, `MD5-sess`; `MD5` when absent (RFC 2617 3.2.1). */
  readonly algorithm: string;
  readonly qop: readonly string[];
  readonly stale: boolean;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `key=value` / `key="quoted"` lists (RFC 7235 auth-param). */
export function parseAuthParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0] === '') break;
    const key = (m[1] ?? '').toLowerCase();
    out[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    if (re.lastIndex >= text.length) break;
  }
  return out;
}

export function parseChallenge(value: string): Challenge {
  const m = /^\s*Digest\s+([\s\S]*)$/i.exec(value);
  if (!m) throw new Error(`not a Digest challenge: ${value}`);
  const params = parseAuthParams(m[1] ?? '');
  if (params.realm === undefined || params.nonce === undefined)
    throw new Error(`challenge without realm/nonce: ${value}`);
  return {
    realm: params.realm,
    nonce: params.nonce,
    opaque: params.opaque ?? null,
    algorithm: params.algorithm ?? 'MD5',
    qop: params.qop ? params.qop.split(',').map((q) => q.trim().toLowerCase()) : [],
    stale: (params.stale ?? '').toLowerCase() === 'true',
    params,
  };
}

const HASHES: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

function h(algorithm: string, data: string | Buffer): string {
  const base = algorithm.replace(/-sess$/i, '').toUpperCase();
  const name = HASHES[base];
  if (!name) throw new Error(`unknown algorithm ${algorithm}`);
  return createHash(name).update(data).digest('hex');
}

export function ha1Of(algorithm: string, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

export interface AnswerOptions {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  readonly body?: Buffer;
  /** Default: `auth` when offered, else none (RFC 2069 compatibility). */
  readonly qop?: 'auth' | 'auth-int' | null;
  readonly nc?: number;
  readonly cnonce?: string;
  /** Overrides, for tests of broken clients. */
  readonly realm?: string;
  readonly algorithm?: string;
  readonly nonce?: string;
  readonly omit?: readonly string[];
}

/** The Authorization header value answering `challenge` (RFC 2617 3.2.2, RFC 7616 3.4). */
export function answer(challenge: Challenge, o: AnswerOptions): string {
  const realm = o.realm ?? challenge.realm;
  const algorithm = o.algorithm ?? challenge.algorithm;
  const nonce = o.nonce ?? challenge.nonce;
  const qop = o.qop === undefined ? (challenge.qop.includes('auth') ? 'auth' : null) : o.qop;
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  let ha1 = ha1Of(algorithm, o.username, realm, o.password);
  if (/-sess$/i.test(algorithm)) ha1 = h(algorithm, `${ha1}:${nonce}:${cnonce}`);
  const a2 =
    qop === 'auth-int' ? `${o.method}:${o.uri}:${h(algorithm, o.body ?? Buffer.alloc(0))}` : `${o.method}:${o.uri}`;
  const ha2 = h(algorithm, a2);
  const response = qop
    ? h(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`)
    : h(algorithm, `${ha1}:${nonce}:${ha2}`);
  const parts: Array<[string, string, boolean]> = [
    ['username', o.username, true],
    ['realm', realm, true],
    ['nonce', nonce, true],
    ['uri', o.uri, true],
    ['response', response, true],
    ['algorithm', algorithm, false],
  ];
  if (challenge.opaque !== null) parts.push(['opaque', challenge.opaque, true]);
  if (qop) parts.push(['qop', qop, false], ['nc', nc, false], ['cnonce', cnonce, true]);
  const omit = new Set(o.omit ?? []);
  return (
    'Digest ' +
    parts
      .filter(([k]) => !omit.has(k))
      .map(([k, v, quoted]) => (quoted ? `${k}="${v.replace(/(["\\])/g, '\\$1')}"` : `${k}=${v}`))
      .join(', ')
  );
}
