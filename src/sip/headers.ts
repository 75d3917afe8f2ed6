/**
 * Typed accessors for the header values the registrar reads, parsed on demand. None of them throws: malformed input
 * gives null (or [] for lists). Name-addr values go through drachtio-sip's parser (wrapped: every call in try/catch,
 * the whole value must be consumed, and the fixes listed in docs/parser.md applied); Authorization is scanned here
 * in one pass with drachtio's grammar and the same fixes (the profile showed the two passes); Via, CSeq and the
 * numeric forms are parsed here because drachtio's versions cannot be fixed from outside.
 */
import { createRequire } from 'node:module';
import { isTokenChar } from './lexical.js';

// ---------------------------------------------------------------------------------------------------------------
// drachtio-sip (CommonJS, untyped): loaded once and narrowed from unknown.

interface Cursor {
  s: string;
  i: number;
}
type DrachtioHeaderParser = (d: Cursor, prev?: unknown) => unknown;

function loadHeaderParser(name: string): DrachtioHeaderParser {
  const mod: unknown = createRequire(import.meta.url)('drachtio-sip/lib/parser.js');
  if (typeof mod === 'object' && mod !== null && 'getParser' in mod && typeof mod.getParser === 'function') {
    const p: unknown = (mod.getParser as (n: string) => unknown)(name);
    if (typeof p === 'function') return p as DrachtioHeaderParser;
  }
  throw new Error(`drachtio-sip: no parser for ${name}`);
}

const drachtioAor = loadHeaderParser('to'); // parseAOR: [display-name] <uri> / addr-spec, then ;params

