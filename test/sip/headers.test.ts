import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseAuthorization,
  parseContacts,
  parseCSeq,
  parseDelta,
  parseNameAddr,
  parseOptionTags,
  parseVias,
} from '../../src/sip/headers.js';

describe('parseVias', () => {
  it('parses transport, sent-by and params', () => {
    const v = parseVias(['SIP/2.0/udp 192.0.2.1:5062;branch=z9hG4bK1;rport;received=192.0.2.9']);
    expect(v).toEqual([
      {
        transport: 'UDP',
        host: '192.0.2.1',
        port: 5062,
        params: { branch: 'z9hG4bK1', rport: null, received: '192.0.2.9' },
        text: 'SIP/2.0/udp 192.0.2.1:5062;branch=z9hG4bK1;rport;received=192.0.2.9',
      },
    ]);
  });
  it('splits comma-separated via-parms and keeps order across lines', () => {
    const v = parseVias(['SIP/2.0/TCP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com', 'SIP/2.0/TLS c:5061']);
    expect(v?.map((x) => `${x.transport} ${x.host} ${x.port}`)).toEqual([
      'TCP a.example.com null',
      'UDP b.example.com null',
      'TLS c 5061',
    ]);
  });
  it('IPv6 sent-by and received (RFC 5118)', () => {
    const v = parseVias(['SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3;received=2001:db8::9:255']);
    expect(v?.[0]?.host).toBe('2001:db8::9:1');
    expect(v?.[0]?.port).toBe(5070);
    expect(v?.[0]?.params.received).toBe('2001:db8::9:255');
  });
  it.each([
    [''],
    ['SIP/2.0/UDP'],
    ['SIP/2.0 192.0.2.1'],
    ['SIP/2.0/UDP 192.0.2.1;;'],
    ['SIP/2.0/UDP 192.0.2.1;branch='],
    ['SIP/2.0/UDP 192.0.2.1:99999'],
    ['SIP/2.0/UDP 192.0.2.1 junk'],
    ['SIP/2.0/UDP a,,SIP/2.0/UDP b'],
    ['HTTP/1.1/TCP a'],
  ])('null for %j', (value) => {
    expect(parseVias([value])).toBeNull();
  });
  it('null for no values', () => expect(parseVias([])).toBeNull());
});

describe('parseNameAddr', () => {
  it.each([
    ['<sip:a@b>', null, 'sip:a@b', {}],
    ['sip:a@b;tag=1', null, 'sip:a@b', { tag: '1' }],
    ['"A \\"B\\"" <sip:a@b>;tag=x', 'A "B"', 'sip:a@b', { tag: 'x' }],
    ['Alice Smith <sip:a@b>', 'Alice Smith', 'sip:a@b', {}],
    ['caller<sip:a@b>;tag=323', 'caller', 'sip:a@b', { tag: '323' }],
    [
      '<sip:a@[2001:db8::1]:5060;transport=tcp>;+sip.instance="<urn:uuid:1>"',
      null,
      'sip:a@[2001:db8::1]:5060;transport=tcp',
      { '+sip.instance': '"<urn:uuid:1>"' },
    ],
  ])('%s', (value, displayName, uri, params) => {
    const na = parseNameAddr(value);
    expect(na?.displayName).toBe(displayName);
    expect(na?.uri).toBe(uri);
    expect({ ...na?.params }).toEqual(params);
  });
  it.each([
    ['"Mr. J. User <sip:j.user@example.com>', 'unterminated quote (quotbal)'],
    ['"Watson, Thomas" < sip:t.watson@example.org >', 'spaces inside <> (badaspec)'],
    ['Watson, Thomas <sip:t.watson@example.org>', 'comma in unquoted display name (baddn)'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'addr-spec with ? (regbadct)'],
    ['<sip:a@b> junk', 'trailing junk'],
    ['', 'empty'],
    [';tag=1', 'no URI'],
    ['<>', 'empty <>'],
    ['<sip:a@b', 'unclosed <'],
  ])('null for %j (%s)', (value) => {
    expect(parseNameAddr(value)).toBeNull();
  });
  it('never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => void parseNameAddr(s)),
      { numRuns: 3000 },
    );
  });
});

