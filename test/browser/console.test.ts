/**
 * The operators' web console in a real Chromium (headless, loopback only), against a real sipreg: controls are found
 * by role and accessible name only, as the contract names them. Sign in and out; a lockout made by wrong REGISTERs
 * shows up by itself, is lifted and the phone registers; Lift all with its in-page Confirm; an account created with a
 * shown-once password registers; a password reset makes the device disappear; a hostile User-Agent stays inert
 * text; the CSP header is there; no token in browser storage or a readable cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchChromium } from '../helpers/browser.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { UdpClient } from '../helpers/sip-client.js';

const DOMAIN = 'example.com';
const PASSWORD = 'console-phone-pw-1';
const HOSTILE_UA = '<img src=x onerror=alert(1)>';

describe('web console in Chromium', () => {
  let t: TestApp;
  let chromium: { browser: Browser; close(): Promise<void> };
  let context: BrowserContext;
  let page: Page;
  let dialogs = 0;
  const clients: UdpClient[] = [];

  /** A phone at a loopback address of its own (127.0.0.x), so address lockouts hit only it. */
  async function phoneAt(address: string, user: string, password = PASSWORD): Promise<Phone> {
    const udp = await UdpClient.open(4, address);
    clients.push(udp);
    const channel: Channel = {
      request: (text) => udp.request(text, t.udpPort),
      via: `UDP ${address}:${udp.port}`,
      contactHost: `${address}:${udp.port}`,
    };
    return new Phone(channel, { user, domain: DOMAIN, password });
  }

  beforeAll(async () => {
    [t, chromium] = await Promise.all([
      startTestApp({
        lockout: { extension: { threshold: 3, lockSec: 600 }, address: { threshold: 6, windowSec: 600, lockSec: 600 } },
      }),
      launchChromium(),
    ]);
    context = await chromium.browser.newContext();
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await chromium?.close();
    await t?.stop();
  });

  const consoleUrl = (): string => `${t.adminUrl}/console/`;

  it('shows nothing but sign-in before signing in, refuses a wrong token visibly, and signs in', async () => {
    const res = await page.goto(consoleUrl());
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res?.headers()['content-security-policy']).not.toMatch(/unsafe-inline/);
    await expect(page.getByRole('link', { name: 'Accounts' }).count()).resolves.toBe(0);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong admin token' }).waitFor();
    await page.getByLabel('Admin token').fill(t.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Blacklisted extensions' }).waitFor();
    await page.getByRole('heading', { name: 'Blacklisted addresses' }).waitFor();
    for (const name of ['Blacklist', 'Accounts', 'Devices', 'Audit'])
      expect(await page.getByRole('link', { name }).count()).toBe(1);
    // The token is nowhere the page can read; the session cookie is HttpOnly and SameSite=Strict.
    const storage = String(await page.evaluate('JSON.stringify([localStorage, sessionStorage, document.cookie])'));
    expect(storage).not.toContain(t.token);
    expect(await page.evaluate('document.cookie')).toBe('');
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'sipreg_session', httpOnly: true, sameSite: 'Strict' });
    expect(cookies[0]?.value).not.toContain(t.token);
    expect(page.url()).not.toContain(t.token);
  });

  it('a lockout made by wrong REGISTERs appears by itself, with the hostile user agent as inert text; Lift lets the phone in', async () => {
    await t.app.accounts.create({ username: 'victim', domain: DOMAIN, password: PASSWORD });
    await page.getByRole('link', { name: 'Blacklist' }).click();
    const attacker = await phoneAt('127.0.0.3', 'victim', 'wrong-password-x');
    for (let i = 0; i < 3; i++) await attacker.register({ userAgent: HOSTILE_UA });
    // The page polls: the row appears without a reload.
    const row = page.getByRole('row').filter({ hasText: `victim@${DOMAIN}` });
    await row.waitFor({ timeout: 6000 });
    expect(await row.getByText(HOSTILE_UA, { exact: true }).count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    // Every cell sits under its column: read the row by the table's own column headers.
    const table = page.getByRole('table').filter({ has: row });
    const headers = await table.getByRole('columnheader').allInnerTexts();
    const cells = await row.getByRole('cell').allInnerTexts();
    expect(cells).toHaveLength(headers.length);
    const cell = (name: string): string => cells[headers.indexOf(name)] ?? '';
    expect(cell('Extension')).toBe(`victim@${DOMAIN}`);
    expect(cell('Failures')).toBe('3');
    expect(cell('Sources seen')).toBe('127.0.0.3');
    for (const c of ['First failure', 'Last failure', 'Locked until']) expect(cell(c)).toMatch(/^\d{4}-\d\d-\d\d/);
    expect(cell('User agent')).toBe(HOSTILE_UA);
    expect(cell('Level')).toBe('1');
    expect(dialogs).toBe(0);
    const phone = await phoneAt('127.0.0.4', 'victim');
    expect((await phone.register()).status).toBe(403); // locked
    await row.getByRole('button', { name: 'Lift', exact: true }).click();
    await row.waitFor({ state: 'detached' });
    expect((await phone.register()).status).toBe(200);
  });

  it('Lift all lifts extensions and addresses after an in-page Confirm', async () => {
    await t.app.accounts.create({ username: 'ext1', domain: DOMAIN, password: PASSWORD });
    const bad = await phoneAt('127.0.0.5', 'ext1', 'wrong-password-y');
    for (let i = 0; i < 3; i++) await bad.register();
    for (let i = 0; i < 6; i++) {
      const p = await phoneAt('127.0.0.6', `nobody${i}`, 'nope');
      await p.register().catch(() => undefined); // the last ones go unanswered: the address is locked
    }
    await page.reload();
    await page
      .getByRole('row')
      .filter({ hasText: `ext1@${DOMAIN}` })
      .waitFor();
    await page.getByRole('row').filter({ hasText: '127.0.0.6' }).first().waitFor();
    await page.getByRole('button', { name: 'Lift all' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('No locked extensions.').waitFor();
    await page.getByText('No locked addresses.').waitFor();
    expect((await t.app.store.listLockouts(Date.now())).extensions).toEqual([]);
    expect(dialogs).toBe(0);
  });

  it('creates an account with a password shown once, which registers; a reset shows the warning and the device disappears', async () => {
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByText('Create account').click();
    await page.getByLabel('Username').fill('newdesk');
    await page.getByRole('button', { name: 'Create' }).click();
    const shown = page.locator('#once-password');
    await shown.waitFor();
    const password = (await shown.textContent()) ?? '';
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect(await page.getByRole('button', { name: 'Copy password' }).count()).toBe(1);
    const desk = await phoneAt('127.0.0.7', 'newdesk', password);
    expect((await desk.register({ userAgent: 'Yealink SIP-T54W 96.86' })).status).toBe(200);

    await page.getByRole('link', { name: 'Devices' }).click();
    const device = page.getByRole('row').filter({ hasText: `newdesk@${DOMAIN}` });
    await device.waitFor();
    expect(await device.getByText('Yealink SIP-T54W 96.86').count()).toBe(1);

    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('button', { name: `Reset password for newdesk@${DOMAIN}` }).click();
    await page.getByText('de-registered').first().waitFor();
    await page.getByRole('button', { name: 'Confirm' }).click();
    const fresh = page.locator('#once-password');
    await fresh.waitFor();
    expect(await fresh.textContent()).not.toBe(password);
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    expect(
      await page
        .getByRole('row')
        .filter({ hasText: `newdesk@${DOMAIN}` })
        .count(),
    ).toBe(0);
  });

  it('the audit page shows who lifted what', async () => {
    await page.getByRole('link', { name: 'Audit' }).click();
    const lift = page.getByRole('row').filter({ hasText: 'lockout.lift.extension' });
    await lift.first().waitFor();
    expect(await lift.first().textContent()).toMatch(/console:[0-9a-f]{8}/);
    expect(await page.getByRole('row').filter({ hasText: 'lockout.extension' }).first().textContent()).toMatch(
      /registrar/,
    );
  });

  it('signs out: the old cookie then gets the same 401 as no cookie', async () => {
    const [cookie] = await context.cookies();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    const withOld = await fetch(`${t.adminUrl}/console/blacklist`, {
      headers: { cookie: `sipreg_session=${cookie?.value}` },
    });
    const without = await fetch(`${t.adminUrl}/console/blacklist`);
    expect(withOld.status).toBe(401);
    expect(without.status).toBe(401);
    const change = await fetch(`${t.adminUrl}/console/blacklist/lift-all`, {
      method: 'POST',
      headers: { cookie: `sipreg_session=${cookie?.value}` },
    });
    expect(change.status).toBe(401);
  });
});
