/** What the transport layer hands upward: the bytes of one message and where they came from. */
import type { TransportName } from '../domain/types.js';

export type { TransportName };

/** Where a message came from: enough to route a response back (RFC 3261 18.2.2, RFC 3581). */
export interface Peer {
  readonly transport: TransportName;
  /** The source address, IPv4-mapped IPv6 (::ffff:a.b.c.d) unwrapped to plain IPv4. */
  readonly address: string;
  readonly port: number;
  /** Stream transports only: the connection the message arrived on. */
  readonly connectionId?: number;
  /** The local address and port the message arrived at. */
  readonly localAddress?: string;
  readonly localPort?: number;
}

export type MessageHandler = (data: Buffer, peer: Peer) => void;

export interface BoundListener {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
}

/** ::ffff:1.2.3.4 -> 1.2.3.4, so one phone has one address whichever socket family it reached. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** What a connection-oriented transport (TCP, TLS, WS, WSS) offers the server: responses out, and its events. */
export interface ConnectionTransport {
  readonly listener: BoundListener;
  /** false when the connection is gone. */
  send(connectionId: number, data: Buffer): boolean;
  isOpen(connectionId: number): boolean;
  close(): Promise<void>;
  onConnectionCount: (transport: TransportName, open: number) => void;
  /** A connection refused: by a cap ('total', 'address'), or a handshake refused ('subprotocol', 'origin'). */
  onRefused: (transport: TransportName, reason: string) => void;
  onSlowReader: (transport: TransportName, address: string) => void;
  /** A connection closed: the flows it carried end (RFC 5626). */
  onClosed: (connectionId: number) => void;
}
