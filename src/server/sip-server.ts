/**
 * The SIP side of the process: the transports the configuration asks for, one dispatcher behind them, and the way
 * responses find their way back (UDP to the routed address, TCP/TLS/WS/WSS over the connection the request came
 * on). When a connection closes, the registrar is told, so the flows it carried end (RFC 5626, RFC 7118).
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { ServerTransactions } from '../sip/transactions.js';
import { StreamTransport, type StreamLimits } from '../transport/stream.js';
import type { BoundListener, ConnectionTransport, Peer, TransportName } from '../transport/types.js';
import { UdpTransport } from '../transport/udp.js';
import { WsTransport, type WsLimits } from '../transport/ws.js';
import type { ConnectionLimits } from '../transport/caps.js';
import { Dispatcher, type RegisterHandler } from './dispatcher.js';
import { RateLimiter } from './rate-limit.js';

export interface SipServer {
  readonly listeners: readonly BoundListener[];
  /** True until stop() begins. */
  readonly listening: boolean;
  /** Whether connection `id` of that transport is open in this process. */
  connectionOpen(transport: TransportName, id: number): boolean;
  /** Stops taking messages, answers what is in flight (at most drainMs), then closes the sockets. */
  stop(drainMs: number): Promise<void>;
}

export interface SipServerDeps {
  registrar: RegisterHandler & { connectionClosed(connectionId: number): void };
  metrics: Metrics;
  logger: Logger;
  /** Source addresses exempt from the flood guard (trusted networks). */
  exempt: (address: string) => boolean;
}

