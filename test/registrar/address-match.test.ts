import { describe, it, expect } from 'vitest';
import { inNetworks, parseNetwork, parseNetworks } from '../../src/registrar/address-match.js';

const nets = (...t: string[]) => parseNetworks(t);

describe('parseNetwork', () => {
  it('accepts addresses and CIDRs of both families', () => {
    expect(parseNetwork('10.1.2.3')).toMatchObject({ family: 4, prefix: 32 });
    expect(parseNetwork('10.0.0.0/8')).toMatchObject({ family: 4, prefix: 8 });
    expect(parseNetwork('2001:db8::/32')).toMatchObject({ family: 6, prefix: 32 });
    expect(parseNetwork('::1')).toMatchObject({ family: 6, prefix: 128 });
    expect(parseNetwork('[2001:db8::1]')).toMatchObject({ family: 6, prefix: 128 });
  });
  it('turns mapped-IPv4 networks into IPv4 ones', () => {
    expect(parseNetwork('::ffff:192.168.0.0/112')).toMatchObject({ family: 4, prefix: 16 });
  });
  it('rejects junk', () => {
    for (const bad of [
      '',
      'x',
      '10.0.0.0/33',
      '2001:db8::/129',
      '1.2.3',
      '300.1.1.1',
      '10.0.0.0/',
      '::g',
      '10.0.0.0/8/8',
    ])
      expect(parseNetwork(bad), bad).toBeNull();
    expect(() => parseNetworks(['10.0.0.0/8', 'nope'])).toThrow(/nope/);
  });
});

describe('inNetworks', () => {
  it('matches IPv4 CIDRs and single addresses', () => {
    const n = nets('10.0.0.0/8', '192.168.1.7');
    expect(inNetworks('10.255.0.1', n)).toBe(true);
    expect(inNetworks('11.0.0.1', n)).toBe(false);
    expect(inNetworks('192.168.1.7', n)).toBe(true);
    expect(inNetworks('192.168.1.8', n)).toBe(false);
  });
  it('non-aligned CIDR base is normalised', () => {
    expect(inNetworks('172.16.5.9', nets('172.16.5.1/24'))).toBe(true);
  });
  it('matches IPv4-mapped IPv6 addresses against IPv4 networks', () => {
    const n = nets('203.0.113.0/24');
    expect(inNetworks('::ffff:203.0.113.9', n)).toBe(true);
    expect(inNetworks('::FFFF:cb00:7109', n)).toBe(true);
    expect(inNetworks('::ffff:203.0.114.9', n)).toBe(false);
  });
  it('matches IPv6 CIDRs, ignoring zone ids', () => {
    const n = nets('2001:db8:abcd::/48', 'fe80::/10');
    expect(inNetworks('2001:db8:abcd:12::1', n)).toBe(true);
    expect(inNetworks('2001:db8:abce::1', n)).toBe(false);
    expect(inNetworks('fe80::1%eth0', n)).toBe(true);
  });
  it('never matches across families, nor junk', () => {
    expect(inNetworks('::1', nets('0.0.0.0/0'))).toBe(false);
    expect(inNetworks('1.2.3.4', nets('::/0'))).toBe(false);
    expect(inNetworks('garbage', nets('0.0.0.0/0'))).toBe(false);
    expect(inNetworks('1.2.3.4', [])).toBe(false);
  });
  it('/0 matches everything of its family', () => {
    expect(inNetworks('8.8.8.8', nets('0.0.0.0/0'))).toBe(true);
    expect(inNetworks('2001:db8::5', nets('::/0'))).toBe(true);
  });
});
