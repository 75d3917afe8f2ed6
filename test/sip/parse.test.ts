import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PARSE_LIMITS, parseMessage, type ParseLimits } from '../../src/sip/parse.js';
import { problemOf } from '../helpers/validation.js';

const REGISTER = [
  'REGISTER sip:example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: "Alice" <sip:alice@example.com>',
  'From: "Alice" <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 REGISTER',
  'Contact: <sip:alice@192.0.2.10:5062;transport=udp>;expires=3600',
  'User-Agent: test',
  'Content-Length: 0',
  '',
  '',
].join('\r\n');

const buf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const parse = (s: string | Buffer, limits: ParseLimits = DEFAULT_PARSE_LIMITS) => parseMessage(buf(s), limits);
const withHeader = (extra: string, body = ''): string =>
  REGISTER.replace(
    'Content-Length: 0\r\n\r\n',
    `${extra}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );

function failure(s: string | Buffer, limits?: ParseLimits): string {
  const r = parse(s, limits);
  if (r.ok) throw new Error('expected a parse failure');
  return r.reason;
}

describe('parseMessage: a typical REGISTER', () => {
  it('gives the request with canonical header names and values', () => {
    const r = parse(REGISTER);
    expect(r.ok).toBe(true);
    if (!r.ok || r.message.kind !== 'request') throw new Error('not a request');
    const m = r.message;
    expect([m.method, m.uri, m.version]).toEqual(['REGISTER', 'sip:example.com', 'SIP/2.0']);
    expect([...m.headers.keys()]).toEqual([
      'via',
      'max-forwards',
      'to',
      'from',
      'call-id',
      'cseq',
      'contact',
      'user-agent',
      'content-length',
    ]);
    expect(m.headers.get('to')).toEqual(['"Alice" <sip:alice@example.com>']);
    expect(m.body.length).toBe(0);
    expect(problemOf(m)).toBeNull();
  });

  it('expands compact forms, including the IANA ones', () => {
    const r = parse(
      withHeader('o: presence\r\nu: dialog\r\nk: path\r\nx: 90\r\ny: abc\r\nb: <sip:b@x>\r\nr: <sip:r@x>'),
    );
    if (!r.ok) throw new Error(r.reason);
    const h = r.message.headers;
    expect(h.get('event')).toEqual(['presence']);
    expect(h.get('allow-events')).toEqual(['dialog']);
    expect(h.get('supported')).toEqual(['path']);
    expect(h.get('session-expires')).toEqual(['90']);
    expect(h.get('identity')).toEqual(['abc']);
    expect(h.get('referred-by')).toEqual(['<sip:b@x>']);
    expect(h.get('refer-to')).toEqual(['<sip:r@x>']);
  });

  it('keeps repeated headers as separate values, in order', () => {
    const r = parse(withHeader('Contact: <sip:a@x>\r\nm: <sip:b@x>, <sip:c@x>'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.headers.get('contact')).toEqual([
      '<sip:alice@192.0.2.10:5062;transport=udp>;expires=3600',
      '<sip:a@x>',
      '<sip:b@x>, <sip:c@x>',
    ]);
  });

  it('unfolds folded lines into one value with single spaces (RFC 3261 7.3.1)', () => {
    const r = parse(withHeader('Subject: one  \r\n \t two\r\n\tthree'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.headers.get('subject')).toEqual(['one two three']);
  });

  it('lower-cases X- and P- headers too (drachtio leaves them as sent)', () => {
    const r = parse(withHeader('X-Custom: 1\r\nP-Asserted-Identity: <sip:a@x>'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.headers.get('x-custom')).toEqual(['1']);
    expect(r.message.headers.get('p-asserted-identity')).toEqual(['<sip:a@x>']);
  });

  it('ignores CRLFs before the start line', () => {
    const r = parse('\r\n\r\n' + REGISTER);
    expect(r.ok).toBe(true);
  });

  it('is fast: a REGISTER well under 20 us', () => {
    const data = buf(REGISTER);
    for (let i = 0; i < 2000; i++) parseMessage(data, DEFAULT_PARSE_LIMITS);
    const n = 20000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) parseMessage(data, DEFAULT_PARSE_LIMITS);
    const perCall = Number(process.hrtime.bigint() - t0) / n / 1000;
    expect(perCall).toBeLessThan(20);
  });
});

describe('parseMessage: start lines', () => {
  const line = (start: string): string => REGISTER.replace('REGISTER sip:example.com SIP/2.0', start);
  it.each([
    ['REGISTER  sip:example.com SIP/2.0', 'double SP'],
    ['REGISTER sip:example.com SIP/2.0 ', 'trailing SP'],
    ['REGISTER <sip:example.com> SIP/2.0', 'URI in <>'],
    ['REGISTER sip:example.com; lr SIP/2.0', 'LWS in URI'],
    ['REGISTER sip:example.com', 'no version'],
    ['REG ISTER sip:example.com SIP/2.0', 'method not a token'],
    ['REGISTER example.com SIP/2.0', 'URI without scheme'],
    ['REGISTER\tsip:example.com\tSIP/2.0', 'tabs'],
    ['REGISTER sip:example.com HTTP/1.1', 'not SIP'],
  ])('%s (%s) -> 400', (start) => {
    expect(failure(line(start))).toBe('Malformed Request-Line');
  });

  it('another SIP version parses (validate answers 505)', () => {
    const r = parse(line('REGISTER sip:example.com SIP/3.0'));
    if (!r.ok || r.message.kind !== 'request') throw new Error('not a request');
    expect(r.message.version).toBe('SIP/3.0');
    expect(problemOf(r.message)).toEqual({ status: 505, reason: 'Version Not Supported' });
  });

  it('responses parse; garbage that starts with SIP/ is not a response', () => {
    const resp = 'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n';
    const r = parse(resp);
    if (!r.ok || r.message.kind !== 'response') throw new Error('not a response');
    expect([r.message.status, r.message.reason]).toEqual([200, 'OK']);
    for (const bad of [
      'SIP/2.0 20 OK',
      'SIP/2.0 2000 OK',
      'SIP/2.0 200OK',
      'SIP/2.0',
      'SIP/ 200 OK',
      'SIP/2.0 099 x',
    ]) {
      const f = parse(resp.replace('SIP/2.0 200 OK', bad));
      expect(f.ok, bad).toBe(false);
      if (!f.ok) expect(f.isRequest).toBe(false);
    }
  });
});

describe('parseMessage: header syntax', () => {
  it('refuses a header name that is not a token, keeping the other headers', () => {
    const r = parse(withHeader('Bad Name: x'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe('Invalid header name');
    expect(r.headers?.get('via')?.length).toBe(1);
    expect(r.isRequest).toBe(true);
  });
  it('refuses a line without a colon', () => {
    expect(failure(withHeader('NoColonHere'))).toBe('Malformed header line');
  });
  it('refuses a fold right after the start line', () => {
    expect(failure(REGISTER.replace('\r\nVia:', '\r\n folded\r\nVia:'))).toBe('Folded line without a header');
  });
  it('refuses bare LF and bare CR inside the header section', () => {
    expect(failure(withHeader('A: 1\nB: 2'))).toBe('Bare CR or LF in header');
    expect(failure(withHeader('A: 1\rB: 2'))).toBe('Bare CR or LF in header');
  });
  it('refuses a message with no end of headers', () => {
    expect(failure(REGISTER.slice(0, -2))).toBe('Missing end of header section');
  });
  it('refuses empty input', () => {
    expect(failure('')).toBe('Empty message');
    expect(failure('\r\n\r\n')).toBe('Empty message');
  });
});

describe('parseMessage: bytes and limits', () => {
  it('NUL byte in a header -> 400, with the other headers still readable', () => {
    const r = parse(withHeader('Subject: a\x00b'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe('NUL byte in header');
    expect(r.headers?.get('call-id')).toEqual(['a84b4c76e66710@pc33.example.com']);
    expect(r.headers?.has('subject')).toBe(false);
  });
  it('a NUL escaped as a quoted-pair is allowed (intmeth)', () => {
    expect(parse(withHeader('Subject: "a\\\x00b"')).ok).toBe(true);
  });
  it('invalid UTF-8 in a header -> 400', () => {
    const [before, after] = withHeader('Subject: @@').split('@@');
    for (const bad of [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const msg = Buffer.concat([buf(before ?? ''), Buffer.from(bad), buf(after ?? '')]);
      expect(failure(msg)).toBe('Invalid UTF-8 in header');
    }
  });
  it('valid UTF-8 in a header is kept', () => {
    const r = parse(withHeader('Subject: grüße 大'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.headers.get('subject')).toEqual(['grüße 大']);
  });
  it('a message over maxMessageBytes -> 400 before any parsing', () => {
    const r = parse(withHeader('X: ' + 'a'.repeat(70000)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.reason, r.headers]).toEqual(['Message too large', null]);
  });
  it('10,000 headers -> Too many headers', () => {
    const many = Array.from({ length: 10000 }, (_, i) => `X-${i}: v`).join('\r\n');
    const limits = { ...DEFAULT_PARSE_LIMITS, maxMessageBytes: 1 << 20 };
    const r = parse(withHeader(many), limits);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe('Too many headers');
    expect(r.headers?.get('via')?.length).toBe(1); // what came before the limit
  });
  it('a 1 MB header line -> Header line too long', () => {
    const limits = { ...DEFAULT_PARSE_LIMITS, maxMessageBytes: 2 << 20 };
    expect(failure(withHeader('X-Big: ' + 'a'.repeat(1 << 20)), limits)).toBe('Header line too long');
  });
  it('a folded header is limited per physical line', () => {
    expect(parse(withHeader('X-Fold: a\r\n b\r\n c')).ok).toBe(true);
  });
  it('linear time on long runs of whitespace', () => {
    const limits = { ...DEFAULT_PARSE_LIMITS, maxLineLength: 60000 };
    const t0 = Date.now();
    parse(withHeader(`Subject: a${' '.repeat(50000)}b`), limits);
    parse(withHeader(`To: ${' '.repeat(20000)};${' '.repeat(20000)}x`), limits);
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('parseMessage: Content-Length and body (datagram rules)', () => {
  it('body per Content-Length; trailing bytes are discarded', () => {
    const r = parse(withHeader('Content-Type: text/plain', 'hello') + 'EXTRA');
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.body.toString()).toBe('hello');
  });
  it('Content-Length counts bytes, not characters', () => {
    const r = parse(withHeader('Content-Type: text/plain', 'ü大'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.body.toString()).toBe('ü大');
  });
  it('fewer bytes than Content-Length -> Content-Length mismatch', () => {
    expect(failure(REGISTER.replace('Content-Length: 0', 'Content-Length: 10') + 'short')).toBe(
      'Content-Length mismatch',
    );
  });
  it.each([
    ['-1', 'Invalid Content-Length'],
    ['abc', 'Invalid Content-Length'],
    ['1.5', 'Invalid Content-Length'],
    ['', 'Invalid Content-Length'],
    [String(2 ** 53), 'Content-Length too large'],
    ['70000', 'Content-Length too large'],
    ['9'.repeat(400), 'Content-Length too large'],
  ])('Content-Length %s -> %s', (cl, reason) => {
    expect(failure(REGISTER.replace('Content-Length: 0', `Content-Length: ${cl}`))).toBe(reason);
  });
  it('two Content-Length headers -> 400', () => {
    expect(failure(withHeader('l: 0'))).toBe('Multiple Content-Length');
  });
  it('no Content-Length on a datagram: the body is the rest', () => {
    const r = parse(REGISTER.replace('Content-Length: 0\r\n', '') + 'rest');
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.body.toString()).toBe('rest');
  });
});

describe('parseMessage never throws (property)', () => {
  const fixtures = ['wsinv', 'esc01', 'longreq', 'intmeth', 'escnull'].map((n) =>
    readFileSync(fileURLToPath(new URL(`../fixtures/torture/valid/${n}.dat`, import.meta.url))),
  );
  const seeds = [buf(REGISTER), ...fixtures];

  const total = (b: Buffer): void => {
    const r = parseMessage(b, DEFAULT_PARSE_LIMITS);
    expect(typeof r.ok).toBe('boolean');
    if (r.ok && r.message.kind === 'request') problemOf(r.message); // must not throw either
  };

  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (a) => total(Buffer.from(a))),
      { numRuns: 3000 },
    );
  });

  it('on random SIP-ish text', () => {
    const piece = fc.constantFrom(
      'REGISTER ',
      'SIP/2.0',
      ' ',
      '\r\n',
      ':',
      ';',
      ',',
      '"',
      '\\',
      '<',
      '>',
      'sip:',
      '@',
      'Via',
      'To',
      'l',
      'Content-Length',
      '0',
      '-1',
      'tag=',
      'branch=',
      '\t',
      '\x00',
      '%',
      '\r',
      '\n',
      '[',
      ']',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 200 }), (parts) => total(Buffer.from(parts.join(''), 'utf8'))),
      { numRuns: 3000 },
    );
  });

  it('on mutated valid messages', () => {
    const mutation = fc.record({
      seed: fc.nat({ max: seeds.length - 1 }),
      edits: fc.array(
        fc.record({ at: fc.nat(), kind: fc.nat({ max: 3 }), byte: fc.integer({ min: 0, max: 255 }), len: fc.nat(64) }),
        { minLength: 1, maxLength: 8 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ seed, edits }) => {
        let b = Buffer.from(seeds[seed] as Buffer);
        for (const e of edits) {
          const at = b.length === 0 ? 0 : e.at % b.length;
          if (e.kind === 0) b[at] = e.byte;
          else if (e.kind === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + e.len)]);
          else if (e.kind === 2) b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at)]);
          else b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + e.len), b.subarray(at)]);
        }
        total(b);
      }),
      { numRuns: 3000 },
    );
  });
});
