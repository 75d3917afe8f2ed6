/**
 * Wires the parts together: store -> registrar and operator services -> dispatcher -> transports, and the admin API.
 * main.ts calls startApp with the loaded configuration; tests call it with port 0 everywhere.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Store } from './store/types.js';
import { createStore } from './store/index.js';
import { Metrics } from './observability/metrics.js';
import { timedStore } from './observability/store-timing.js';
import { Registrar } from './registrar/register.js';
import { DEFAULT_REGISTRAR_CONFIG, type RegistrarConfig } from './registrar/config.js';
import { parseNetwork, inNetworks } from './registrar/address-match.js';
import { AccountService } from './registrar/accounts.js';
import { LockoutService } from './registrar/lockouts.js';
import { buildAdminServer } from './admin/http.js';
import { Dispatcher } from './server/dispatcher.js';
import { RateLimiter } from './server/rate-limit.js';
import { ServerTransactions } from './sip/transactions.js';
import { UdpTransport } from './transport/udp.js';
import { StreamTransport, type StreamLimits } from './transport/stream.js';
import type { BoundListener, Peer } from './transport/types.js';

export interface App {
  readonly listeners: readonly BoundListener[];
  readonly admin: { host: string; port: number };
  readonly adminToken: string;
  readonly store: Store;
  readonly accounts: AccountService;
  readonly metrics: Metrics;
  /** Stops taking messages, lets in-flight requests finish (bounded), closes the store. */
  stop(drainMs?: number): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  /** A store made by the caller (tests); otherwise one is made from config.redisUrl. */
  store?: Store;
  /** Default true; tests that start several apps in one process turn Node's default metrics off. */
  defaultMetrics?: boolean;
}

