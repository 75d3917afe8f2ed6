/**
 * Builders of REGISTER request text shared by every test: a well-formed request by default, each part overridable.
 */
import { randomBytes } from 'node:crypto';

export interface RegisterSpec {
  user?: string;
  domain?: string;
  /** Default `sip:<domain>`. */
  requestUri?: string;
  /** Default `<sip:user@domain>`. */
  to?: string;
  from?: string;
  fromTag?: string;
  callId?: string;
  cseq?: number;
  branch?: string;
  /** Via sent-by; default 127.0.0.1:5070 over UDP. */
  via?: string;
  /** Raw Contact header values, one header line each; default one contact of the user at 127.0.0.1:5070. [] = none. */
  contacts?: string[];
  /** Expires header; null = absent (the default). */
  expires?: number | string | null;
  /** Authorization header value; absent by default. */
  /** One Authorization header, or several (one per realm). */
  authorization?: string | readonly string[];
  userAgent?: string;
  /** More header lines, in order, after the others. */
  extra?: Array<[string, string]>;
  body?: string;
}

export function randomToken(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

/** Header lines of the REGISTER, in order, as `[Name, value]`. */
export function registerHeaderLines(s: RegisterSpec = {}): Array<[string, string]> {
  const user = s.user ?? 'alice';
  const domain = s.domain ?? 'localhost';
  const aor = `<sip:${user}@${domain}>`;
  const lines: Array<[string, string]> = [
    ['Via', `SIP/2.0/${s.via ?? 'UDP 127.0.0.1:5070'};branch=${s.branch ?? `z9hG4bK${randomToken()}`};rport`],
    ['Max-Forwards', '70'],
    ['From', `${s.from ?? aor};tag=${s.fromTag ?? randomToken(4)}`],
    ['To', s.to ?? aor],
    ['Call-ID', s.callId ?? `${randomToken(8)}@127.0.0.1`],
    ['CSeq', `${s.cseq ?? 1} REGISTER`],
  ];
  for (const c of s.contacts ?? [`<sip:${user}@127.0.0.1:5070>`]) lines.push(['Contact', c]);
  if (s.expires !== undefined && s.expires !== null) lines.push(['Expires', String(s.expires)]);
  for (const a of s.authorization === undefined
    ? []
    : typeof s.authorization === 'string'
      ? [s.authorization]
      : s.authorization)
    lines.push(['Authorization', a]);
  if (s.userAgent !== undefined) lines.push(['User-Agent', s.userAgent]);
  lines.push(...(s.extra ?? []));
  lines.push(['Content-Length', String(Buffer.byteLength(s.body ?? ''))]);
  return lines;
}

export function registerRequestUri(s: RegisterSpec = {}): string {
  return s.requestUri ?? `sip:${s.domain ?? 'localhost'}`;
}

/** The REGISTER as wire text (CRLF line ends, blank line, body). */
export function registerText(s: RegisterSpec = {}): string {
  const head = [`REGISTER ${registerRequestUri(s)} SIP/2.0`, ...registerHeaderLines(s).map(([n, v]) => `${n}: ${v}`)];
  return `${head.join('\r\n')}\r\n\r\n${s.body ?? ''}`;
}
