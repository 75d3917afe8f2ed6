/**
 * TCP and TLS: a byte stream framed into messages by Content-Length (RFC 3261 18.3, ./framer.ts). Responses go back
 * over the connection the request came on (RFC 3261 18.2.2). Connections are capped overall and per source address,
 * closed when idle, and closed when a peer sends what cannot be framed or will not read what we write.
 */
import net from 'node:net';
import tls from 'node:tls';
import { CappedTransport, listen, type ConnectionLimits } from './caps.js';
import { StreamFramer, type FramerLimits } from './framer.js';
import { plainAddress, type ConnectionTransport, type MessageHandler } from './types.js';

export interface StreamLimits extends FramerLimits, ConnectionLimits {
  idleTimeoutMs: number;
  tlsHandshakeTimeoutMs: number;
  /** A message must arrive whole within this from its first byte (slowloris: each byte would reset an idle timer). */
  messageTimeoutMs: number;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

const CRLF = Buffer.from('\r\n');
let nextConnectionId = 1;

export class StreamTransport extends CappedTransport implements ConnectionTransport {
  private readonly connections = new Map<number, net.Socket>();
  private constructor(
    private readonly server: net.Server,
    kind: 'tcp' | 'tls',
    private readonly limits: StreamLimits,
    private readonly onMessage: MessageHandler,
  ) {
    super(kind, limits);
  }

  static async listen(
    kind: 'tcp' | 'tls',
    host: string,
    port: number,
    limits: StreamLimits,
    onMessage: MessageHandler,
    tlsFiles?: TlsFiles,
    ownSocket = false,
  ): Promise<StreamTransport> {
    const server =
      kind === 'tls'
        ? tls.createServer({ cert: tlsFiles?.cert, key: tlsFiles?.key, handshakeTimeout: limits.tlsHandshakeTimeoutMs })
        : net.createServer();
    const transport = new StreamTransport(server, kind, limits, onMessage);
    server.on('connection', (raw: net.Socket) => transport.admit(raw));
    if (kind === 'tls') {
      server.on('secureConnection', (socket: tls.TLSSocket) => transport.attach(socket));
      // A failed or timed-out handshake: with a listener attached node leaves the socket open, so close it here.
      server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => socket.destroy());
    } else {
      server.on('connection', (socket: net.Socket) => transport.attach(socket));
    }
    server.on('error', () => {});
    transport.listener = await listen(server, kind, host, port, ownSocket);
    return transport;
  }

  get openConnections(): number {
    return this.caps.open;
  }

  /** Caps are checked on the raw TCP connection, before any TLS work is spent on it. */
  private admit(raw: net.Socket): void {
    if (!this.caps.admit(raw)) return;
    // Idle (and, for TLS, handshake-stalled) connections are closed; traffic of either direction resets the timer.
    raw.setTimeout(this.limits.idleTimeoutMs, () => raw.destroy());
  }

  private attach(socket: net.Socket): void {
    if (socket.destroyed) return;
    const id = nextConnectionId++;
    const framer = new StreamFramer(this.limits);
    const peer = {
      transport: this.kind,
      address: plainAddress(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
      connectionId: id,
      localAddress: plainAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
    } as const;
    this.connections.set(id, socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.connections.delete(id);
      this.onClosed(id);
    });
    // The deadline of the message under way; no timer while nothing partial is buffered.
    const deadlineMs = Math.min(this.limits.messageTimeoutMs, this.limits.idleTimeoutMs);
    let deadline: NodeJS.Timeout | null = null;
    socket.once('close', () => {
      if (deadline !== null) clearTimeout(deadline);
    });
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type === 'message') this.onMessage(event.data, peer);
        else if (event.type === 'keepalive')
          socket.write(CRLF); // RFC 5626 4.4.1: CRLFCRLF ping, CRLF pong
        else {
          socket.destroy();
          return;
        }
      }
      if (framer.buffered === 0) {
        if (deadline !== null) clearTimeout(deadline);
        deadline = null;
      } else if (deadline === null) {
        deadline = setTimeout(() => socket.destroy(), deadlineMs);
      }
    });
  }

  isOpen(connectionId: number): boolean {
    return this.connections.has(connectionId);
  }

  /** false when the connection is gone (RFC 3261 18.2.2 would open a new one; a registrar's client will retry). */
  send(connectionId: number, data: Buffer): boolean {
    const socket = this.connections.get(connectionId);
    if (socket === undefined || socket.destroyed) return false;
    // A peer that does not read its responses must not make us buffer without bound. Outbound gets more room than
    // inbound (8x): one connection may carry many phones (an SBC, a busy softphone server) in a burst.
    if (socket.writableLength > 8 * this.limits.maxBufferedBytes) {
      this.onSlowReader(this.kind, plainAddress(socket.remoteAddress ?? ''));
      socket.destroy();
      return false;
    }
    socket.write(data);
    return true;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections.values()) socket.destroy();
    this.caps.destroyAll();
    await closed;
  }
}
