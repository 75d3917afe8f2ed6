/**
 * Debian's own softphones register with the registrar as `npm start` configures it (config/default.json; only ports,
 * the listen address and a throwaway TLS certificate set here): sipsak, baresip and linphonec, over UDP, TCP and TLS.
 * Each registers, shows up in the bindings with its own User-Agent, and unregisters (the binding is gone). Whatever
 * they send, no authentication failure is counted. The measured results are in docs/interop.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificate } from '../helpers/tls-cert.js';
import {
  ADMIN_TOKEN,
  DEFAULT_CONFIG,
  createAccounts,
  killAll,
  spawnServer,
  type ServerProcess,
} from '../helpers/server-process.js';
import {
  baresip,
  cleanHomes,
  freeListenPort,
  linphonec,
  linphonecRegistered,
  requireClient,
  sipsak,
  type SipTransport,
  type Target,
} from '../helpers/softphones.js';

const DOMAIN = 'localhost';
const PASSWORD = 'softphone-secret-42';

interface BindingView {
  contact: string;
  userAgent: string | null;
  transport: string;
  registeredAt: string;
  updatedAt: string;
  cseq: number;
}

describe('real softphones against the default configuration', () => {
  let server: ServerProcess;
  let next = 0;

  beforeAll(async () => {
    for (const c of ['sipsak', 'baresip', 'linphonec'] as const) requireClient(c);
    const { certFile, keyFile } = makeCertificate();
    server = await spawnServer(
      {
        SIP_DOMAINS: DOMAIN,
        NONCE_SECRET: undefined,
        SIP_TLS_PORT: '0',
        SIP_TLS_CERT: certFile,
        SIP_TLS_KEY: keyFile,
      },
      DEFAULT_CONFIG,
    );
    caFile = certFile;
  }, 30_000);
  let caFile = '';

  afterAll(() => {
    killAll();
    cleanHomes();
  });

  async function target(transport: SipTransport): Promise<Target> {
    const user = `${2000 + next++}`;
    await createAccounts(server.adminUrl, [user], PASSWORD, DOMAIN);
    const port = transport === 'udp' ? server.udpPort : transport === 'tcp' ? server.tcpPort : server.tlsPort;
    return { port, transport, user, domain: DOMAIN, password: PASSWORD, caFile };
  }

  async function bindings(user: string): Promise<BindingView[]> {
    const res = await fetch(`${server.adminUrl}/api/v1/accounts/${user}@${DOMAIN}/bindings`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { bindings: BindingView[] }).bindings;
  }

  /** Polls until the bindings satisfy `ok`, for at most `ms`. */
  async function until(user: string, ok: (b: BindingView[]) => boolean, ms: number): Promise<BindingView[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const b = await bindings(user);
      if (ok(b) || Date.now() > deadline) return b;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** No authentication failure was logged for the user: every answer the client sent was taken or re-challenged. */
  function noFailures(user: string): void {
    const failed = server.lines.filter((l) => l.includes('"auth-failed"') && l.includes(`"${user}@${DOMAIN}"`));
    expect(failed).toEqual([]);
  }

  it.concurrent('sipsak 0.9.8 registers and unregisters over UDP', async () => {
    const t = await target('udp');
    const contactPort = await freeListenPort();
    const reg = await sipsak(t, 120, contactPort);
    expect(reg.code, reg.output).toBe(0);
    const [b] = await bindings(t.user);
    expect(b).toMatchObject({ contact: `sip:${t.user}@127.0.0.1:${contactPort}`, transport: 'udp' });
    expect(b?.userAgent).toMatch(/^sipsak 0\.9\.8/);
    const unreg = await sipsak(t, 0, contactPort);
    expect(unreg.code, unreg.output).toBe(0);
    expect(await bindings(t.user)).toEqual([]);
    noFailures(t.user);
  });

  it.concurrent.each<SipTransport>(['udp', 'tcp', 'tls'])(
    'baresip 1.0 registers and unregisters over %s',
    async (transport) => {
      const t = await target(transport);
      const phone = await baresip(t, 4);
      const live = await until(t.user, (b) => b.length === 1, 8_000);
      expect(live, phone.output.join('')).toHaveLength(1);
      expect(live[0]?.userAgent).toMatch(/^baresip v1\./);
      expect(live[0]?.transport).toBe(transport);
      await phone.exit; // -t: it quits and unregisters
      expect(await until(t.user, (b) => b.length === 0, 5_000), phone.output.join('')).toEqual([]);
      expect(phone.output.join('')).toMatch(/200 OK \(sipreg\)/);
      noFailures(t.user);
    },
    30_000,
  );

  it.concurrent.each<SipTransport>(['udp', 'tcp', 'tls'])(
    'linphonec 5.1 registers and unregisters over %s',
    async (transport) => {
      const t = await target(transport);
      const phone = linphonec(t, 600, 25_000);
      const live = await until(t.user, (b) => b.length === 1, 10_000);
      expect(live, phone.output.join('')).toHaveLength(1);
      expect(live[0]?.userAgent).toMatch(/^Linphonec?\//i);
      expect(live[0]?.transport).toBe(transport);
      expect(await linphonecRegistered(phone, 8_000), phone.output.join('')).toBe(true);
      phone.send('unregister');
      const gone = await until(t.user, (b) => b.length === 0, 8_000);
      phone.send('quit');
      await phone.exit;
      expect(gone, phone.output.join('')).toEqual([]);
      noFailures(t.user);
    },
    30_000,
  );

  it.concurrent(
    'linphonec refreshes a 60 s registration on its own, then unregisters',
    async () => {
      const t = await target('udp');
      const phone = linphonec(t, 60, 90_000);
      const first = await until(t.user, (b) => b.length === 1, 10_000);
      expect(first, phone.output.join('')).toHaveLength(1);
      const registeredAt = first[0]?.updatedAt;
      // liblinphone refreshes before the expiry runs out (at about 90 % of it).
      const refreshed = await until(t.user, (b) => b.length === 1 && b[0]?.updatedAt !== registeredAt, 70_000);
      expect(refreshed[0]?.updatedAt, phone.output.join('')).not.toBe(registeredAt);
      expect(refreshed[0]?.cseq).toBeGreaterThan(first[0]?.cseq ?? 0);
      expect(await linphonecRegistered(phone, 8_000), phone.output.join('')).toBe(true);
      phone.send('quit');
      await phone.exit;
      expect(await until(t.user, (b) => b.length === 0, 8_000)).toEqual([]);
      noFailures(t.user);
    },
    100_000,
  );
});
