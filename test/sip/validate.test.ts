import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../../src/sip/message.js';
import { DEFAULT_PARSE_LIMITS, parseMessage } from '../../src/sip/parse.js';
import { problemOf } from '../helpers/validation.js';
import { validateRequest } from '../../src/sip/validate.js';

const BASE: Array<[string, string]> = [
  ['Via', 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport'],
  ['Max-Forwards', '70'],
  ['To', '<sip:alice@example.com>'],
  ['From', '<sip:alice@example.com>;tag=1928301774'],
  ['Call-ID', 'a84b4c76e66710@pc33.example.com'],
  ['CSeq', '314159 REGISTER'],
  ['Contact', '<sip:alice@192.0.2.10:5062>'],
];

/** A REGISTER with headers replaced (value null = removed) and extra ones appended. */
function request(changes: Record<string, string | null> = {}, start = 'REGISTER sip:example.com SIP/2.0'): SipRequest {
  const lines = [start];
  for (const [n, v] of BASE) {
    const c = changes[n];
    if (c === null) continue;
    lines.push(`${n}: ${c ?? v}`);
  }
  for (const [n, v] of Object.entries(changes))
    if (!BASE.some(([b]) => b === n) && v !== null) lines.push(`${n}: ${v}`);
  lines.push('Content-Length: 0', '', '');
  const r = parseMessage(Buffer.from(lines.join('\r\n')), DEFAULT_PARSE_LIMITS);
  if (!r.ok || r.message.kind !== 'request') throw new Error(r.ok ? 'not a request' : r.reason);
  return r.message;
}

describe('validateRequest', () => {
  it('keeps what it parsed: Vias, From, To, Call-ID, CSeq, Request-URI, Contacts', () => {
    const v = validateRequest(request());
    if (!v.ok) throw new Error(v.refusal.phrase);
    expect(v.request.vias[0]?.params.branch).toMatch(/^z9hG4bK/);
    expect(v.request.to.uri).toMatch(/^sip:/);
    expect(v.request.from.params.tag).toBeDefined();
    expect(v.request.cseq.method).toBe(v.request.method);
    expect(v.request.requestUri.host).toBeTruthy();
    expect(v.request.callId.length).toBeGreaterThan(0);
  });

  it('accepts a good REGISTER, and one without Max-Forwards', () => {
    expect(problemOf(request())).toBeNull();
    expect(problemOf(request({ 'Max-Forwards': null }))).toBeNull();
  });
  it.each([
    ['Via', 'Missing Via'],
    ['From', 'Missing From'],
    ['To', 'Missing To'],
    ['Call-ID', 'Missing Call-ID'],
    ['CSeq', 'Missing CSeq'],
  ])('missing %s -> 400 %s', (name, reason) => {
    expect(problemOf(request({ [name]: null }))).toEqual({ status: 400, reason });
  });
  it.each([
    [{ Via: 'SIP/2.0/UDP' }, 'Malformed Via'],
    [{ Via: 'SIP/3.0/UDP h;branch=z9hG4bK1' }, 'Malformed Via'],
    [{ From: '"unterminated <sip:a@b>' }, 'Malformed From'],
    [{ To: 'sip:a@b?x=y' }, 'Malformed To'],
    [{ 'Call-ID': 'has space' }, 'Malformed Call-ID'],
    [{ CSeq: 'REGISTER' }, 'Malformed CSeq'],
    [{ CSeq: '1 OPTIONS' }, 'CSeq method mismatch'],
    [{ CSeq: '2147483648 REGISTER' }, 'Malformed CSeq'],
    [{ 'Max-Forwards': 'abc' }, 'Malformed Max-Forwards'],
    [{ 'Max-Forwards': '256' }, 'Malformed Max-Forwards'],
    [{ Contact: 'sip:a@b, <' }, 'Malformed Contact'],
  ])('%j -> 400 %s', (changes, reason) => {
    expect(problemOf(request(changes))).toEqual({ status: 400, reason });
  });
  it('repeated single-value headers -> 400', () => {
    const r = request({ 'Call-ID': 'x', 'call-id': 'y' });
    expect(problemOf(r)).toEqual({ status: 400, reason: 'Multiple Call-ID' });
  });
  it('Max-Forwards 0 is acceptable for the registrar itself (zeromf)', () => {
    expect(problemOf(request({ 'Max-Forwards': '0' }))).toBeNull();
  });
  it('Request-URI checks', () => {
    expect(problemOf(request({}, 'REGISTER tel:+1555 SIP/2.0'))).toEqual({
      status: 416,
      reason: 'Unsupported URI Scheme',
    });
    expect(problemOf(request({}, 'REGISTER sip:exa%mple SIP/2.0'))).toEqual({
      status: 400,
      reason: 'Malformed Request-URI',
    });
    expect(problemOf(request({}, 'REGISTER sips:example.com SIP/2.0'))).toBeNull();
  });
  it('SIP-Version other than 2.0 -> 505', () => {
    expect(problemOf(request({}, 'REGISTER sip:example.com SIP/2.1'))).toEqual({
      status: 505,
      reason: 'Version Not Supported',
    });
  });
  it('a hand-built request whose Content-Length disagrees with its body -> 400', () => {
    const r = request();
    const bad: SipRequest = { ...r, body: Buffer.from('xx') };
    expect(problemOf(bad)).toEqual({ status: 400, reason: 'Content-Length mismatch' });
  });
});