export async function startSipServer(config: Config, deps: SipServerDeps): Promise<SipServer> {
  const { metrics, logger: log } = deps;
  const limits = config.sip.limits;
  const { requestsPerSec, burst } = config.sip.rateLimit;
  const limiter =
    requestsPerSec > 0 ? new RateLimiter(requestsPerSec, Math.max(burst, requestsPerSec), deps.exempt) : null;

  const udp: UdpTransport[] = [];
  const streams = new Map<TransportName, ConnectionTransport>();
  const sender = {
    send(peer: Peer, route: { address: string; port: number }, data: Buffer): void {
      if (peer.transport === 'udp') udp[0]?.send(route.address, route.port, data);
      else if (peer.connectionId !== undefined) streams.get(peer.transport)?.send(peer.connectionId, data);
    },
  };
  const connectionClosed = (id: number): void => deps.registrar.connectionClosed(id);
  const dispatcher = new Dispatcher(
    deps.registrar,
    sender,
    {
      serverName: config.sip.serverName,
      limits: {
        maxMessageBytes: limits.maxMessageBytes,
        maxHeaders: limits.maxHeaders,
        maxLineLength: limits.maxLineLength,
      },
      transactions: new ServerTransactions(
        config.sip.transactions.maxEntries,
        config.sip.transactions.timerJSec * 1000,
      ),
      admit: limiter === null ? undefined : (peer, now) => limiter.admit(peer.address, now),
    },
    metrics,
    log,
  );
  const onMessage = (data: Buffer, peer: Peer): void => dispatcher.handle(data, peer);

  const connectionLimits: ConnectionLimits = {
    maxMessageBytes: limits.maxMessageBytes,
    maxBufferedBytes: limits.maxBufferedBytes,
    maxConnections: limits.maxConnections,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
  };
  const streamLimits: StreamLimits = {
    ...connectionLimits,
    idleTimeoutMs: limits.idleTimeoutSec * 1000,
    tlsHandshakeTimeoutMs: limits.tlsHandshakeTimeoutSec * 1000,
    messageTimeoutMs: limits.messageTimeoutSec * 1000,
  };
  const host = config.sip.host;
  const listeners: BoundListener[] = [];
  const addStream = (s: ConnectionTransport, kind: TransportName): void => {
    s.onConnectionCount = (transport, open) => metrics.connections.set({ transport }, open);
    s.onRefused = (transport, cap) => metrics.connectionsRefused.inc({ transport, cap });
    s.onSlowReader = (transport, address) => {
      metrics.dropped.inc({ reason: 'slow-reader' });
      log.warn({ event: 'slow-reader', transport, source: address }, 'connection closed: responses left unread');
    };
    s.onClosed = connectionClosed;
    streams.set(kind, s);
    listeners.push(s.listener);
  };
  const wsLimits: WsLimits = {
    ...connectionLimits,
    handshakeTimeoutMs: limits.tlsHandshakeTimeoutSec * 1000,
    pingIntervalMs: config.sip.ws.pingIntervalSec * 1000,
    allowedOrigins: config.sip.ws.allowedOrigins,
  };
  const closeAll = (): Promise<unknown> =>
    Promise.all([...udp.map((u) => u.close()), ...[...streams.values()].map((s) => s.close())]);
  // Every core: in a worker on Node >= 22.12, each listener is a socket of the worker's own (SO_REUSEPORT) and the
  // kernel spreads the traffic; otherwise node:cluster's sharing (one UDP socket, TCP accepted in the primary).
  // Port 0 stays shared: each worker would get a different port.
  const own = (port: number): boolean => cluster.isWorker && reusePortSupported() && port !== 0;
  try {
    if (config.sip.udpPort !== 'off') {
      const u = await UdpTransport.listen(
        host,
        config.sip.udpPort,
        onMessage,
        { maxDatagram: limits.maxMessageBytes, receiveBufferBytes: limits.udpReceiveBufferBytes },
        own(config.sip.udpPort),
      );
      udp.push(u);
      listeners.push(u.listener);
      if (u.receiveBufferBytes < limits.udpReceiveBufferBytes)
        log.warn(
          { event: 'udp-buffer-capped', asked: limits.udpReceiveBufferBytes, granted: u.receiveBufferBytes },
          'UDP receive buffer capped by the kernel (net.core.rmem_max): bursts will be dropped sooner',
        );
    }
    if (config.sip.tcpPort !== 'off') {
      const port = config.sip.tcpPort;
      addStream(await StreamTransport.listen('tcp', host, port, streamLimits, onMessage, undefined, own(port)), 'tcp');
    }
    const files =
      config.sip.tlsCert !== null && config.sip.tlsKey !== null
        ? { cert: readFileSync(config.sip.tlsCert), key: readFileSync(config.sip.tlsKey) }
        : null;
    if (config.sip.tlsPort !== 'off' && files !== null) {
      const port = config.sip.tlsPort;
      addStream(await StreamTransport.listen('tls', host, port, streamLimits, onMessage, files, own(port)), 'tls');
    }
    if (config.sip.wsPort !== 'off') {
      const port = config.sip.wsPort;
      addStream(await WsTransport.listen('ws', host, port, wsLimits, onMessage, undefined, own(port)), 'ws');
    }
    if (config.sip.wssPort !== 'off' && files !== null) {
      const port = config.sip.wssPort;
      addStream(await WsTransport.listen('wss', host, port, wsLimits, onMessage, files, own(port)), 'wss');
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  for (const l of listeners)
    log.info({ transport: l.transport, address: l.address, port: l.port }, 'SIP listener bound');

  let listening = true;
  return {
    listeners,
    get listening() {
      return listening;
    },
    connectionOpen: (transport, id) => streams.get(transport)?.isOpen(id) ?? false,
    async stop(drainMs) {
      listening = false;
      // Sockets stay open while in-flight requests finish, so their responses still go out.
      dispatcher.refuseNew();
      await Promise.race([dispatcher.idle(), new Promise((r) => setTimeout(r, drainMs).unref())]);
      await closeAll();
    },
  };
}

/** SO_REUSEPORT for dgram and net listeners came with Node 23.1 and 22.12. */
export function reusePortSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}
