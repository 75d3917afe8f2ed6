/**
 * Browser softphones: unmodified JsSIP and SIP.js in headless Chromium (Debian's, driven by playwright-core) register
 * over ws:// and wss:// (RFC 7118), unregister, leave one binding across a page reload (RFC 5626 flows), lose their
 * binding when the page closes, and register with short-lived credentials minted for a web app, which stop working
 * once they expire. Chromium resolves no host but loopback and runs with background networking off.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTlsTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { servePage } from '../helpers/softphone-page.js';

const DOMAIN = 'example.com';
const PASSWORD = 'browser-softphone-9';

interface Login {
  url: string;
  user: string;
  domain: string;
  password: string;
  authUser?: string;
  instanceId: string;
}

/** The libraries' objects as the page sees them (these functions run in the browser, untyped there). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** Starts a UA in the page and registers; resolves 'registered' or 'failed:<status>'. */
const REGISTER: Record<'JsSIP' | 'SIP.js', (l: Login) => Promise<string>> = {
  JsSIP: (l) =>
    new Promise((resolve) => {
      const w = globalThis as unknown as Record<string, Loose>;
      const JsSIP = w.JsSIP;
      const ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(l.url)],
        uri: `sip:${l.user}@${l.domain}`,
        password: l.password,
        authorization_user: l.authUser ?? l.user,
        instance_id: l.instanceId,
        register: true,
        register_expires: 600,
      });
      w.ua = ua;
      ua.on('registered', () => resolve('registered'));
      ua.on('registrationFailed', (e: Loose) => resolve(`failed:${e.response?.status_code ?? e.cause}`));
      ua.start();
    }),
  'SIP.js': (l) =>
    new Promise((resolve) => {
      const w = globalThis as unknown as Record<string, Loose>;
      const SIP = w.SIP;
      const ua = new SIP.UserAgent({
        uri: SIP.UserAgent.makeURI(`sip:${l.user}@${l.domain}`),
        transportOptions: { server: l.url },
        authorizationUsername: l.authUser ?? l.user,
        authorizationPassword: l.password,
        instanceId: l.instanceId,
        logLevel: 'error',
      });
      const reg = new SIP.Registerer(ua, { regId: 1, expires: 600 });
      w.ua = ua;
      w.reg = reg;
      reg.stateChange.addListener((s: string) => s === 'Registered' && resolve('registered'));
      void ua
        .start()
        .then(() =>
          reg.register({ requestDelegate: { onReject: (r: Loose) => resolve(`failed:${r.message.statusCode}`) } }),
        );
    }),
};

/** Unregisters the page's UA; resolves once the library reports it. */
const UNREGISTER: Record<'JsSIP' | 'SIP.js', () => Promise<string>> = {
  JsSIP: () =>
    new Promise((resolve) => {
      const ua = (globalThis as unknown as Record<string, Loose>).ua;
      ua.on('unregistered', () => resolve('unregistered'));
      ua.unregister();
    }),
  'SIP.js': () =>
    new Promise((resolve) => {
      const reg = (globalThis as unknown as Record<string, Loose>).reg;
      reg.stateChange.addListener((s: string) => s === 'Unregistered' && resolve('unregistered'));
      void reg.unregister();
    }),
};

const LIBRARIES = ['JsSIP', 'SIP.js'] as const;
const UA_PATTERN = { JsSIP: /^JsSIP 3\./, 'SIP.js': /^SIP\.js\/0\./ };

