/**
 * One whole SIP message (a UDP datagram, or a message the stream framer cut out) -> SipMessage.
 *
 * The message-level work is done here on the Buffer, not by drachtio-sip's `parseSipMessage`: limits must be checked
 * before the bytes become a string, its `toString('utf8')` silently replaces invalid UTF-8, it measures the body in
 * UTF-16 units, joins repeated headers with commas, keeps CRLFs in folded values and does not anchor the request line
 * (docs/parser.md lists each point). drachtio's header-value parsers are used, wrapped, by ./headers.ts.
 *
 * Nothing from the network may throw out of parseMessage: every failure is a ParseOutcome with a 400 reason.
 */
import { isUtf8 } from 'node:buffer';
import type { HeaderMap, SipMessage } from './message.js';
import { isToken } from './lexical.js';

export interface ParseLimits {
  maxMessageBytes: number;
  maxHeaders: number;
  maxLineLength: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaders: 256,
  maxLineLength: 8192,
});

export type ParseOutcome =
  { ok: true; message: SipMessage } | { ok: false; reason: string; headers: HeaderMap | null; isRequest: boolean };

/** RFC 3261 7.3.3 and the IANA SIP parameters registry: compact form -> canonical long name. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = Object.freeze({
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
});

/** Lower-case long name of a header field name (compact forms expanded). */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

