import { describe, expect, it } from 'vitest';
import type { HeaderMap, Peer } from '../../src/sip/message.js';
import { buildResponse, routeForResponse, unvalidated } from '../../src/sip/response.js';

const peer: Peer = { transport: 'udp', address: '198.51.100.7', port: 40123 };
const hdrs = (entries: Array<[string, string[]]>): HeaderMap => new Map(entries);
const FULL = (): HeaderMap =>
  hdrs([
    ['via', ['SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776;rport', 'SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1']],
    ['from', ['"Alice" <sip:alice@example.com>;tag=1928301774']],
    ['to', ['<sip:alice@example.com>']],
    ['call-id', ['a84b4c76e66710@pc33.example.com']],
    ['cseq', ['314159 REGISTER']],
    ['contact', ['<sip:alice@192.0.2.10:5062>']],
    ['user-agent', ['phone']],
  ]);

const lines = (b: Buffer): string[] => b.toString('utf8').split('\r\n');

describe('buildResponse', () => {
  it('copies Via (top one stamped), From, To (+tag), Call-ID, CSeq, then extras, Server, Content-Length', () => {
    const out = buildResponse(unvalidated(FULL()), peer, 401, 'Unauthorized', {
      toTag: 'abc123',
      headers: [['WWW-Authenticate', 'Digest realm="example.com", nonce="n"']],
      server: 'sipreg/0.1',
    });
    expect(out.toString('utf8')).toBe(
      [
        'SIP/2.0 401 Unauthorized',
        'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776;rport=40123;received=198.51.100.7',
        'Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bKp1',
        'From: "Alice" <sip:alice@example.com>;tag=1928301774',
        'To: <sip:alice@example.com>;tag=abc123',
        'Call-ID: a84b4c76e66710@pc33.example.com',
        'CSeq: 314159 REGISTER',
        'WWW-Authenticate: Digest realm="example.com", nonce="n"',
        'Server: sipreg/0.1',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  });

  it('keeps an existing To tag, and adds none to a 100', () => {
    const h = FULL();
    h.set('to', ['<sip:alice@example.com>;tag=existing']);
    expect(lines(buildResponse(unvalidated(h), peer, 200, 'OK', { toTag: 'new', server: 's' }))).toContain(
      'To: <sip:alice@example.com>;tag=existing',
    );
    expect(lines(buildResponse(unvalidated(FULL()), peer, 100, 'Trying', { toTag: 'new', server: 's' }))).toContain(
      'To: <sip:alice@example.com>',
    );
  });

  it('received only when the sent-by differs and there is no rport', () => {
    const h = FULL();
    h.set('via', ['SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1']);
    expect(lines(buildResponse(unvalidated(h), peer, 200, 'OK', { toTag: null, server: 's' }))[1]).toBe(
      'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1',
    );
    h.set('via', ['SIP/2.0/UDP phone.example.com;branch=z9hG4bK1']);
    expect(lines(buildResponse(unvalidated(h), peer, 200, 'OK', { toTag: null, server: 's' }))[1]).toBe(
      'Via: SIP/2.0/UDP phone.example.com;branch=z9hG4bK1;received=198.51.100.7',
    );
  });

  it('a top via-parm in a comma list is stamped; the rest are kept', () => {
    const h = FULL();
    h.set('via', ['SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport, SIP/2.0/UDP b.example.com;branch=z9hG4bK2']);
    const l = lines(buildResponse(unvalidated(h), peer, 200, 'OK', { toTag: null, server: 's' }));
    expect(l[1]).toBe('Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport=40123;received=198.51.100.7');
    expect(l[2]).toBe('Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2');
  });

  it('a received sent by the client is replaced, not duplicated', () => {
    const h = FULL();
    h.set('via', ['SIP/2.0/UDP a.example.com;receivedx=1;received=10.0.0.1;branch=z9hG4bK1']);
    expect(lines(buildResponse(unvalidated(h), peer, 200, 'OK', { toTag: null, server: 's' }))[1]).toBe(
      'Via: SIP/2.0/UDP a.example.com;receivedx=1;branch=z9hG4bK1;received=198.51.100.7',
    );
  });

  it('IPv4-mapped peers are written as IPv4 in received', () => {
    const p: Peer = { ...peer, address: '::ffff:198.51.100.7' };
    const l = lines(buildResponse(unvalidated(FULL()), p, 200, 'OK', { toTag: null, server: 's' }));
    expect(l[1]).toContain(';received=198.51.100.7');
  });

  it('copes with a partial header map (a 400 for a message missing headers)', () => {
    const out = buildResponse(
      unvalidated(hdrs([['via', ['SIP/2.0/UDP h;branch=z9hG4bK1']]])),
      peer,
      400,
      'Missing Call-ID',
      {
        toTag: 't',
        server: 's',
      },
    );
    expect(lines(out)).toEqual([
      'SIP/2.0 400 Missing Call-ID',
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1;received=198.51.100.7',
      'Server: s',
      'Content-Length: 0',
      '',
      '',
    ]);
    expect(buildResponse(unvalidated(new Map()), peer, 400, 'Bad', { toTag: null, server: 's' }).toString()).toBe(
      'SIP/2.0 400 Bad\r\nServer: s\r\nContent-Length: 0\r\n\r\n',
    );
  });

  it('copies an unparseable Via as received and tags an unparseable To by text', () => {
    const h = hdrs([
      ['via', ['garbage;;']],
      ['to', ['"broken <sip:a@b>']],
    ]);
    const l = lines(buildResponse(unvalidated(h), peer, 400, 'Malformed To', { toTag: 'x', server: 's' }));
    expect(l).toContain('Via: garbage;;');
    expect(l).toContain('To: "broken <sip:a@b>;tag=x');
  });

  it('body: Content-Length in bytes; CR/LF in extra values cannot inject headers', () => {
    const out = buildResponse(unvalidated(FULL()), peer, 200, 'OK', {
      toTag: null,
      headers: [['X-Evil', 'a\r\nInjected: yes']],
      body: 'ü',
      server: 's',
    });
    const text = out.toString('utf8');
    expect(text).toContain('X-Evil: a Injected: yes\r\n');
    expect(text.endsWith('Content-Length: 2\r\n\r\nü')).toBe(true);
  });
});

describe('routeForResponse', () => {
  const via = (v: string) => unvalidated(hdrs([['via', [v]]])).vias;
  it('UDP with rport: source address and port', () => {
    expect(routeForResponse(via('SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1;rport'), peer)).toEqual({
      address: '198.51.100.7',
      port: 40123,
    });
  });
  it('UDP without rport: source address, sent-by port or 5060', () => {
    expect(routeForResponse(via('SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK1'), peer)).toEqual({
      address: '198.51.100.7',
      port: 5062,
    });
    expect(routeForResponse(via('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1'), peer)).toEqual({
      address: '198.51.100.7',
      port: 5060,
    });
  });
  it('streams: back to the connection peer', () => {
    const tcp: Peer = { transport: 'tcp', address: '2001:db8::5', port: 50000, connectionId: 3 };
    expect(routeForResponse(via('SIP/2.0/TCP [2001:db8::5]:5060;branch=z9hG4bK1'), tcp)).toEqual({
      address: '2001:db8::5',
      port: 50000,
    });
  });
  it('null without a usable top Via', () => {
    expect(routeForResponse(unvalidated(new Map()).vias, peer)).toBeNull();
    expect(routeForResponse(via('nonsense'), peer)).toBeNull();
  });
});