export function registrarConfigFrom(config: Config, nonceSecret: Buffer): RegistrarConfig {
  const r = config.registrar;
  const l = config.lockout;
  return {
    ...DEFAULT_REGISTRAR_CONFIG,
    domains: config.sip.domains,
    algorithms: r.algorithms,
    nonceSecret,
    nonceLifetimeMs: r.nonceLifetimeSec * 1000,
    minExpires: r.minExpires,
    maxExpires: r.maxExpires,
    defaultExpires: r.defaultExpires,
    maxContacts: r.maxContacts,
    maxContactsPolicy: r.maxContactsPolicy,
    lockout: {
      extension: { threshold: l.extension.threshold, lockMs: l.extension.lockSec * 1000 },
      address: { threshold: l.address.threshold, windowMs: l.address.windowSec * 1000, lockMs: l.address.lockSec * 1000 },
      escalation: { windowMs: l.escalation.windowSec * 1000, factor: l.escalation.factor, permanentAfter: l.escalation.permanentAfter },
    },
    trustedNetworks: l.trustedNetworks,
    passwordGraceMs: r.passwordGraceSec * 1000,
    serverName: config.sip.serverName,
  };
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const log = options.logger;
  const rawStore = options.store ?? createStore(config.redisUrl);
  if (!rawStore.persistent) log.warn({ store: rawStore.kind }, 'store is in memory: not persistent, lost on restart');
  else log.info({ store: rawStore.kind }, 'store ready');

  const metrics = new Metrics(
    {
      bindings: () => rawStore.countBindings(Date.now()),
      accounts: () => rawStore.countAccounts(),
      lockouts: async () => {
        const l = await rawStore.listLockouts(Date.now());
        return { extensions: l.extensions.length, addresses: l.addresses.length };
      },
    },
    options.defaultMetrics ?? true,
  );
  const store = timedStore(rawStore, metrics);

  const nonceSecret =
    config.registrar.nonceSecret !== null ? Buffer.from(config.registrar.nonceSecret, 'utf8') : randomBytes(32);
  const registrar = new Registrar(store, registrarConfigFrom(config, nonceSecret), log);
  const accounts = new AccountService(
    store,
    { domains: config.sip.domains, passwordPolicy: config.passwords, passwordGraceMs: config.registrar.passwordGraceSec * 1000 },
    log,
  );
  const lockouts = new LockoutService(store, log, (a) => accounts.resolveAor(a));

  const trusted = config.lockout.trustedNetworks.map((n) => parseNetwork(n)).filter((n) => n !== null);
  const { requestsPerSec, burst } = config.sip.rateLimit;
  const limiter =
    requestsPerSec > 0 ? new RateLimiter(requestsPerSec, Math.max(burst, requestsPerSec), (a) => inNetworks(a, trusted)) : null;

  const limits = config.sip.limits;
  const udp: UdpTransport[] = [];
  const streams: StreamTransport[] = [];
  const sender = {
    send(peer: Peer, route: { address: string; port: number }, data: Buffer): void {
      if (peer.transport === 'udp') {
        udp[0]?.send(route.address, route.port, data);
      } else if (peer.connectionId !== undefined) {
        streams.find((s) => s.listener.transport === peer.transport)?.send(peer.connectionId, data);
      }
    },
  };
  const dispatcher = new Dispatcher(
    registrar,
    sender,
    {
      serverName: config.sip.serverName,
      limits: { maxMessageBytes: limits.maxMessageBytes, maxHeaders: limits.maxHeaders, maxLineLength: limits.maxLineLength },
      transactions: new ServerTransactions(config.sip.transactions.maxEntries, config.sip.transactions.timerJSec * 1000),
      admit: limiter === null ? undefined : (peer, now) => limiter.admit(peer.address, now),
    },
    metrics,
    log,
  );
  const onMessage = (data: Buffer, peer: Peer): void => dispatcher.handle(data, peer);

  const streamLimits: StreamLimits = {
    maxMessageBytes: limits.maxMessageBytes,
    maxBufferedBytes: limits.maxBufferedBytes,
    maxConnections: limits.maxConnections,
    maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
    idleTimeoutMs: limits.idleTimeoutSec * 1000,
    tlsHandshakeTimeoutMs: limits.tlsHandshakeTimeoutSec * 1000,
  };
  const host = config.sip.host;
  const listeners: BoundListener[] = [];
  const watch = (s: StreamTransport): StreamTransport => {
    s.onConnectionCount = (transport, open) => metrics.connections.set({ transport }, open);
    s.onRefused = (transport, cap) => metrics.connectionsRefused.inc({ transport, cap });
    streams.push(s);
    listeners.push(s.listener);
    return s;
  };
  try {
    if (config.sip.udpPort !== 'off') {
      const u = await UdpTransport.listen(host, config.sip.udpPort, onMessage, limits.maxMessageBytes);
      udp.push(u);
      listeners.push(u.listener);
    }
    if (config.sip.tcpPort !== 'off') {
      watch(await StreamTransport.listen('tcp', host, config.sip.tcpPort, streamLimits, onMessage));
    }
    if (config.sip.tlsPort !== 'off' && config.sip.tlsCert !== null && config.sip.tlsKey !== null) {
      const files = { cert: readFileSync(config.sip.tlsCert), key: readFileSync(config.sip.tlsKey) };
      watch(await StreamTransport.listen('tls', host, config.sip.tlsPort, streamLimits, onMessage, files));
    }
  } catch (e) {
    await Promise.all([...udp.map((u) => u.close()), ...streams.map((s) => s.close())]);
    await rawStore.close();
    throw e;
  }
  for (const l of listeners) log.info({ transport: l.transport, address: l.address, port: l.port }, 'SIP listener bound');

  let generatedToken = false;
  const adminToken = config.admin.token ?? ((generatedToken = true), randomBytes(24).toString('base64url'));
  let listening = true;
  const health = async (): Promise<{ ok: boolean; detail: Record<string, unknown> }> => {
    let storeOk = true;
    try {
      await Promise.race([
        rawStore.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
    } catch {
      storeOk = false;
    }
    return { ok: listening && storeOk, detail: { listeners: listening, store: storeOk ? 'ok' : 'unavailable' } };
  };
  const admin = await buildAdminServer({
    accounts,
    lockouts,
    token: adminToken,
    metrics: () => metrics.render(),
    health,
    ready: async () => (await health()).ok,
    logger: log,
  });
  await admin.listen({ host: config.admin.host, port: config.admin.port });
  const adminAddr = admin.server.address() as AddressInfo;
  log.info({ address: adminAddr.address, port: adminAddr.port }, 'admin API listening');
  if (generatedToken) {
    // Printed once, on stdout only, so the operator can use it; never logged again.
    process.stdout.write(`ADMIN_TOKEN=${adminToken}\n`);
  }

  return {
    listeners,
    admin: { host: adminAddr.address, port: adminAddr.port },
    adminToken,
    store,
    accounts,
    metrics,
    async stop(drainMs = 5_000) {
      listening = false;
      // Stop taking new messages; answer what is in flight (sockets stay open for that); then close everything.
      dispatcher.refuseNew();
      await Promise.race([dispatcher.idle(), new Promise((r) => setTimeout(r, drainMs).unref())]);
      await Promise.all([...udp.map((u) => u.close()), ...streams.map((s) => s.close())]);
      await admin.close();
      await rawStore.close();
    },
  };
}
