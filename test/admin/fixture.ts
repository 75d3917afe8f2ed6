/** An admin server listening on 127.0.0.1 (port 0) over a given store, with every log line captured. */
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { buildAdminServer } from '../../src/admin/http.js';
import { AccountService } from '../../src/registrar/accounts.js';
import { LockoutService } from '../../src/registrar/lockouts.js';
import { NonceKeyService } from '../../src/registrar/nonce-keys.js';
import type { Binding, LockoutPolicy } from '../../src/domain/types.js';
import type { Store } from '../../src/store/types.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const DOMAINS = ['example.com', 'other.example'];

export interface AdminFixture {
  url: string;
  store: Store;
  accounts: AccountService;
  logs: string[];
  close(): Promise<void>;
}

export async function startAdmin(
  store: Store,
  opts: { healthy?: boolean; nonceSecret?: string } = {},
): Promise<AdminFixture> {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) });
  const accounts = new AccountService(
    store,
    { domains: DOMAINS, passwordPolicy: { minLength: 12, forbidUsername: true }, passwordGraceMs: 3_600_000 },
    logger,
  );
  const lockouts = new LockoutService(store, logger, (a) => accounts.resolveAor(a));
  const app = await buildAdminServer({
    accounts,
    lockouts,
    nonceKeys: new NonceKeyService(
      store,
      { secret: opts.nonceSecret ?? null, previous: null, lifetimeMs: 300_000 },
      logger,
    ),
    audit: { list: (limit, cursor) => store.listAudit(limit, cursor) },
    token: TOKEN,
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'sipreg_up 1\n' }),
    health: async () => ({ ok: opts.healthy ?? true, detail: { store: store.kind } }),
    logger,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, store, accounts, logs, close: () => app.close() };
}

export interface Reply {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  opts: { token?: string | null; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}

export function binding(key: string, now: number, address = '192.0.2.10'): Binding {
  return {
    key,
    uri: `sip:${key}@${address}:5060`,
    params: '',
    q: null,
    expiresAt: now + 3_600_000,
    callId: `call-${key}`,
    cseq: 1,
    instance: null,
    regId: null,
    path: [],
    source: { transport: 'udp', address, port: 5060, connectionId: null, node: null },
    userAgent: 'TestPhone/1.0',
    registeredAt: now,
    updatedAt: now,
  };
}

/** Writes a binding the way the registrar does (read version, commit). */
export async function seedBinding(store: Store, aor: string, key = 'phone1', address = '192.0.2.10'): Promise<void> {
  const now = Date.now();
  const snap = await store.loadRegistration(aor, address, now);
  const result = await store.commitRegistration({
    aor,
    expectedVersion: snap.version,
    bindings: [...snap.bindings, binding(key, now, address)],
    nonce: null,
    now,
    authenticated: true,
  });
  if (result !== 'ok') throw new Error(`seedBinding: ${result}`);
}

export const POLICY: LockoutPolicy = {
  extension: { threshold: 3, lockMs: 900_000 },
  address: { threshold: 5, windowMs: 600_000, lockMs: 900_000 },
  escalation: { windowMs: 86_400_000, factor: 2, permanentAfter: 0 },
};

export async function fail(store: Store, aor: string | null, address: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await store.recordFailure({ aor, address, countAddress: true, now: Date.now(), policy: POLICY });
  }
}