/** Runs a drachtio parser on the whole of `s`; undefined when it throws or leaves input unconsumed. */
function runDrachtio(parser: DrachtioHeaderParser, s: string): unknown {
  const d: Cursor = { s, i: 0 };
  let r: unknown;
  try {
    r = parser(d);
  } catch {
    return undefined; // drachtio throws TypeError on several malformed inputs (docs/parser.md, fix 1)
  }
  // drachtio never checks that it reached the end of the value: trailing garbage passes (fix 2).
  if (s.slice(d.i).trim().length !== 0) return undefined;
  return r;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared lexical helpers (RFC 3261 25.1)

/**
 * Splits a header value on commas that are outside quoted strings and <...>, as RFC 3261 7.3.1 allows for list
 * headers. Empty elements are kept (as '') so the caller can reject them.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c)
        i++; // quoted-pair
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c) inAngle = true;
    else if (c === 0x3e) inAngle = false;
    else if (c === 0x2c && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out;
}

/** Removes the quotes of a quoted-string and resolves its quoted-pairs; a token is returned as is. */
export function unquote(s: string): string {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return s;
  return s.slice(1, -1).replace(/\\([\s\S])/g, '$1');
}

// ---------------------------------------------------------------------------------------------------------------
// Via (RFC 3261 20.42, 25.1)

export interface Via {
  transport: string;
  /** sent-by host; an IPv6 reference without its brackets. */
  host: string;
  port: number | null;
  params: Record<string, string | null>;
  /** The via-parm as received. */
  text: string;
}

// sent-protocol LWS sent-by; SLASH and COLON may carry whitespace (SWS). IPv6 references in brackets.
const VIA_HEAD_RE =
  /^([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._]+)(?:\s*:\s*([0-9]{1,5}))?\s*/;
// via-params: token [= token / host (IPv4, IPv6 in received=, with or without brackets) / quoted-string]
const PARAM_RE = /\s*;\s*([A-Za-z0-9\-.!%*_+`'~]+)(?:\s*=\s*([A-Za-z0-9\-.!%*_+`'~:[\]]+|"(?:[^"\\]|\\[\s\S])*"))?\s*/y;

/** Parses `;name=value` parameters from `s` at `from` to the end; null when anything is left over. */
function parseParamList(s: string, from: number): Record<string, string | null> | null {
  const params: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  let i = from;
  while (i < s.length) {
    PARAM_RE.lastIndex = i;
    const m = PARAM_RE.exec(s);
    if (m === null || m[1] === undefined) return null;
    params[m[1].toLowerCase()] = m[2] ?? null;
    i = PARAM_RE.lastIndex;
  }
  return params;
}

function parseVia(text: string): Via | null {
  const m = VIA_HEAD_RE.exec(text);
  if (m === null) return null;
  const [, name, , transport, hostText, portText] = m;
  if (name === undefined || transport === undefined || hostText === undefined) return null;
  if (name.toUpperCase() !== 'SIP') return null;
  let port: number | null = null;
  if (portText !== undefined) {
    port = Number(portText);
    if (port > 65535) return null;
  }
  const params = parseParamList(text, m[0].length);
  if (params === null) return null;
  // An empty branch (`branch=` with nothing) or a branch given twice is a broken Via, not a missing one.
  if ('branch' in params && (params.branch === null || params.branch === '')) return null;
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  return { transport: transport.toUpperCase(), host, port, params, text };
}

/** Every via-parm of every Via value, top first; null when any of them is malformed or there is none. */
export function parseVias(values: readonly string[]): Via[] | null {
  const out: Via[] = [];
  for (const value of values) {
    for (const part of splitList(value)) {
      if (part.length === 0) return null;
      const via = parseVia(part);
      if (via === null) return null;
      out.push(via);
    }
  }
  return out.length === 0 ? null : out;
}

/** The protocol version of a via-parm's text, e.g. '2.0'. */
export function viaVersion(via: Via): string | null {
  const m = /^[^/]*\/\s*([^/\s]+)\s*\//.exec(via.text);
  return m?.[1] ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// name-addr / addr-spec (RFC 3261 20.10, 20.20, 20.39, 25.1)

export interface NameAddr {
  /** Unquoted display name; null when absent. */
  displayName: string | null;
  uri: string;
  /** Header parameters; names lower-cased, values as received (quoted values keep their quotes). */
  params: Record<string, string | null>;
}

const SCHEME_URI_RE = /^[A-Za-z][A-Za-z0-9+\-.]*:\S+$/;

/** To, From, or one Contact / Route element. */
export function parseNameAddr(value: string): NameAddr | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  // Refuse starts drachtio cannot match at offset 0: its unanchored regexes would then scan the whole value (O(n^2)).
  if (v.length === 0 || v.length > 8192 || v[0] === ';' || v[0] === ',' || v[0] === '>') return null;
  const r = runDrachtio(drachtioAor, v);
  if (!isRecord(r) || typeof r.uri !== 'string' || !isRecord(r.params)) return null;
  const uri = r.uri;
  const rawName = typeof r.name === 'string' ? r.name : undefined;
  // drachtio accepts `< sip:a@b >` and keeps the spaces in the URI; RFC 3261 LAQUOT/RAQUOT allow none inside (fix 3).
  if (!SCHEME_URI_RE.test(uri)) return null;
  const nameAddrForm = rawName !== undefined || v[0] === '<';
  // An addr-spec holding ',', '?' or ';' must be in <> (RFC 3261 20.10): regbadct.
  if (!nameAddrForm && /[?,]/.test(uri)) return null;
  const params: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  for (const [k, val] of Object.entries(r.params)) {
    if (val !== undefined && typeof val !== 'string') return null;
    params[k] = val ?? null;
  }
  const displayName = rawName === undefined ? null : unquote(rawName);
  return { displayName, uri, params };
}

// ---------------------------------------------------------------------------------------------------------------
// Contact (RFC 3261 20.10)

export interface ContactEntry extends NameAddr {
  expires: number | null;
  q: number | null;
  /** The header parameters except expires and q, as `;name=value...`, to echo back in a 200. */
  paramsText: string;
}

const QVALUE_RE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/** All Contact values (each may be a comma-separated list); '*' for the wildcard; null when any entry is malformed. */
export function parseContacts(values: readonly string[]): ContactEntry[] | '*' | null {
  const out: ContactEntry[] = [];
  let star = false;
  for (const value of values) {
    for (const part of splitList(value)) {
      if (part === '*') {
        star = true;
        continue;
      }
      const na = parseNameAddr(part);
      if (na === null) return null;
      let expires: number | null = null;
      let q: number | null = null;
      let paramsText = '';
      for (const [k, val] of Object.entries(na.params)) {
        if (k === 'expires') {
          expires = val === null ? null : parseDelta(val);
          if (expires === null) return null;
        } else if (k === 'q') {
          if (val === null || !QVALUE_RE.test(val)) return null;
          q = Number(val);
        } else {
          paramsText += val === null ? `;${k}` : `;${k}=${val}`;
        }
      }
      // Fields listed, not spread: params is a null-prototype (dictionary) object and spreading one is a runtime call.
      out.push({ displayName: na.displayName, uri: na.uri, params: na.params, expires, q, paramsText });
    }
  }
  if (star) return out.length === 0 ? '*' : null; // '*' must stand alone (RFC 3261 10.2.2)
  return out.length === 0 ? null : out;
}

// ---------------------------------------------------------------------------------------------------------------
// CSeq, deltas, option tags

const CSEQ_RE = /^([0-9]{1,10})[ \t]+([A-Za-z0-9\-.!%*_+`'~]+)$/;

/** `CSeq: 1*DIGIT LWS Method`; the number must be below 2**31 (RFC 3261 8.1.1.5). */
export function parseCSeq(value: string): { seq: number; method: string } | null {
  if (typeof value !== 'string') return null;
  const m = CSEQ_RE.exec(value.trim());
  if (m === null || m[1] === undefined || m[2] === undefined) return null;
  const seq = Number(m[1]);
  if (seq > 0x7fffffff) return null;
  return { seq, method: m[2] };
}

const MAX_DELTA = 0xffffffff;

/** delta-seconds (Expires, Min-Expires, expires=): digits only; values above 2**32-1 are clamped (RFC 3261 20.19). */
export function parseDelta(value: string): number | null {
  if (typeof value !== 'string') return null;
  const t = value.trim();
  if (!/^[0-9]+$/.test(t)) return null;
  if (t.length > 10) return MAX_DELTA;
  return Math.min(Number(t), MAX_DELTA);
}

/** Require / Supported / Proxy-Require option tags, as sent (junk kept, so an unknown requirement is still seen). */
export function parseOptionTags(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const t of v.split(',')) {
      const tag = t.trim();
      if (tag.length > 0) out.push(tag);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Authorization (RFC 3261 20.7, RFC 2617 3.2.2, RFC 7616 3.4)

export interface DigestCredentials {
  scheme: string;
  /** Keys lower-cased; values unquoted and unescaped. */
  params: Record<string, string>;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** JavaScript's `\s` (WhiteSpace and LineTerminator): the grammar below was first written with it, and kept it. */
function isSpace(c: number): boolean {
  if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) return true;
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

const isLineTerminator = (c: number): boolean => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;

/**
 * One Authorization / Proxy-Authorization value; null for a bare scheme, junk, a repeated parameter or several
 * credentials. `scheme 1*(SP/HTAB) auth-param *("," auth-param)`, with auth-param = name "=" (token /
 * quoted-string), names and tokens running up to whitespace, a comma or a quote (tokens may hold "="), as
 * drachtio-sip's parseAuthHeader reads them (docs/parser.md). Hand-written, one pass over char codes, allocating
 * only what it returns: the sticky-regex scan before it made a match array per parameter and per comma, about 5 kB a
 * header in the allocation profile; this takes 2.9 µs a typical header instead of 5.8-6.1, with half the garbage.
 * test/sip/authorization-scan.test.ts compares it with the drachtio wrapper it replaced on random values.
 */
export function parseAuthorization(value: string): DigestCredentials | null {
  if (typeof value !== 'string') return null;
  const v = value.trim();
  const n = v.length;
  if (n > 8192) return null;
  let i = 0;
  while (i < n && isTokenChar(v.charCodeAt(i))) i++;
  if (i === 0) return null;
  const scheme = v.slice(0, i);
  const afterScheme = i;
  for (let c = v.charCodeAt(i); c === 0x20 || c === 0x09; c = v.charCodeAt(++i));
  if (i === afterScheme || i === n || isSpace(v.charCodeAt(i))) return null;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    const nameStart = i;
    for (
      let c = v.charCodeAt(i);
      i < n && !isSpace(c) && c !== 0x2c && c !== 0x22 && c !== 0x3d;
      c = v.charCodeAt(++i)
    );
    if (i === nameStart) return null;
    const key = v.slice(nameStart, i).toLowerCase();
    while (i < n && isSpace(v.charCodeAt(i))) i++;
    if (v.charCodeAt(i) !== 0x3d) return null; // '=' (NaN past the end)
    i++;
    while (i < n && isSpace(v.charCodeAt(i))) i++;
    let val: string;
    if (v.charCodeAt(i) === 0x22) {
      // quoted-string: up to the closing quote; a backslash escapes any character but a line end.
      const open = i++;
      let escaped = false;
      for (;;) {
        if (i >= n) return null;
        const c = v.charCodeAt(i);
        if (c === 0x22) break;
        if (c === 0x5c) {
          if (i + 1 >= n || isLineTerminator(v.charCodeAt(i + 1))) return null;
          escaped = true;
          i += 2;
        } else i++;
      }
      i++;
      val = escaped ? unquote(v.slice(open, i)) : v.slice(open + 1, i - 1);
    } else {
      const valueStart = i;
      for (let c = v.charCodeAt(i); i < n && !isSpace(c) && c !== 0x2c && c !== 0x22; c = v.charCodeAt(++i));
      if (i === valueStart) return null;
      val = v.slice(valueStart, i);
    }
    // A repeated parameter is ambiguous (which one was signed?); prototype names never become keys.
    if (key in params || FORBIDDEN_KEYS.has(key)) return null;
    params[key] = val;
    while (i < n && isSpace(v.charCodeAt(i))) i++;
    if (i === n) return { scheme, params };
    if (v.charCodeAt(i) !== 0x2c) return null;
    i++;
    while (i < n && isSpace(v.charCodeAt(i))) i++;
  }
}
