/**
 * What the stream transports (TCP, TLS, WS, WSS) share: connection caps (open connections overall and per source
 * address, counted from the raw TCP accept, before any TLS or HTTP work is spent on a connection) and listening.
 */
import type net from 'node:net';
import { plainAddress, type BoundListener, type TransportName } from './types.js';

/** The limits every connection-oriented transport enforces. */
export interface ConnectionLimits {
  maxMessageBytes: number;
  maxBufferedBytes: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/**
 * What TCP, TLS, WS and WSS have in common: the caps, counted from the raw accept, and the events the server
 * listens to (see ConnectionTransport in ./types.ts). The subclasses add framing, timeouts and sending.
 */
export abstract class CappedTransport {
  listener!: BoundListener;
  /** Called with the number of open connections whenever it changes (for a gauge). */
  onConnectionCount: (transport: TransportName, open: number) => void = () => {};
  /** A connection refused: by a cap ('total', 'address'), or a handshake refused ('subprotocol', 'origin'). */
  onRefused: (transport: TransportName, reason: string) => void = () => {};
  /** A connection closed because its peer left too many responses unread. */
  onSlowReader: (transport: TransportName, address: string) => void = () => {};
  /** A connection that carried messages closed (its flows end, RFC 5626). */
  onClosed: (connectionId: number) => void = () => {};
  protected readonly caps: ConnectionCaps;

  protected constructor(
    protected readonly kind: TransportName,
    limits: ConnectionLimits,
  ) {
    this.caps = new ConnectionCaps(
      limits.maxConnections,
      limits.maxConnectionsPerAddress,
      (open) => this.onConnectionCount(this.kind, open),
      (cap) => this.onRefused(this.kind, cap),
    );
  }
}

/**
 * Listens and reports the bound address. ownSocket: a listening socket of this worker's own (SO_REUSEPORT), so the
 * worker accepts its connections itself instead of the cluster primary.
 */
export function listen(
  server: net.Server,
  transport: TransportName,
  host: string,
  port: number,
  ownSocket: boolean,
): Promise<BoundListener> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(
      { host, port, ipv6Only: false, backlog: 1024, exclusive: ownSocket, ...(ownSocket ? { reusePort: true } : {}) },
      () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        resolve({ transport, address: plainAddress(addr.address), port: addr.port });
      },
    );
  });
}

export type CapRefusal = 'total' | 'address';

export class ConnectionCaps {
  private readonly perAddress = new Map<string, number>();
  /** Every accepted socket, usable or not yet, so close() can end them all. */
  readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
    private readonly onCount: (open: number) => void,
    private readonly onRefused: (cap: CapRefusal) => void,
  ) {}

  get open(): number {
    return this.sockets.size;
  }

  /** false (and the socket destroyed) when a cap is reached; otherwise counted until it closes. */
  admit(raw: net.Socket): boolean {
    const address = plainAddress(raw.remoteAddress ?? '');
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.sockets.size >= this.maxConnections || fromAddress >= this.maxPerAddress) {
      this.onRefused(this.sockets.size >= this.maxConnections ? 'total' : 'address');
      raw.destroy();
      return false;
    }
    this.sockets.add(raw);
    this.perAddress.set(address, fromAddress + 1);
    this.onCount(this.sockets.size);
    raw.on('error', () => {});
    raw.once('close', () => {
      this.sockets.delete(raw);
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
      this.onCount(this.sockets.size);
    });
    return true;
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
