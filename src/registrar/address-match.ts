/**
 * IP address and CIDR matching for trusted networks and `ip` accounts. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what
 * a dual-stack socket reports for an IPv4 peer) are treated as the IPv4 address they carry. Pure.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Network {
  readonly family: 4 | 6;
  /** The network address with host bits cleared. */
  readonly base: bigint;
  readonly prefix: number;
  /** As configured, for logs. */
  readonly text: string;
}

interface Address {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const MAPPED_PREFIX = 0xffffn << 32n;

function parseIPv4(text: string): bigint | null {
  if (!isIPv4(text)) return null;
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseIPv6(text: string): bigint | null {
  if (!isIPv6(text)) return null;
  let groups = text;
  let tail: bigint[] = [];
  const lastColon = groups.lastIndexOf(':');
  const last = groups.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === null) return null;
    tail = [v4 >> 16n, v4 & 0xffffn];
    groups = groups.slice(0, lastColon + 1) + '0'; // placeholder group, dropped below
  }
  const halves = groups.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  if (tail.length > 0) (rest.length > 0 ? rest : head).pop();
  const given = head.length + rest.length + tail.length;
  const zeros = halves.length > 1 ? 8 - given : 0;
  if (given + zeros !== 8) return null;
  const words = [
    ...head.map((h) => BigInt(parseInt(h, 16))),
    ...Array<bigint>(zeros).fill(0n),
    ...rest.map((h) => BigInt(parseInt(h, 16))),
    ...tail,
  ];
  return words.reduce((acc, w) => (acc << 16n) | w, 0n);
}

/** An address in canonical form: mapped IPv6 becomes IPv4; a zone id (%eth0) is ignored. */
function parseAddress(text: string): Address | null {
  const t = text.trim().replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIPv4(t);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseIPv6(t.replace(/%.*$/, ''));
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

function mask(bits: number, prefix: number): bigint {
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

/** `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`; null when it is none of those. */
export function parseNetwork(text: string): Network | null {
  const m = /^([^/]+)(?:\/([0-9]{1,3}))?$/.exec(text.trim());
  if (!m || m[1] === undefined) return null;
  const addrText = m[1].replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIPv4(addrText);
  const v6 = v4 === null ? parseIPv6(addrText) : null;
  if (v4 === null && v6 === null) return null;
  let family: 4 | 6 = v4 !== null ? 4 : 6;
  let value = v4 ?? v6 ?? 0n;
  let prefix = m[2] === undefined ? (family === 4 ? 32 : 128) : Number(m[2]);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  // A mapped-IPv4 network (::ffff:0:0/96 or longer) is the IPv4 network it describes.
  if (family === 6 && prefix >= 96 && value >> 32n === MAPPED_PREFIX >> 32n) {
    family = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  const bits = family === 4 ? 32 : 128;
  return { family, base: value & mask(bits, prefix), prefix, text: text.trim() };
}

/** Parses every entry; throws naming the first bad one (config and account data are validated before use). */
export function parseNetworks(texts: readonly string[]): Network[] {
  return texts.map((t) => {
    const n = parseNetwork(t);
    if (!n) throw new Error(`not an IP address or CIDR: ${t}`);
    return n;
  });
}

export function inNetworks(address: string, networks: readonly Network[]): boolean {
  if (networks.length === 0) return false; // the common case, and on every request: no parsing for it
  const a = parseAddress(address);
  if (!a) return false;
  const bits = a.family === 4 ? 32 : 128;
  return networks.some((n) => n.family === a.family && (a.value & mask(bits, n.prefix)) === n.base);
}