// RFC 3261 7.1 / 25.1: Method SP Request-URI SP SIP-Version, exactly one SP each, nothing after the version.
const REQUEST_LINE_RE =
  /^([A-Za-z0-9\-.!%*_+`'~]+) ([A-Za-z][A-Za-z0-9+\-.]*:[^\s<>]+) ([Ss][Ii][Pp]\/[0-9]+\.[0-9]+)$/;
// RFC 3261 7.2: SIP-Version SP Status-Code SP Reason-Phrase; Status-Code is 3DIGIT (bigcode fails here).
const STATUS_LINE_RE = /^([Ss][Ii][Pp]\/[0-9]+\.[0-9]+) ([1-6][0-9]{2}) ([^\r\n]*)$/;

const CR = 0x0d;
const LF = 0x0a;
const HEADER_END = Buffer.from('\r\n\r\n');

/** Strips SP and HTAB only (RFC 3261 LWS); String.trim would also eat a U+FEFF that belongs to the value. */
function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

function fail(reason: string, headers: HeaderMap | null, isRequest: boolean): ParseOutcome {
  return { ok: false, reason, headers, isRequest };
}

/** Parses one whole message. Never throws. */
export function parseMessage(data: Buffer, limits: ParseLimits): ParseOutcome {
  try {
    return parseUnsafe(data, limits);
  } catch {
    // Defence in depth: the code below is written not to throw, but nothing may escape to the transport.
    return fail('Malformed message', null, true);
  }
}

function parseUnsafe(data: Buffer, limits: ParseLimits): ParseOutcome {
  if (!Buffer.isBuffer(data)) return fail('Malformed message', null, true);
  if (data.length > limits.maxMessageBytes) return fail('Message too large', null, true);

  // RFC 3261 7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start + 1 < data.length && data[start] === CR && data[start + 1] === LF) start += 2;
  if (start >= data.length) return fail('Empty message', null, true);

  const isRequest = !(
    data.length - start >= 4 &&
    ((data[start] ?? 0) | 0x20) === 0x73 && // s
    ((data[start + 1] ?? 0) | 0x20) === 0x69 && // i
    ((data[start + 2] ?? 0) | 0x20) === 0x70 && // p
    data[start + 3] === 0x2f // '/'
  );

  const headerEnd = data.indexOf(HEADER_END, start);
  if (headerEnd === -1) return fail('Missing end of header section', null, isRequest);
  const bodyStart = headerEnd + 4;

  // ---- Lines, with limits checked on the bytes before any decoding.
  const headers: HeaderMap = new Map();
  let error: string | null = null;
  let startLine: string | null = null;
  let headerCount = 0;
  // The header being assembled (folded lines are appended to it); null after a bad line so its continuations drop.
  let curName: string | null = null;
  let curValue = '';
  let curSkip = false;

  const flush = (): void => {
    if (curName !== null && !curSkip) {
      const list = headers.get(curName);
      const v = trimLws(curValue);
      if (list === undefined) headers.set(curName, [v]);
      else list.push(v);
    }
    curName = null;
    curValue = '';
    curSkip = false;
  };
  const setError = (reason: string): void => {
    if (error === null) error = reason;
  };

  const sectionEnd = headerEnd + 2; // include the CRLF of the last header line
  let lineStart = start;
  let hasHigh = false;
  let hasBadNul = false;
  for (let i = start; i < sectionEnd; i++) {
    const b = data[i] as number;
    if (b !== CR && b !== LF) {
      if (b >= 0x80) hasHigh = true;
      // NUL is tolerated only as a quoted-pair (`\` NUL, RFC 3261 25.1 quoted-pair; intmeth uses one).
      else if (b === 0 && data[i - 1] !== 0x5c) hasBadNul = true;
      continue;
    }
    const lineEnd = i;
    if (b === LF || data[i + 1] !== LF) {
      setError('Bare CR or LF in header');
    } else {
      i++; // CRLF
    }
    const outcome = handleLine(lineStart, lineEnd, hasHigh, hasBadNul);
    lineStart = i + 1;
    hasHigh = false;
    hasBadNul = false;
    if (outcome === 'stop') break;
  }
  flush();

  function handleLine(s: number, e: number, high: boolean, badNul: boolean): 'stop' | 'go' {
    const continuation = startLine !== null && (data[s] === 0x20 || data[s] === 0x09);
    if (!continuation && startLine !== null) {
      flush();
      headerCount++;
      if (headerCount > limits.maxHeaders) {
        setError('Too many headers');
        return 'stop';
      }
    }
    // Decode, refusing bad bytes; a bad line is dropped (with its continuations) but the other headers are still
    // read so that a 400 can be routed.
    let text: string | null = null;
    if (e - s > limits.maxLineLength) setError('Header line too long');
    else if (badNul) setError('NUL byte in header');
    else if (high && !isUtf8(data.subarray(s, e))) setError('Invalid UTF-8 in header');
    else text = data.toString(high ? 'utf8' : 'latin1', s, e);

    if (startLine === null) {
      startLine = text ?? '';
      if (text === null || text.length === 0) setError('Malformed start line');
      return text === null ? 'stop' : 'go';
    }
    if (continuation) {
      // RFC 3261 7.3.1: CRLF plus leading whitespace is equivalent to one SP.
      if (curName === null) setError('Folded line without a header');
      else if (text === null) curSkip = true;
      else curValue = trimLws(curValue) + ' ' + trimLws(text);
      return 'go';
    }
    curName = '';
    curSkip = true;
    if (text === null) return 'go';
    const colon = text.indexOf(':');
    const rawName = colon === -1 ? '' : trimLws(text.slice(0, colon));
    if (colon === -1) setError('Malformed header line');
    else if (!isToken(rawName)) setError('Invalid header name');
    else {
      curName = canonicalHeaderName(rawName);
      curValue = text.slice(colon + 1);
      curSkip = false;
    }
    return 'go';
  }

  const line: string = startLine ?? '';

  // ---- Start line
  let message: SipMessage | null = null;
  let req: RegExpExecArray | null = null;
  let res: RegExpExecArray | null = null;
  if (isRequest) {
    req = REQUEST_LINE_RE.exec(line);
    if (req === null) setError('Malformed Request-Line');
  } else {
    res = STATUS_LINE_RE.exec(line);
    if (res === null) setError('Malformed Status-Line');
  }
  if (error !== null) return fail(error, headers, isRequest);

  // ---- Body (RFC 3261 18.3, 20.14)
  const available = data.length - bodyStart;
  let body: Buffer;
  const cl = headers.get('content-length');
  if (cl === undefined) {
    body = data.subarray(bodyStart); // datagram without Content-Length: the rest is the body
  } else {
    if (cl.length !== 1) return fail('Multiple Content-Length', headers, isRequest);
    const t = trimLws(cl[0] ?? '');
    if (!/^[0-9]+$/.test(t)) return fail('Invalid Content-Length', headers, isRequest);
    const n = t.length > 10 ? Infinity : Number(t);
    if (n > limits.maxMessageBytes) return fail('Content-Length too large', headers, isRequest);
    if (n > available) return fail('Content-Length mismatch', headers, isRequest);
    body = data.subarray(bodyStart, bodyStart + n); // extra datagram bytes are discarded (RFC 3261 18.3)
  }

  if (req !== null) {
    const [, method, uri, version] = req;
    message = {
      kind: 'request',
      method: method ?? '',
      uri: uri ?? '',
      version: (version ?? '').toUpperCase(),
      headers,
      body,
    };
  } else if (res !== null) {
    const [, version, status, reason] = res;
    message = {
      kind: 'response',
      status: Number(status),
      reason: reason ?? '',
      version: (version ?? '').toUpperCase(),
      headers,
      body,
    };
  }
  if (message === null) return fail('Malformed start line', headers, isRequest);
  return { ok: true, message };
}
