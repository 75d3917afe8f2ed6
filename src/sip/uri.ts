/**
 * SIP and SIPS URIs (RFC 3261 19.1). Our own parser: drachtio-sip's `parseUri` cannot be fixed from outside (it needs
 * a dot in every host name, accepts an empty host, gives NaN for a missing port and cuts parameter values at `=`), see
 * docs/parser.md. Nothing here throws on network input.
 */
import { isIPv6 } from 'node:net';

export interface SipUri {
  scheme: 'sip' | 'sips';
  user: string | null;
  password: string | null;
  host: string;
  port: number | null;
  params: Record<string, string | null>;
  headers: Record<string, string>;
}

// RFC 3261 25.1: user = 1*( unreserved / escaped / user-unreserved ), password and the parameter/header characters.
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASSWORD_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const PARAM_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const HNAME_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})+$/;
const HVALUE_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/?:+$]|%[0-9A-Fa-f]{2})*$/;
// hostname (RFC 3261 25.1, underscores tolerated as many deployments use them) or IPv4address.
const HOSTNAME_RE =
  /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const PORT_RE = /^[0-9]{1,5}$/;

/** Parses a sip: or sips: URI; null for anything else, including other schemes. */
export function parseSipUri(text: string): SipUri | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 8192) return null;
  const colon = text.indexOf(':');
  if (colon < 3) return null;
  const scheme = text.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return null;
  let rest = text.slice(colon + 1);

  // '@' never appears unescaped after the userinfo (params, headers and hosts cannot hold it), so the first one ends it.
  let user: string | null = null;
  let password: string | null = null;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    user = pc === -1 ? userinfo : userinfo.slice(0, pc);
    password = pc === -1 ? null : userinfo.slice(pc + 1);
    if (!USER_RE.test(user)) return null;
    if (password !== null && !PASSWORD_RE.test(password)) return null;
  }

  let headersText: string | null = null;
  const q = rest.indexOf('?');
  if (q !== -1) {
    headersText = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let paramsText: string | null = null;
  const semi = rest.indexOf(';');
  if (semi !== -1) {
    paramsText = rest.slice(semi + 1);
    rest = rest.slice(0, semi);
  }

  // hostport
  let host: string;
  let portText: string | null = null;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) return null;
    host = rest.slice(1, close);
    if (!isIPv6(host)) return null;
    const after = rest.slice(close + 1);
    if (after.length > 0) {
      if (after[0] !== ':') return null;
      portText = after.slice(1);
    }
  } else {
    const pc = rest.indexOf(':');
    host = pc === -1 ? rest : rest.slice(0, pc);
    portText = pc === -1 ? null : rest.slice(pc + 1);
    if (!HOSTNAME_RE.test(host)) return null;
  }
  let port: number | null = null;
  if (portText !== null) {
    if (!PORT_RE.test(portText)) return null;
    port = Number(portText);
    if (port > 65535) return null;
  }

  const params: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  if (paramsText !== null) {
    for (const p of paramsText.split(';')) {
      const eq = p.indexOf('=');
      const name = eq === -1 ? p : p.slice(0, eq);
      const value = eq === -1 ? null : p.slice(eq + 1);
      if (!PARAM_RE.test(name)) return null;
      if (value !== null && !PARAM_RE.test(value)) return null;
      params[name.toLowerCase()] = value;
    }
  }
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  if (headersText !== null) {
    for (const h of headersText.split('&')) {
      const eq = h.indexOf('=');
      if (eq === -1) return null;
      const name = h.slice(0, eq);
      const value = h.slice(eq + 1);
      if (!HNAME_RE.test(name) || !HVALUE_RE.test(value)) return null;
      headers[name] = value;
    }
  }
  return { scheme, user, password, host, port, params, headers };
}

/** Decodes %HH escapes byte-wise; never throws (decodeURIComponent does on bad UTF-8). */
export function unescapeUriPart(s: string, encoding: 'utf8' | 'latin1' = 'utf8'): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString(encoding);
}

// RFC 3261 19.1.4: these parameters must match when present in either URI, so they are part of the identity.
const SIGNIFICANT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'] as const;

/**
 * A string equal for two URIs that RFC 3261 19.1.4 calls equivalent (as far as one key can express it): scheme,
 * user and password case-sensitive after unescaping, host case-insensitive, port as given (no port != 5060), and the
 * parameters that must match when present. Other parameters and headers are left out.
 */
export function uriComparisonKey(uri: SipUri): string {
  const sig: string[] = [];
  for (const name of SIGNIFICANT_PARAMS) {
    const v = uri.params[name];
    if (v !== undefined) sig.push(`${name}=${v === null ? '' : unescapeUriPart(v, 'latin1').toLowerCase()}`);
  }
  return JSON.stringify([
    uri.scheme,
    uri.user === null ? null : unescapeUriPart(uri.user, 'latin1'),
    uri.password === null ? null : unescapeUriPart(uri.password, 'latin1'),
    uri.host.toLowerCase(),
    uri.port,
    sig,
  ]);
}

/** `user@host` (user unescaped, host lower-cased) for a To/From URI; null when the URI has no user part. */
export function addressOfRecord(uri: SipUri): string | null {
  if (uri.user === null || uri.user.length === 0) return null;
  const host = uri.host.toLowerCase();
  return `${unescapeUriPart(uri.user)}@${host.includes(':') ? `[${host}]` : host}`;
}
