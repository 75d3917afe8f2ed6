/** Builders for non-REGISTER requests used by transport and dispatch tests. */
import { randomToken } from './sip-text.js';

export interface RequestSpec {
  method?: string;
  uri?: string;
  via?: string;
  branch?: string;
  callId?: string;
  cseq?: string;
  extra?: Array<[string, string]>;
  omit?: string[];
  body?: string;
}

export function requestText(s: RequestSpec = {}): string {
  const method = s.method ?? 'OPTIONS';
  const lines: Array<[string, string]> = [
    ['Via', `SIP/2.0/${s.via ?? 'UDP 127.0.0.1:5070'};branch=${s.branch ?? `z9hG4bK${randomToken()}`};rport`],
    ['Max-Forwards', '70'],
    ['From', `<sip:probe@example.com>;tag=${randomToken(4)}`],
    ['To', '<sip:example.com>'],
    ['Call-ID', s.callId ?? `${randomToken(8)}@test`],
    ['CSeq', s.cseq ?? `1 ${method}`],
    ...(s.extra ?? []),
    ['Content-Length', String(Buffer.byteLength(s.body ?? ''))],
  ];
  const omit = new Set((s.omit ?? []).map((n) => n.toLowerCase()));
  const head = [`${method} ${s.uri ?? 'sip:example.com'} SIP/2.0`];
  for (const [n, v] of lines) if (!omit.has(n.toLowerCase())) head.push(`${n}: ${v}`);
  return `${head.join('\r\n')}\r\n\r\n${s.body ?? ''}`;
}
