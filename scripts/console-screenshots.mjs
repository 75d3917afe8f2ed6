/**
 * Screenshots of the console's pages for docs/ (docs/console-*.png), taken from a real sipreg on loopback with a
 * few accounts, a device and a lockout. usage: npm run build && node scripts/console-screenshots.mjs
 */
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { DEFAULT_CONFIG } from '../dist/config.js';
import { startApp } from '../dist/app.js';

const config = structuredClone(DEFAULT_CONFIG);
Object.assign(config.sip, { host: '127.0.0.1', udpPort: 0, tcpPort: 0, wsPort: 'off', domains: ['pbx.example.com'] });
Object.assign(config.admin, { host: '127.0.0.1', port: 0, token: 'screenshot-token-123' });
config.lockout.extension.threshold = 3;
const app = await startApp(config, { logger: pino({ level: 'silent' }), defaultMetrics: false });
const udpPort = app.listeners.find((l) => l.transport === 'udp').port;
for (const u of ['1001', '1002', '1003'])
  await app.accounts.create({ username: u, password: `correct-horse-${u.length}x` });

const sock = dgram.createSocket('udp4');
await new Promise((r) => sock.bind(0, '127.0.0.1', r));
const md5 = (s) => createHash('md5').update(s).digest('hex');
let n = 0;
function request(user, password, ua, auth) {
  return new Promise((resolve) => {
    const branch = `z9hG4bKshot${n++}`;
    const text =
      `REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.address().port};branch=${branch};rport\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:${user}@pbx.example.com>;tag=${n}\r\nTo: <sip:${user}@pbx.example.com>\r\n` +
      `Call-ID: shot-${user}@host\r\nCSeq: ${n} REGISTER\r\nContact: <sip:${user}@127.0.0.1:${sock.address().port}>\r\n` +
      `User-Agent: ${ua}\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Content-Length: 0\r\n\r\n`;
    sock.once('message', (m) => resolve(m.toString()));
    sock.send(text, udpPort, '127.0.0.1');
  });
}
async function register(user, password, ua) {
  const r401 = await request(user, password, ua);
  const nonce = /nonce="([^"]+)"/.exec(r401)[1];
  const ha1 = md5(`${user}:pbx.example.com:${password}`);
  const response = md5(`${ha1}:${nonce}:00000001:c1:auth:${md5('REGISTER:sip:pbx.example.com')}`);
  return request(
    user,
    password,
    ua,
    `Digest username="${user}", realm="pbx.example.com", nonce="${nonce}", uri="sip:pbx.example.com", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1"`,
  );
}
await register('1001', 'correct-horse-4x', 'Yealink SIP-T54W 96.86.0.70');
for (let i = 0; i < 3; i++) await register('1002', 'wrong', 'friendly-scanner');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 640 } });
await page.goto(`http://127.0.0.1:${app.admin.port}/console/`);
await page.screenshot({ path: 'docs/console-signin.png' });
await page.getByLabel('Admin token').fill('screenshot-token-123');
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { name: 'Blacklisted extensions' }).waitFor();
await page.screenshot({ path: 'docs/console-blacklist.png' });
for (const name of ['Accounts', 'Devices', 'Audit']) {
  await page.getByRole('link', { name }).click();
  await page.getByRole('heading', { name }).waitFor();
  await page.screenshot({ path: `docs/console-${name.toLowerCase()}.png` });
}
await browser.close();
sock.close();
await app.stop(0);
console.log('docs/console-{signin,blacklist,accounts,devices,audit}.png written');
