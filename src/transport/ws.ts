/**
 * SIP over WebSocket (RFC 7118), plain (ws) and secure (wss), with the `ws` package. Each WebSocket message is one
 * SIP message (RFC 7118 5.2: no Content-Length framing); responses go back as text frames over the connection the
 * request came on.
 *
 * The handshake must offer the `sip` subprotocol (RFC 7118 4), else it is refused with 400; with an Origin allowlist,
 * another Origin gets 403. The same caps as TCP hold (connections overall and per address, counted from the TCP
 * accept), the handshake (TLS and HTTP upgrade) must finish within the handshake timeout, a frame may be no larger
 * than a SIP message may be, and a connection that does not answer our pings within one interval is closed. What
 * `ws` refuses itself closes only that connection: a text frame that is not UTF-8 (1007), an unmasked client frame
 * (1002), an oversized frame (1009). A binary frame that is not a SIP message closes it too (1003).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CappedTransport, listen, type ConnectionLimits } from './caps.js';
import { plainAddress, type ConnectionTransport, type MessageHandler, type Peer } from './types.js';

export interface WsLimits extends ConnectionLimits {
  /** TLS handshake plus HTTP upgrade. */
  handshakeTimeoutMs: number;
  /** Pings go out this often; a connection that has not answered the previous one is closed. */
  pingIntervalMs: number;
  /** Allowed Origin values; empty: any (phones that are not browsers send none). */
  allowedOrigins: readonly string[];
}

/** The start of a SIP message: a response's status line or a request line (RFC 3261 7.1). */
const SIP_START = /^(?:SIP\/2\.0 [0-9]{3}|[A-Za-z]+ \S+ SIP\/2\.0\r?\n)/;

let nextConnectionId = 1_000_000_000; // apart from the TCP/TLS ids, so logs never confuse the two

interface Flow {
  readonly ws: WebSocket;
  alive: boolean;
}

export class WsTransport extends CappedTransport implements ConnectionTransport {
  private readonly flows = new Map<number, Flow>();
  private readonly wss: WebSocketServer;
  private readonly pinger: NodeJS.Timeout;

  private constructor(
    private readonly server: http.Server,
    kind: 'ws' | 'wss',
    private readonly limits: WsLimits,
    private readonly onMessage: MessageHandler,
  ) {
    super(kind, limits);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: limits.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Answered in the client's own spelling of `sip` (upgrade() made sure it offered one).
      handleProtocols: (offered: Set<string>) => [...offered].find((p) => p.toLowerCase() === 'sip') ?? false,
    });
    this.pinger = setInterval(() => this.ping(), limits.pingIntervalMs);
    this.pinger.unref();
  }

  static async listen(
    kind: 'ws' | 'wss',
    host: string,
    port: number,
    limits: WsLimits,
    onMessage: MessageHandler,
    tlsFiles?: { cert: Buffer; key: Buffer },
    ownSocket = false,
  ): Promise<WsTransport> {
    const server =
      kind === 'wss'
        ? https.createServer({ cert: tlsFiles?.cert, key: tlsFiles?.key, handshakeTimeout: limits.handshakeTimeoutMs })
        : http.createServer();
    // Only upgrades are served; the request must arrive whole within the handshake timeout.
    server.headersTimeout = limits.handshakeTimeoutMs;
    server.requestTimeout = limits.handshakeTimeoutMs;
    const t = new WsTransport(server, kind, limits, onMessage);
    server.on('connection', (raw: net.Socket) => t.admit(raw));
    server.on('request', (_req, res: http.ServerResponse) => {
      res.writeHead(426, { Upgrade: 'websocket', 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('SIP over WebSocket (RFC 7118): upgrade with the sip subprotocol\n');
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => t.upgrade(req, socket, head));
    server.on('tlsClientError', (_err: Error, socket: net.Socket) => socket.destroy());
    server.on('clientError', (_err: Error, socket: net.Socket) => socket.destroy());
    server.on('error', () => {});
    t.listener = await listen(server, kind, host, port, ownSocket);
    return t;
  }

  private admit(raw: net.Socket): void {
    if (!this.caps.admit(raw)) return;
    // Until the upgrade completes, the handshake deadline holds; attach() lifts it.
    raw.setTimeout(this.limits.handshakeTimeoutMs, () => raw.destroy());
  }

  private upgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const refuse = (status: number, text: string, reason: 'subprotocol' | 'origin'): void => {
      this.onRefused(this.kind, reason);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim().toLowerCase());
    if (!offered.includes('sip')) return refuse(400, 'Bad Request', 'subprotocol');
    const origin = req.headers.origin;
    if (this.limits.allowedOrigins.length > 0 && (origin === undefined || !this.limits.allowedOrigins.includes(origin)))
      return refuse(403, 'Forbidden', 'origin');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, socket));
  }

  private attach(ws: WebSocket, socket: net.Socket): void {
    socket.setTimeout(0); // liveness is the ping's job from here on
    const id = nextConnectionId++;
    const peer: Peer = {
      transport: this.kind,
      address: plainAddress(socket.remoteAddress ?? ''),
      port: socket.remotePort ?? 0,
      connectionId: id,
      localAddress: plainAddress(socket.localAddress ?? ''),
      localPort: socket.localPort ?? 0,
    };
    const flow: Flow = { ws, alive: true };
    this.flows.set(id, flow);
    ws.on('pong', () => (flow.alive = true));
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      flow.alive = true;
      if (isBinary && !SIP_START.test(data.subarray(0, 64).toString('latin1'))) {
        ws.close(1003, 'not a SIP message');
        return;
      }
      this.onMessage(data, peer);
    });
    ws.once('close', () => {
      this.flows.delete(id);
      this.onClosed(id);
    });
  }

  private ping(): void {
    for (const flow of this.flows.values()) {
      if (!flow.alive) {
        flow.ws.terminate();
        continue;
      }
      flow.alive = false;
      flow.ws.ping();
    }
  }

  isOpen(connectionId: number): boolean {
    return this.flows.has(connectionId);
  }

  send(connectionId: number, data: Buffer): boolean {
    const flow = this.flows.get(connectionId);
    if (flow === undefined) return false;
    if (flow.ws.bufferedAmount > 8 * this.limits.maxBufferedBytes) {
      this.onSlowReader(this.kind, '');
      flow.ws.terminate();
      return false;
    }
    flow.ws.send(data, { binary: false });
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const f of this.flows.values()) f.ws.terminate();
    this.caps.destroyAll();
    await closed;
  }
}