describe('browser softphones in Chromium', () => {
  let t: TestApp;
  let chromium: { browser: Browser; close(): Promise<void> };
  let page: { url: string; close(): Promise<void> };
  let n = 0;

  beforeAll(async () => {
    [t, chromium, page] = await Promise.all([startTlsTestApp(), launchChromium(), servePage()]);
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    await page?.close();
    await t?.stop();
  });

  const wsUrl = (kind: 'ws' | 'wss'): string => `${kind}://127.0.0.1:${kind === 'ws' ? t.wsPort : t.wssPort}`;
  const bindings = (user: string) => t.app.store.getBindings(`${user}@${DOMAIN}`, Date.now());
  async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (ok(v) || Date.now() > deadline) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async function account(): Promise<string> {
    const user = `b${n++}`;
    await t.app.accounts.create({ username: user, domain: DOMAIN, password: PASSWORD });
    return user;
  }
  async function open(): Promise<Page> {
    const p = await chromium.browser.newPage();
    await p.goto(page.url);
    return p;
  }
  const uuid = (): string => crypto.randomUUID();

  for (const lib of LIBRARIES) {
    for (const kind of ['ws', 'wss'] as const) {
      it(`${lib} registers over ${kind}:// and unregisters`, async () => {
        const user = await account();
        const p = await open();
        try {
          const login: Login = { url: wsUrl(kind), user, domain: DOMAIN, password: PASSWORD, instanceId: uuid() };
          expect(await p.evaluate(REGISTER[lib], login)).toBe('registered');
          const [b, ...more] = await bindings(user);
          expect(more).toEqual([]);
          expect(b?.source.transport).toBe(kind);
          expect(b?.userAgent).toMatch(UA_PATTERN[lib]);
          expect(b?.uri).toMatch(/\.invalid/);
          expect(await p.evaluate(UNREGISTER[lib])).toBe('unregistered');
          expect(await bindings(user)).toEqual([]);
        } finally {
          await p.close();
        }
      });
    }

    it(`${lib}: a reload with the same instance id leaves one binding; closing the page removes it`, async () => {
      const user = await account();
      const login: Login = { url: wsUrl('ws'), user, domain: DOMAIN, password: PASSWORD, instanceId: uuid() };
      const p = await open();
      expect(await p.evaluate(REGISTER[lib], login)).toBe('registered');
      await p.reload();
      expect(await p.evaluate(REGISTER[lib], login)).toBe('registered');
      const after = await until(
        () => bindings(user),
        (b) => b.length === 1,
        3000,
      );
      expect(after).toHaveLength(1);
      expect(after[0]?.instance).toBe(`<urn:uuid:${login.instanceId}>`);
      await p.close();
      expect(
        await until(
          () => bindings(user),
          (b) => b.length === 0,
        ),
      ).toEqual([]);
    });
  }

  it('SIP.js registers with short-lived credentials minted for a web app, and is refused once they expire', async () => {
    const user = await account();
    // Minted through the API, then as a web backend would from the secret (docs: the formula).
    const minted = await t.app.accounts.mintCredentials(`${user}@${DOMAIN}`, 600);
    const p = await open();
    try {
      const login = (authUser: string, password: string): Login => ({
        url: wsUrl('wss'),
        user,
        domain: DOMAIN,
        password,
        authUser,
        instanceId: uuid(),
      });
      expect(await p.evaluate(REGISTER['SIP.js'], login(minted.username, minted.password))).toBe('registered');
      const [b] = await bindings(user);
      expect(b?.expiresAt).toBeLessThanOrEqual(minted.expiresAt);
      await p.evaluate(UNREGISTER['SIP.js']);

      const { secret } = await t.app.accounts.rotateCredentialSecret(`${user}@${DOMAIN}`);
      const expiry = Math.floor(Date.now() / 1000) + 2;
      const username = `${expiry}:${user}`;
      const password = createHmac('sha1', secret).update(username).digest('base64');
      await p.reload();
      expect(await p.evaluate(REGISTER.JsSIP, login(username, password))).toBe('registered');
      const [short] = await bindings(user);
      expect(short?.expiresAt).toBe(expiry * 1000); // never outlives the credentials
      await new Promise((r) => setTimeout(r, expiry * 1000 - Date.now() + 300));
      await p.reload();
      expect(await p.evaluate(REGISTER.JsSIP, login(username, password))).toBe('failed:403');
      // The old minted ones died with the rotation.
      await p.reload();
      expect(await p.evaluate(REGISTER['SIP.js'], login(minted.username, minted.password))).toMatch(/^failed:/);
    } finally {
      await p.close();
    }
  }, 30_000);
});
