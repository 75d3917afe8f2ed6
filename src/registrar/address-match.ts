/**
 * IP address and CIDR matching for trusted networks and `ip` accounts, on node:net's BlockList. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) match as the IPv4 address they carry,
 * and never an IPv6 network; an IPv4 address never matches an IPv6 network (BlockList alone would match it to ::/0).
 */
import { BlockList, isIP } from 'node:net';

export interface Network {
  readonly family: 4 | 6;
  /** The network's address as given (a mapped-IPv4 network: its IPv4 address). */
  readonly address: string;
  readonly prefix: number;
  /** As configured, for logs. */
  readonly text: string;
}

const MAPPED = /^::ffff:/i;

/** The IPv4 address inside ::ffff:a.b.c.d or ::ffff:xxxx:xxxx; null when it is not one. */
function unmap(v6: string): string | null {
  if (!MAPPED.test(v6)) return null;
  const tail = v6.slice(7);
  if (isIP(tail) === 4) return tail;
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (m === null) return null;
  const hi = parseInt(m[1] as string, 16);
  const lo = parseInt(m[2] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`, `::ffff:10.0.0.0/104`; null when it is none of those. */
export function parseNetwork(text: string): Network | null {
  const m = /^([^/]+)(?:\/([0-9]{1,3}))?$/.exec(text.trim());
  if (!m || m[1] === undefined) return null;
  const address = m[1].replace(/^\[(.*)\]$/, '$1');
  const family = isIP(address);
  if (family === 0) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return null;
  // A mapped-IPv4 network (::ffff:0:0/96 or longer) is the IPv4 network it describes.
  const v4 = family === 6 && prefix >= 96 ? unmap(address) : null;
  if (v4 !== null) return { family: 4, address: v4, prefix: prefix - 96, text: text.trim() };
  return { family: family as 4 | 6, address, prefix, text: text.trim() };
}

/** Parses every entry; throws naming the first bad one (config and account data are validated before use). */
export function parseNetworks(texts: readonly string[]): Network[] {
  return texts.map((t) => {
    const n = parseNetwork(t);
    if (!n) throw new Error(`not an IP address or CIDR: ${t}`);
    return n;
  });
}

interface Lists {
  v4: BlockList;
  v6: BlockList;
  /**
   * Answers by address. BlockList.check builds a SocketAddress per call, 1.2 % of a loaded registrar's CPU in a
   * profile; phones ask again and again from the same addresses. Bounded: cleared when full.
   */
  seen: Map<string, boolean>;
}

const SEEN_MAX = 4096;

/** One pair of BlockLists per list of networks, built on first use. */
const built = new WeakMap<readonly Network[], Lists>();

function listsOf(networks: readonly Network[]): Lists {
  let l = built.get(networks);
  if (l === undefined) {
    l = { v4: new BlockList(), v6: new BlockList(), seen: new Map() };
    for (const n of networks) {
      if (n.family === 4) l.v4.addSubnet(n.address, n.prefix, 'ipv4');
      else l.v6.addSubnet(n.address, n.prefix, 'ipv6');
    }
    built.set(networks, l);
  }
  return l;
}

export function inNetworks(address: string, networks: readonly Network[]): boolean {
  if (networks.length === 0) return false; // the common case, and on every request: nothing to build or check
  const lists = listsOf(networks);
  let hit = lists.seen.get(address);
  if (hit === undefined) {
    hit = check(address, lists);
    if (lists.seen.size >= SEEN_MAX) lists.seen.clear();
    lists.seen.set(address, hit);
  }
  return hit;
}

function check(address: string, lists: Lists): boolean {
  const a = address
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '');
  const family = isIP(a);
  if (family === 0) return false;
  if (family === 4) return lists.v4.check(a, 'ipv4');
  const v4 = unmap(a);
  return v4 !== null ? lists.v4.check(v4, 'ipv4') : lists.v6.check(a, 'ipv6');
}