describe('parseContacts', () => {
  it('lists with quoted commas, expires and q, paramsText without them', () => {
    const c = parseContacts([
      '"Doe, John" <sip:j@h1>;expires=60;q=0.5;+sip.instance="<urn:uuid:x>", <sip:j@h2;transport=tcp>',
      'sip:j@h3;reg-id=1',
    ]);
    if (c === null || c === '*') throw new Error('parse');
    expect(c.map((e) => [e.displayName, e.uri, e.expires, e.q, e.paramsText])).toEqual([
      ['Doe, John', 'sip:j@h1', 60, 0.5, ';+sip.instance="<urn:uuid:x>"'],
      [null, 'sip:j@h2;transport=tcp', null, null, ''],
      [null, 'sip:j@h3', null, null, ';reg-id=1'],
    ]);
  });
  it('a comma inside <> is not a separator', () => {
    const c = parseContacts(['<sip:a,b@h>']);
    expect(c !== null && c !== '*' ? c[0]?.uri : null).toBe('sip:a,b@h');
  });
  it("'*' alone", () => {
    expect(parseContacts(['*'])).toBe('*');
    expect(parseContacts(['*', '<sip:a@b>'])).toBeNull();
  });
  it('clamps a huge expires (scalar02)', () => {
    const c = parseContacts(['<sip:user@host129.example.com> ;expires=280297596632815']);
    expect(c !== null && c !== '*' ? c[0]?.expires : null).toBe(2 ** 32 - 1);
  });
  it.each([
    ['<sip:a@b>;expires=abc'],
    ['<sip:a@b>;q=2'],
    ['<sip:a@b>;q=0.1234'],
    [''],
    ['<sip:a@b>,'],
    ['"Joe" <sip:joe@example.org>;;;;'],
  ])('null for %j', (v) => expect(parseContacts([v])).toBeNull());
});

describe('parseCSeq', () => {
  it('parses', () => {
    expect(parseCSeq('314159 REGISTER')).toEqual({ seq: 314159, method: 'REGISTER' });
    expect(parseCSeq('0009 INVITE')).toEqual({ seq: 9, method: 'INVITE' });
    expect(parseCSeq(`${2 ** 31 - 1} A`)).toEqual({ seq: 2 ** 31 - 1, method: 'A' });
  });
  it.each([
    ['REGISTER'],
    ['12'],
    [`${2 ** 31} REGISTER`],
    ['36893488147419103232 REGISTER'],
    ['-1 REGISTER'],
    ['1 REG ISTER'],
    [''],
  ])('null for %j', (v) => expect(parseCSeq(v)).toBeNull());
});

describe('parseAuthorization', () => {
  it('unquotes, unescapes and lower-cases keys', () => {
    const a = parseAuthorization(
      'Digest username="bob", Realm="biloxi.com", nonce="dcd98b",uri="sip:bob@biloxi.com", response="6629fae4", ' +
        'algorithm=MD5, cnonce="0a4f113b", opaque="a\\"b", qop=auth, nc=00000001',
    );
    expect(a?.scheme).toBe('Digest');
    expect({ ...a?.params }).toEqual({
      username: 'bob',
      realm: 'biloxi.com',
      nonce: 'dcd98b',
      uri: 'sip:bob@biloxi.com',
      response: '6629fae4',
      algorithm: 'MD5',
      cnonce: '0a4f113b',
      opaque: 'a"b',
      qop: 'auth',
      nc: '00000001',
    });
  });
  it('quoted commas and equals signs stay in their value', () => {
    expect(parseAuthorization('Digest username="a,b=c", realm="r"')?.params.username).toBe('a,b=c');
  });
  it('another scheme (regaut01) parses; the registrar decides', () => {
    expect(parseAuthorization('NoOneKnowsThisScheme opaque-data=here')).toEqual({
      scheme: 'NoOneKnowsThisScheme',
      params: { 'opaque-data': 'here' },
    });
  });
  it.each([
    ['Digest'],
    ['Digest '],
    [''],
    ['Digest username="a", username="b"'],
    ['Digest username="a" junk'],
    ['Digest =x'],
    ['Digest __proto__="x"'],
  ])('null for %j', (v) => expect(parseAuthorization(v)).toBeNull());
  it('never throws (property)', () => {
    const piece = fc.constantFrom('Digest', ' ', 'username', '=', '"', ',', '\\', 'x', 'realm', 'nonce');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (p) => void parseAuthorization(p.join(''))),
      { numRuns: 3000 },
    );
  });
});

describe('parseDelta and parseOptionTags', () => {
  it('delta-seconds', () => {
    expect(parseDelta('3600')).toBe(3600);
    expect(parseDelta(' 0 ')).toBe(0);
    expect(parseDelta('1' + '0'.repeat(100))).toBe(2 ** 32 - 1);
    expect(parseDelta('4294967296')).toBe(2 ** 32 - 1);
    for (const bad of ['', '-1', '1.5', 'abc', '1 2', '0x10']) expect(parseDelta(bad)).toBeNull();
  });
  it('option tags', () => {
    expect(parseOptionTags(['path, outbound', 'gruu,,', ' 100rel '])).toEqual(['path', 'outbound', 'gruu', '100rel']);
    expect(parseOptionTags([])).toEqual([]);
  });
});
