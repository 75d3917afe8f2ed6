/** Starts the whole registrar in-process on free ports (port 0 everywhere), with its log lines captured. */
import { Writable } from 'node:stream';
import { DEFAULT_CONFIG, type Config } from '../../src/config.js';
import { createLogger } from '../../src/observability/log.js';
import { startApp, type App } from '../../src/app.js';
import type { Store } from '../../src/store/types.js';
import { makeCertificate } from './tls-cert.js';

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (over === undefined) return base;
  const out = { ...base } as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object'
        ? merge(b, v as DeepPartial<typeof b>)
        : v;
  }
  return out as T;
}

export interface TestApp {
  app: App;
  config: Config;
  udpPort: number;
  tcpPort: number;
  wsPort: number;
  /** -1 without a TLS certificate. */
  wssPort: number;
  tlsPort: number;
  adminUrl: string;
  token: string;
  /** Every log line written so far, raw JSON text. */
  logs: string[];
  stop(): Promise<void>;
}

export async function startTestApp(overrides?: DeepPartial<Config>, options: { store?: Store } = {}): Promise<TestApp> {
  const config = merge(
    merge(DEFAULT_CONFIG, {
      sip: {
        host: '127.0.0.1',
        udpPort: 0,
        tcpPort: 0,
        tlsPort: 'off',
        wsPort: 0,
        wssPort: 'off',
        domains: ['example.com', 'other.test'],
      },
      admin: { host: '127.0.0.1', port: 0, token: 'test-token' },
      registrar: { nonceSecret: 'test-nonce-secret' },
      log: { level: 'debug' },
    }),
    overrides,
  );
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') logs.push(line);
      cb();
    },
  });
  const logger = createLogger(config.log.level, sink);
  const app = await startApp(config, { logger, store: options.store, defaultMetrics: false });
  const port = (t: string): number => app.listeners.find((l) => l.transport === t)?.port ?? -1;
  return {
    app,
    config,
    udpPort: port('udp'),
    tcpPort: port('tcp'),
    tlsPort: port('tls'),
    wsPort: port('ws'),
    wssPort: port('wss'),
    adminUrl: `http://127.0.0.1:${app.admin?.port ?? 0}`,
    token: app.adminToken,
    logs,
    stop: () => app.stop(100),
  };
}

/** The same, with a TLS listener on a throwaway certificate (openssl). */
export async function startTlsTestApp(
  overrides: DeepPartial<Config> = {},
  options: { store?: Store } = {},
): Promise<TestApp> {
  const { certFile, keyFile } = makeCertificate();
  return startTestApp(
    merge(overrides, { sip: { tlsPort: 0, wssPort: 0, tlsCert: certFile, tlsKey: keyFile } }),
    options,
  );
}
