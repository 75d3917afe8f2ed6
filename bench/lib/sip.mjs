/**
 * Minimal SIP client side for the load generator: build REGISTER requests, read the few response fields a
 * registering phone needs, and compute digest responses (RFC 2617 / RFC 7616 / RFC 8760, qop=auth).
 * String operations only: the generator must cost far less than the server it measures.
 */
import { createHash, randomBytes } from 'node:crypto';

/** @typedef {'MD5' | 'SHA-256' | 'SHA-512-256'} Algorithm */

/** @type {Record<Algorithm, string>} */
const HASH = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

/**
 * @param {Algorithm} alg
 * @param {string} s
 * @returns {string}
 */
export function digestHash(alg, s) {
  return createHash(HASH[alg]).update(s).digest('hex');
}

/**
 * @typedef {object} Challenge
 * @property {Algorithm} algorithm
 * @property {string} realm
 * @property {string} nonce
 * @property {string | null} opaque
 * @property {boolean} qopAuth  qop offered includes "auth"
 * @property {boolean} stale
 */

/**
 * Parses one WWW-Authenticate value; null when it is not a Digest challenge with an algorithm we compute.
 * @param {string} value
 * @returns {Challenge | null}
 */
export function parseChallenge(value) {
  const m = /^\s*Digest\s+/i.exec(value);
  if (!m) return null;
  const params = parseParams(value.slice(m[0].length));
  const algName = (params.get('algorithm') ?? 'MD5').toUpperCase();
  /** @type {Algorithm | null} */
  const algorithm = algName === 'MD5' || algName === 'SHA-256' || algName === 'SHA-512-256' ? algName : null;
  const nonce = params.get('nonce');
  if (algorithm === null || nonce === undefined) return null;
  const qop = params.get('qop');
  return {
    algorithm,
    realm: params.get('realm') ?? '',
    nonce,
    opaque: params.get('opaque') ?? null,
    qopAuth: qop === undefined ? false : qop.split(',').some((q) => q.trim().toLowerCase() === 'auth'),
    stale: (params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/**
 * auth-param list (RFC 7235 2.1): name=token or name="quoted", comma separated; names lower-cased.
 * @param {string} s
 * @returns {Map<string, string>}
 */
export function parseParams(s) {
  /** @type {Map<string, string>} */
  const out = new Map();
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    if (m[0] === '') break;
    out.set(m[1].toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return out;
}

/**
 * Picks the challenge to answer: the first in `prefer` order that was offered, else the server's first usable one.
 * @param {Challenge[]} offered
 * @param {Algorithm[] | null} prefer
 * @returns {Challenge | null}
 */
export function pickChallenge(offered, prefer) {
  if (prefer) {
    for (const alg of prefer) {
      const c = offered.find((o) => o.algorithm === alg);
      if (c) return c;
    }
    return null;
  }
  return offered[0] ?? null;
}

/**
 * @typedef {object} Credentials
 * @property {string} username
 * @property {string} password
 * @property {Map<string, string>} ha1  cache: `${alg}:${realm}` -> HA1 (a phone computes it once)
 */

/**
 * Authorization header value for a REGISTER (RFC 7616 3.4, qop=auth).
 * @param {Credentials} cred
 * @param {Challenge} ch
 * @param {string} uri  digest-uri: the Request-URI
 * @param {number} nc
 * @param {string} cnonce
 * @returns {string}
 */
export function authorization(cred, ch, uri, nc, cnonce) {
  const key = `${ch.algorithm}:${ch.realm}`;
  let ha1 = cred.ha1.get(key);
  if (ha1 === undefined) {
    ha1 = digestHash(ch.algorithm, `${cred.username}:${ch.realm}:${cred.password}`);
    cred.ha1.set(key, ha1);
  }
  const ha2 = digestHash(ch.algorithm, `REGISTER:${uri}`);
  const ncHex = nc.toString(16).padStart(8, '0');
  const response = ch.qopAuth
    ? digestHash(ch.algorithm, `${ha1}:${ch.nonce}:${ncHex}:${cnonce}:auth:${ha2}`)
    : digestHash(ch.algorithm, `${ha1}:${ch.nonce}:${ha2}`);
  let v =
    `Digest username="${cred.username}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", ` +
    `response="${response}", algorithm=${ch.algorithm}`;
  if (ch.qopAuth) v += `, qop=auth, nc=${ncHex}, cnonce="${cnonce}"`;
  if (ch.opaque !== null) v += `, opaque="${ch.opaque}"`;
  return v;
}

/** @returns {string} */
export function newCnonce() {
  return randomBytes(8).toString('hex');
}

/**
 * @typedef {object} RegisterParams
 * @property {'UDP' | 'TCP' | 'TLS'} viaTransport
 * @property {string} localHost   host for Via/Contact (IPv6 in brackets)
 * @property {number} localPort
 * @property {string} branch
 * @property {string} ruri        Request-URI, e.g. sip:bench.test
 * @property {string} user
 * @property {string} domain
 * @property {string} fromTag
 * @property {string} callId
 * @property {number} cseq
 * @property {number} expires
 * @property {string | null} authorization
 */

/**
 * @param {RegisterParams} p
 * @returns {string}
 */
export function buildRegister(p) {
  const tp = p.viaTransport === 'UDP' ? '' : `;transport=${p.viaTransport.toLowerCase()}`;
  return (
    `REGISTER ${p.ruri} SIP/2.0\r\n` +
    `Via: SIP/2.0/${p.viaTransport} ${p.localHost}:${p.localPort};branch=${p.branch}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:${p.user}@${p.domain}>;tag=${p.fromTag}\r\n` +
    `To: <sip:${p.user}@${p.domain}>\r\n` +
    `Call-ID: ${p.callId}\r\n` +
    `CSeq: ${p.cseq} REGISTER\r\n` +
    `Contact: <sip:${p.user}@${p.localHost}:${p.localPort}${tp}>\r\n` +
    (p.authorization !== null ? `Authorization: ${p.authorization}\r\n` : '') +
    `Expires: ${p.expires}\r\n` +
    'User-Agent: sipreg-bench\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

/**
 * @typedef {object} Response
 * @property {number} status
 * @property {string | null} branch
 * @property {string[]} wwwAuthenticate
 * @property {string | null} authenticationInfo
 */

const COMPACT = /** @type {Record<string, string>} */ ({ v: 'via' });

/**
 * Reads the fields the generator needs from one response; null for a request or garbage.
 * @param {string} text  one whole message (headers at least)
 * @returns {Response | null}
 */
export function parseResponse(text) {
  if (!text.startsWith('SIP/2.0 ')) return null;
  const status = Number(text.slice(8, 11));
  if (!Number.isInteger(status)) return null;
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  /** @type {Response} */
  const r = { status, branch: null, wwwAuthenticate: [], authenticationInfo: null };
  const lines = head.split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i];
    const c = l.indexOf(':');
    if (c < 0) continue;
    let name = l.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const value = l.slice(c + 1).trim();
    if (name === 'via') {
      if (r.branch === null) {
        const b = /;\s*branch=([^;,\s]+)/i.exec(value);
        r.branch = b ? b[1] : null;
      }
    } else if (name === 'www-authenticate') r.wwwAuthenticate.push(value);
    else if (name === 'authentication-info') r.authenticationInfo = value;
  }
  return r;
}

/**
 * Splits a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 18.3).
 * Keep-alive CRLFs between messages (RFC 5626 4.4.1) are skipped.
 */
export class StreamFramer {
  constructor() {
    /** @type {string} */
    this.buf = '';
  }

  /**
   * @param {Buffer} chunk
   * @returns {string[]} complete messages
   */
  push(chunk) {
    this.buf += chunk.toString('latin1');
    /** @type {string[]} */
    const out = [];
    for (;;) {
      while (this.buf.startsWith('\r\n')) this.buf = this.buf.slice(2);
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const m = /\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(this.buf.slice(0, end + 2));
      const len = m ? Number(m[1]) : 0;
      const total = end + 4 + len;
      if (this.buf.length < total) break;
      out.push(this.buf.slice(0, total));
      this.buf = this.buf.slice(total);
    }
    if (this.buf.length > 1 << 20) throw new Error('stream framing lost (1 MiB without a message end)');
    return out;
  }
}
