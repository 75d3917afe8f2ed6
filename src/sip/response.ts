/**
 * Responses to requests (RFC 3261 8.2.6) and where to send them (RFC 3261 18.2.2, RFC 3581). Pure and on the hot
 * path: one string, one Buffer.from. Takes the Vias the validator parsed; copes with a partial HeaderMap and with
 * Vias that did not parse (a 400 for a message that lacks or breaks a header).
 */
import type { HeaderMap, Peer } from './message.js';
import { plainAddress } from '../transport/types.js';
import { parseNameAddr, parseVias, type Via } from './headers.js';

export interface ResponseOptions {
  /** Added to the To header when it has no tag (not on 100, RFC 3261 8.2.6.2). */
  toTag: string | null;
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: string;
  server: string;
}

/** No CR or LF may reach the wire from a value we were handed (header injection). */
function clean(v: string): string {
  return /[\r\n]/.test(v) ? v.replace(/[\r\n]+/g, ' ') : v;
}

/**
 * The top via-parm with `received` (when the sent-by host is not the source address, or when rport asks for it) and
 * an empty `rport` filled with the source port (RFC 3261 18.2.1, RFC 3581 4). Other via-parms are copied untouched.
 */
function stampTopVia(via: Via, peer: Peer): string {
  const source = plainAddress(peer.address).toLowerCase();
  const hasRport = 'rport' in via.params;
  let text = via.text;
  if (hasRport && via.params.rport === null) {
    text = text.replace(/(;\s*rport)(?=\s*(?:;|$))/i, `$1=${peer.port}`);
  }
  if (hasRport || via.host.toLowerCase() !== source) {
    if ('received' in via.params) text = text.replace(/;\s*received(?=\s*(?:[;=]|$))\s*(?:=\s*[^;]*)?/i, '');
    text += `;received=${source}`;
  }
  return text;
}

/** What a response is built from: the request's headers, and what validation parsed of them (null: not validated). */
export interface Answerable {
  readonly headers: HeaderMap;
  /** Every via-parm, top first; null when the Vias did not parse (they are then copied as received). */
  readonly vias: readonly Via[] | null;
  /** Whether To has a tag; null when To was not parsed. */
  readonly toHasTag: boolean | null;
}

/** For a message that failed before validation: what can be read of its Vias and To. */
export function unvalidated(headers: HeaderMap): Answerable {
  const viaValues = headers.get('via');
  const to = headers.get('to')?.[0];
  const na = to === undefined ? null : parseNameAddr(to);
  return {
    headers,
    vias: viaValues === undefined ? null : parseVias(viaValues),
    toHasTag: na === null ? null : 'tag' in na.params,
  };
}

export function buildResponse(
  request: Answerable,
  peer: Peer,
  status: number,
  reason: string,
  opts: ResponseOptions,
): Buffer {
  const h = request.headers;
  let s = `SIP/2.0 ${status} ${clean(reason)}\r\n`;

  const viaValues = h.get('via');
  if (viaValues !== undefined && viaValues.length > 0) {
    const vias = request.vias;
    if (vias === null) {
      for (const v of viaValues) s += `Via: ${v}\r\n`; // unparseable: copied as received
    } else {
      // One via-parm per line (RFC 3261 7.3.1 allows splitting a comma list); only the top one is stamped.
      for (let i = 0; i < vias.length; i++) {
        const via = vias[i] as Via;
        s += `Via: ${i === 0 ? stampTopVia(via, peer) : via.text}\r\n`;
      }
    }
  }

  const from = h.get('from')?.[0];
  if (from !== undefined) s += `From: ${from}\r\n`;
  const to = h.get('to')?.[0];
  if (to !== undefined) {
    let toText = to;
    if (opts.toTag !== null && status !== 100) {
      const hasTag = request.toHasTag ?? /;\s*tag\s*=/i.test(to);
      if (!hasTag) toText += `;tag=${clean(opts.toTag)}`;
    }
    s += `To: ${toText}\r\n`;
  }
  const callId = h.get('call-id')?.[0];
  if (callId !== undefined) s += `Call-ID: ${callId}\r\n`;
  const cseq = h.get('cseq')?.[0];
  if (cseq !== undefined) s += `CSeq: ${cseq}\r\n`;

  if (opts.headers !== undefined) {
    for (const [name, value] of opts.headers) s += `${clean(name)}: ${clean(value)}\r\n`;
  }
  s += `Server: ${clean(opts.server)}\r\n`;
  const body = opts.body ?? '';
  s += `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
  return Buffer.from(s, 'utf8');
}

/**
 * Where a response goes (RFC 3261 18.2.2 with RFC 3581): on a stream, back over the connection (the peer); over UDP,
 * to the source address, at the source port when the top Via has `rport`, else the sent-by port or 5060. null when
 * there is no usable top Via: nothing can be routed and the message is dropped.
 */
export function routeForResponse(vias: readonly Via[] | null, peer: Peer): { address: string; port: number } | null {
  const top = vias?.[0];
  if (top === undefined) return null;
  const address = peer.address; // as the socket reported it: the transport sends to exactly this
  if (peer.transport !== 'udp') return { address, port: peer.port };
  if ('rport' in top.params) return { address, port: peer.port };
  return { address, port: top.port ?? 5060 };
}
