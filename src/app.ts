/**
 * Wires the parts together: store -> registrar and operator services -> SIP server (transports, dispatcher) and the
 * admin API. main.ts calls startApp with the loaded configuration; tests call it with port 0 everywhere.
 *
 * Roles: 'all' is the usual single process. In worker mode (src/cluster.ts) each worker runs 'sip' and the primary
 * runs 'admin', so the API, /metrics and /healthz answer from one place while every core serves SIP.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Store } from './store/types.js';
import { createStore } from './store/index.js';
import { Metrics } from './observability/metrics.js';
import { timedStore } from './observability/store-timing.js';
import { Registrar } from './registrar/register.js';
import { DEFAULT_REGISTRAR_CONFIG, type RegistrarConfig } from './registrar/config.js';
import { parseNetworks, inNetworks } from './registrar/address-match.js';
import { AccountService } from './registrar/accounts.js';
import { LockoutService } from './registrar/lockouts.js';
import type { NonceKeys } from './registrar/nonce.js';
import { NonceKeyService } from './registrar/nonce-keys.js';
import { buildAdminServer } from './admin/http.js';
import { startSipServer, type SipServer } from './server/sip-server.js';
import type { BoundListener } from './transport/types.js';

export type AppRole = 'all' | 'sip' | 'admin';

export interface App {
  readonly listeners: readonly BoundListener[];
  /** null in the 'sip' role. */
  readonly admin: { host: string; port: number } | null;
  readonly adminToken: string;
  readonly store: Store;
  readonly accounts: AccountService;
  readonly metrics: Metrics;
  /** Stops taking messages, lets in-flight requests finish (at most drainMs), closes the store. */
  stop(drainMs?: number): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  /** A store made by the caller (tests); otherwise one is made from config.redisUrl. */
  store?: Store;
  /** Default true; tests that start several apps in one process turn Node's default metrics off. */
  defaultMetrics?: boolean;
  role?: AppRole;
  /** 'admin' role: whether the SIP workers are up (for /healthz). */
  sipHealthy?: () => boolean;
  /** 'admin' role: the workers' metrics, in Prometheus text, appended to /metrics. */
  workerMetrics?: () => Promise<string>;
}

export function registrarConfigFrom(config: Config, nonceKeys: NonceKeys): RegistrarConfig {
  const r = config.registrar;
  const l = config.lockout;
  return {
    ...DEFAULT_REGISTRAR_CONFIG,
    domains: config.sip.domains,
    algorithms: r.algorithms,
    domainAlgorithms: r.domainAlgorithms,
    nextNonce: r.nextNonce,
    nonceKeys,
    nonceLifetimeMs: r.nonceLifetimeSec * 1000,
    minExpires: r.minExpires,
    maxExpires: r.maxExpires,
    defaultExpires: r.defaultExpires,
    maxContacts: r.maxContacts,
    maxContactsPolicy: r.maxContactsPolicy,
    lockout: {
      extension: { threshold: l.extension.threshold, lockMs: l.extension.lockSec * 1000 },
      address: {
        threshold: l.address.threshold,
        windowMs: l.address.windowSec * 1000,
        lockMs: l.address.lockSec * 1000,
      },
      escalation: {
        windowMs: l.escalation.windowSec * 1000,
        factor: l.escalation.factor,
        permanentAfter: l.escalation.permanentAfter,
      },
    },
    trustedNetworks: l.trustedNetworks,
    passwordGraceMs: r.passwordGraceSec * 1000,
    serverName: config.sip.serverName,
    cacheMs: r.cacheSec * 1000,
  };
}

