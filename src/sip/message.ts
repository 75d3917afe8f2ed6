/**
 * The SIP message model every layer above the parser works with.
 *
 * Header values are kept as the text of each header field line, unfolded (RFC 3261 7.3.1) and trimmed, under the
 * canonical lower-case long name (compact forms such as `v`, `f`, `i` are expanded). Parsing a value into structure is
 * done on demand by the typed accessors in ./headers.ts, so a header the registrar never reads costs nothing.
 */

import type { Peer, TransportName } from '../transport/types.js';

export type { Peer, TransportName };

/** Canonical lower-case header name -> the value of each header field line, in order. */
export type HeaderMap = Map<string, string[]>;

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly version: string;
  readonly headers: HeaderMap;
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly version: string;
  readonly headers: HeaderMap;
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/** First value of a header, or undefined. `name` is the canonical lower-case long name. */
export function header(msg: SipMessage, name: string): string | undefined {
  return msg.headers.get(name)?.[0];
}

/** Every value of a header, in order; an empty array when absent. */
export function headers(msg: SipMessage, name: string): readonly string[] {
  return msg.headers.get(name) ?? [];
}
