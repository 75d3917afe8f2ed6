import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressOfRecord, parseSipUri, uriComparisonKey } from '../../src/sip/uri.js';

describe('parseSipUri', () => {
  it('parses every part', () => {
    expect(parseSipUri('sips:alice:secret@Example.COM:5061;transport=tcp;lr?subject=hi&x=')).toEqual({
      scheme: 'sips',
      user: 'alice',
      password: 'secret',
      host: 'Example.COM',
      port: 5061,
      params: { transport: 'tcp', lr: null },
      headers: { subject: 'hi', x: '' },
    });
  });
  it('hosts: names without dots, IPv4, IPv6 references', () => {
    expect(parseSipUri('sip:registrar')?.host).toBe('registrar');
    expect(parseSipUri('sip:u@192.0.2.1:5060')?.port).toBe(5060);
    const v6 = parseSipUri('sip:u@[2001:db8::10]:5070;maddr=[2001:db8::1]');
    expect([v6?.host, v6?.port, v6?.params.maddr]).toEqual(['2001:db8::10', 5070, '[2001:db8::1]']);
    expect(parseSipUri('sip:[::1]')?.host).toBe('::1');
  });
  it('torture URIs: escapes and odd user parts', () => {
    expect(parseSipUri('sip:sips%3Auser%40example.com@example.net')?.user).toBe('sips%3Auser%40example.com');
    expect(parseSipUri('sip:user;par=u%40example.net@example.com')?.user).toBe('user;par=u%40example.net');
    expect(parseSipUri('sip:%00@host5.example.com')?.user).toBe('%00');
    expect(parseSipUri('sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31')?.params).toEqual({
      '%6c%72': null,
      'n%61me': 'v%61lue%25%34%31',
    });
  });
  it.each([
    ['http://example.com'],
    ['isbn:2983792873'],
    ['sip:'],
    ['sip:@host'],
    ['sip:u@'],
    ['sip:u@host:port'],
    ['sip:u@host:70000'],
    ['sip:u@[not-v6]'],
    ['sip:u@host;;x'],
    ['sip:u@host?noequals'],
    ['sip:a b@host'],
    ['sip:u@ho st'],
    ['sip:u%zz@host'],
    ['<sip:u@host>'],
  ])('null for %j', (text) => expect(parseSipUri(text)).toBeNull());
  it('never throws (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => void parseSipUri('sip:' + s)),
      { numRuns: 3000 },
    );
  });
});

describe('uriComparisonKey (RFC 3261 19.1.4)', () => {
  const key = (s: string): string => {
    const u = parseSipUri(s);
    if (u === null) throw new Error(s);
    return uriComparisonKey(u);
  };
  it('equivalent URIs share a key', () => {
    expect(key('sip:%61lice@atlanta.com;transport=TCP')).toBe(key('sip:alice@AtLanTa.CoM;Transport=tcp'));
    expect(key('sip:carol@chicago.com')).toBe(key('sip:carol@chicago.com;newparam=5'));
    expect(key('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com')).toBe(
      key('sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'),
    );
  });
  it('different URIs do not', () => {
    expect(key('SIP:ALICE@AtLanTa.CoM;Transport=udp')).not.toBe(key('sip:alice@AtLanTa.CoM;Transport=UDP'));
    expect(key('sip:bob@biloxi.com')).not.toBe(key('sip:bob@biloxi.com:5060'));
    expect(key('sip:bob@biloxi.com')).not.toBe(key('sip:bob@biloxi.com;transport=udp'));
    expect(key('sip:bob@biloxi.com')).not.toBe(key('sips:bob@biloxi.com'));
  });
});

describe('addressOfRecord', () => {
  it('user@host, host lower-cased, user unescaped', () => {
    const aor = (s: string) => {
      const u = parseSipUri(s);
      return u === null ? undefined : addressOfRecord(u);
    };
    expect(aor('sip:Alice@Example.COM:5060;transport=tcp')).toBe('Alice@example.com');
    expect(aor('sip:%61lice@example.com')).toBe('alice@example.com');
    expect(aor('sip:example.com')).toBeNull();
    expect(aor('sip:u@[2001:DB8::1]')).toBe('u@[2001:db8::1]');
  });
});