/** Resolves false when the store does not answer within a second. */
async function storeAnswers(store: Store): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), 1000);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export async function startApp(config: Config, options: AppOptions): Promise<App> {
  const log = options.logger;
  const role = options.role ?? 'all';
  const rawStore = options.store ?? createStore(config);
  if (role !== 'sip') {
    if (!rawStore.persistent) log.warn({ store: rawStore.kind }, 'store is in memory: not persistent, lost on restart');
    else log.info({ store: rawStore.kind }, 'store ready');
  }

  // Store-backed gauges live where the admin API is (one reading per scrape, not one per worker).
  const metrics = new Metrics(
    role === 'sip'
      ? null
      : {
          bindings: () => rawStore.countBindings(Date.now()),
          accounts: () => rawStore.countAccounts(),
          lockouts: async () => {
            const l = await rawStore.listLockouts(Date.now());
            return { extensions: l.extensions.length, addresses: l.addresses.length };
          },
        },
    (options.defaultMetrics ?? true) && role !== 'admin',
  );
  const store = timedStore(rawStore, metrics);
  // The operator services tell the registrar what they changed: at once in this process, and every other instance
  // (and worker) through the store's change channel. A message missed is covered by the cache's time limit.
  let registrar: Registrar | null = null;
  const changed = (aor: string | null): void => {
    registrar?.forget(aor);
    rawStore
      .announceChange(aor)
      .catch((err: unknown) => log.warn({ err, event: 'announce-failed' }, 'change not announced'));
  };
  const accounts = new AccountService(
    store,
    {
      domains: config.sip.domains,
      passwordPolicy: config.passwords,
      passwordGraceMs: config.registrar.passwordGraceSec * 1000,
      onChange: changed,
    },
    log,
  );

  const nonceKeys = new NonceKeyService(
    rawStore,
    {
      secret: config.registrar.nonceSecret,
      previous: config.registrar.previousNonceSecret,
      lifetimeMs: config.registrar.nonceLifetimeSec * 1000,
    },
    log,
  );
  let sip: SipServer | null = null;
  if (role !== 'admin') {
    const trusted = parseNetworks(config.lockout.trustedNetworks);
    try {
      registrar = new Registrar(store, registrarConfigFrom(config, await nonceKeys.load(Date.now())), log);
      nonceKeys.follow(registrar.nonces);
      rawStore.onChange((aor) => registrar?.forget(aor));
      sip = await startSipServer(config, {
        registrar,
        metrics,
        logger: log,
        exempt: (address) => inNetworks(address, trusted),
      });
    } catch (e) {
      nonceKeys.stop();
      await rawStore.close();
      throw e;
    }
  }

  let generatedToken = false;
  const adminToken = config.admin.token ?? ((generatedToken = true), randomBytes(24).toString('base64url'));
  let admin: Awaited<ReturnType<typeof buildAdminServer>> | null = null;
  let adminAddress: { host: string; port: number } | null = null;
  if (role !== 'sip') {
    const sipUp = (): boolean => (sip !== null ? sip.listening : (options.sipHealthy?.() ?? false));
    const health = async (): Promise<{ ok: boolean; detail: Record<string, unknown> }> => {
      const storeOk = await storeAnswers(rawStore);
      const listeners = sipUp();
      return { ok: listeners && storeOk, detail: { listeners, store: storeOk ? 'ok' : 'unavailable' } };
    };
    admin = await buildAdminServer({
      accounts,
      lockouts: new LockoutService(store, log, (a) => accounts.resolveAor(a), changed),
      nonceKeys,
      audit: { list: (limit, cursor) => store.listAudit(limit, cursor) },
      flowLive: (b) => {
        const { connectionId, node, transport } = b.source;
        if (connectionId === null || sip === null || registrar === null || node !== registrar.node) return null;
        return sip.connectionOpen(transport, connectionId);
      },
      token: adminToken,
      metrics: async () => {
        const own = await metrics.render();
        const workers = options.workerMetrics ? await options.workerMetrics() : '';
        return { contentType: own.contentType, body: workers === '' ? own.body : `${own.body}\n${workers}` };
      },
      health,
      ready: async () => (await health()).ok,
      logger: log,
    });
    await admin.listen({ host: config.admin.host, port: config.admin.port });
    const addr = admin.server.address() as AddressInfo;
    adminAddress = { host: addr.address, port: addr.port };
    // Printed once, on stdout only, so the operator can use it; never logged. Before the line that says the API is
    // up, so whoever waits for that line has the token too.
    if (generatedToken) process.stdout.write(`ADMIN_TOKEN=${adminToken}\n`);
    log.info({ address: addr.address, port: addr.port }, 'admin API listening');
  }

  return {
    listeners: sip?.listeners ?? [],
    admin: adminAddress,
    adminToken,
    store,
    accounts,
    metrics,
    async stop(drainMs = 5_000) {
      await sip?.stop(drainMs);
      nonceKeys.stop();
      await admin?.close();
      await rawStore.close();
    },
  };
}
