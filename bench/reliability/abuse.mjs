#!/usr/bin/env node
/**
 * Connection abuse against `node dist/main.js` (memory store, TCP and TLS on): thousands of idle connections from many
 * loopback addresses, messages that never finish, bodies that never come, endless headers, byte-a-second dribbles
 * (slowloris) and TLS handshakes that never complete, all at once, while a legitimate phone registers every second
 * over UDP and over a fresh TCP connection. Prints what the caps and timeouts did, RSS and the phone's results, and a
 * verdict.
 *
 * usage: node bench/reliability/abuse.mjs [--idle 3000] [--addresses 40] [--unfinished 300] [--bodiless 300]
 *          [--endless 50] [--slow 20] [--tls 500] [--seconds 30] [--max-connections 5000] [--per-address 100]
 *          [--idle-timeout 10] [--tls-timeout 5] [--json]
 * The idle connections come from --addresses loopback addresses after the others: with the defaults, 20 x 100 of
 * the 3,000 are accepted and 1,000 refused by the per-address cap, and the total stays under --max-connections so a
 * phone on a fresh TCP connection can still get in (a total cap full of attackers locks TCP phones out: by design).
 * Bounded: everything stops after --seconds (plus the time to open connections), at most 20,000 sockets.
 */
import { makeTlsCert } from '../lib/sipreg.mjs';
import net from 'node:net';
import { setInterval, clearInterval } from 'node:timers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  args,
  createAccount,
  metricValue,
  scrape,
  sleep,
  startServer,
  stats,
  UdpRegistrar,
  DOMAIN,
} from './lib/harness.mjs';
import { StreamFramer, authorization, buildRegister, newCnonce, parseChallenge, parseResponse } from '../lib/sip.mjs';

const o = args({
  idle: 3000,
  addresses: 20,
  unfinished: 300,
  bodiless: 300,
  endless: 50,
  slow: 20,
  tls: 500,
  seconds: 30,
  maxConnections: 5000,
  perAddress: 100,
  idleTimeout: 10,
  tlsTimeout: 5,
  json: false,
});
const SOCKET_CAP = 20_000;
if (o.idle + o.unfinished + o.bodiless + o.endless + o.slow + o.tls > SOCKET_CAP)
  throw new Error(`at most ${SOCKET_CAP} sockets`);

const certDir = mkdtempSync(join(tmpdir(), 'sipreg-abuse-tls-'));
const { cert: certFile, key: keyFile } = makeTlsCert(certDir);

const server = await startServer({
  env: { SIP_TLS_PORT: '0', SIP_TLS_CERT: certFile, SIP_TLS_KEY: keyFile },
  config: {
    sip: {
      limits: {
        maxConnections: o.maxConnections,
        maxConnectionsPerAddress: o.perAddress,
        idleTimeoutSec: o.idleTimeout,
        tlsHandshakeTimeoutSec: o.tlsTimeout,
      },
    },
  },
});
const PASSWORD = 'honest-phone-pass-1';
await createAccount(server.adminUrl, 'legit', PASSWORD);
await sleep(300);
const rssBefore = server.rssKb();

/** @typedef {{ socket: net.Socket, kind: string, openedAt: number, closedAt: number | null, written: number, refused: boolean }} Conn */
/** @type {Conn[]} */
const conns = [];
let addr = 0;
/** @param {number} port @param {string} kind @returns {Promise<Conn>} */
const open = (port, kind) =>
  new Promise((resolve) => {
    // Spread over 127.0.0.2 .. 127.0.0.(1 + addresses); the legit phone uses 127.0.0.1 and 127.0.0.250.
    const localAddress = `127.0.0.${2 + (addr++ % o.addresses)}`;
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    /** @type {Conn} */
    const c = { socket, kind, openedAt: Date.now(), closedAt: null, written: 0, refused: false };
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.once('close', () => (c.closedAt = Date.now()));
    socket.once('connect', () => resolve(c));
    socket.once('error', () => resolve(c));
    conns.push(c);
  });
/** @param {number} n @param {number} port @param {string} kind */
const openMany = async (n, port, kind) => {
  /** @type {Conn[]} */
  const out = [];
  for (let i = 0; i < n; i += 200)
    out.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => open(port, kind)))));
  return out;
};

const t0 = Date.now();
const unfinished = await openMany(o.unfinished, server.ports.tcp, 'unfinished');
for (const c of unfinished) c.socket.write('REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060\r\n');
const bodiless = await openMany(o.bodiless, server.ports.tcp, 'bodiless');
for (const c of bodiless)
  c.socket.write('OPTIONS sip:example.com SIP/2.0\r\nContent-Length: 60000\r\n\r\nonly a little');
const endless = await openMany(o.endless, server.ports.tcp, 'endless');
const block = Array.from({ length: 128 }, (_, i) => `X-Endless-${i}: ${'e'.repeat(48)}\r\n`).join('');
for (const c of endless) c.socket.write('REGISTER sip:example.com SIP/2.0\r\n');
const slow = await openMany(o.slow, server.ports.tcp, 'slow');
const tlsStalled = await openMany(o.tls, server.ports.tls, 'tls');
for (const c of tlsStalled.slice(0, Math.floor(tlsStalled.length / 2)))
  c.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
const idle = await openMany(o.idle, server.ports.tcp, 'idle');
const openedIn = Date.now() - t0;
await sleep(300);
// A connection the server closed right away was refused by a cap.
for (const c of conns) if (c.closedAt !== null && c.closedAt - c.openedAt < 300) c.refused = true;

const pump = setInterval(() => {
  for (const c of endless) {
    if (c.closedAt === null && !c.socket.destroyed && c.written < 10_000_000) {
      c.socket.write(block);
      c.written += block.length;
    }
  }
}, 5);
const slowText = `REGISTER sip:example.com SIP/2.0\r\n${'X-Slow: drip\r\n'.repeat(5000)}`;
let slowAt = 0;
const drip = setInterval(() => {
  for (const c of slow)
    if (c.closedAt === null && !c.socket.destroyed) c.socket.write(slowText[slowAt % slowText.length] ?? 'x');
  slowAt++;
}, 1000);

/** One full registration over a fresh TCP connection from 127.0.0.250. @returns {Promise<number>} */
function tcpRegister() {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: server.ports.tcp, localAddress: '127.0.0.250' });
    const framer = new StreamFramer();
    const callId = `${randomBytes(6).toString('hex')}@legit`;
    const fromTag = randomBytes(4).toString('hex');
    let cseq = 1;
    const timer = setTimeout(() => finish(0), 5000);
    const finish = (/** @type {number} */ st) => {
      clearTimeout(timer);
      s.destroy();
      resolve(st);
    };
    const send = (/** @type {string | null} */ auth) =>
      s.write(
        buildRegister({
          viaTransport: 'TCP',
          localHost: '127.0.0.250',
          localPort: 5062, // one contact for every attempt: a refresh, not a new binding each time (maxContacts)
          branch: `z9hG4bK${randomBytes(6).toString('hex')}`,
          ruri: `sip:${DOMAIN}`,
          user: 'legit',
          domain: DOMAIN,
          fromTag,
          callId,
          cseq: cseq++,
          expires: 600,
          authorization: auth,
        }),
      );
    s.on('error', () => finish(-1));
    s.once('connect', () => send(null));
    s.on('data', (d) => {
      for (const m of framer.push(d)) {
        const r = parseResponse(m);
        if (!r) continue;
        if (r.status === 401 && cseq === 2) {
          const ch = r.wwwAuthenticate.map(parseChallenge).find((c) => c !== null);
          if (!ch) return finish(-2);
          send(
            authorization(
              { username: 'legit', password: PASSWORD, ha1: new Map() },
              ch,
              `sip:${DOMAIN}`,
              1,
              newCnonce(),
            ),
          );
        } else finish(r.status);
      }
    });
  });
}

const phone = await new UdpRegistrar(server.ports.udp).open('127.0.0.1');
const legit = {
  udp: /** @type {number[]} */ ([]),
  tcp: /** @type {number[]} */ ([]),
  latencyMs: /** @type {number[]} */ ([]),
};
/** @type {number[]} */
const rssSamples = [];
let maxOpen = 0;
const end = Date.now() + o.seconds * 1000;
while (Date.now() < end && server.child.exitCode === null) {
  const at = Date.now();
  legit.udp.push((await phone.register({ user: 'legit', password: PASSWORD })).status);
  legit.latencyMs.push(Date.now() - at);
  legit.tcp.push(await tcpRegister());
  rssSamples.push(server.rssKb() ?? 0);
  const m = await scrape(server.adminUrl);
  maxOpen = Math.max(maxOpen, metricValue(m, 'sipreg_open_connections', { transport: 'tcp' }));
  await sleep(Math.max(0, 1000 - (Date.now() - at)));
}
clearInterval(pump);
clearInterval(drip);
const metrics = await scrape(server.adminUrl);
const rssAfter = server.rssKb();

/** @param {Conn[]} cs */
const closeTimes = (cs) =>
  stats(
    cs
      .filter((c) => !c.refused && c.closedAt !== null)
      .map((c) => /** @type {number} */ (c.closedAt - c.openedAt) / 1000),
  );
/** @param {Conn[]} cs */
const stillOpen = (cs) => cs.filter((c) => c.closedAt === null).length;
const accepted = (/** @type {Conn[]} */ cs) => cs.filter((c) => !c.refused).length;
const result = {
  date: new Date().toISOString(),
  openedSockets: conns.length,
  openedInMs: openedIn,
  caps: { maxConnections: o.maxConnections, perAddress: o.perAddress, addresses: o.addresses },
  maxOpenTcp: maxOpen,
  refusedByCap: metricValue(metrics, 'sipreg_connections_refused_total'),
  idle: { accepted: accepted(idle), stillOpen: stillOpen(idle), closedAfterSec: closeTimes(idle) },
  unfinished: {
    accepted: accepted(unfinished),
    stillOpen: stillOpen(unfinished),
    closedAfterSec: closeTimes(unfinished),
  },
  bodiless: { accepted: accepted(bodiless), stillOpen: stillOpen(bodiless), closedAfterSec: closeTimes(bodiless) },
  endless: {
    accepted: accepted(endless),
    stillOpen: stillOpen(endless),
    bytesBeforeClose: stats(endless.filter((c) => !c.refused).map((c) => c.written)),
  },
  slowloris: { accepted: accepted(slow), stillOpen: stillOpen(slow), bytesDripped: slowAt },
  tlsStalled: {
    accepted: accepted(tlsStalled),
    stillOpen: stillOpen(tlsStalled),
    closedAfterSec: closeTimes(tlsStalled),
  },
  legit: {
    udpOk: legit.udp.filter((s) => s === 200).length,
    udpTotal: legit.udp.length,
    tcpOk: legit.tcp.filter((s) => s === 200).length,
    tcpTotal: legit.tcp.length,
    tcpStatuses: legit.tcp.join(','),
    udpLatencyMs: stats(legit.latencyMs),
  },
  rssKb: { before: rssBefore, max: Math.max(...rssSamples), after: rssAfter },
};
phone.close();
for (const c of conns) c.socket.destroy();
const exit = await server.stop();
rmSync(certDir, { recursive: true, force: true });

const checks = {
  'total cap held': maxOpen <= o.maxConnections,
  'idle connections closed by the idle timeout': result.idle.stillOpen === 0 || o.seconds < o.idleTimeout + 3,
  'unfinished messages closed': result.unfinished.stillOpen === 0 || o.seconds < o.idleTimeout + 3,
  'bodies that never come closed': result.bodiless.stillOpen === 0 || o.seconds < o.idleTimeout + 3,
  'endless headers cut under 1 MB':
    result.endless.stillOpen === 0 && (result.endless.bytesBeforeClose.max ?? 0) < 1_000_000,
  'stalled TLS handshakes closed at the handshake timeout':
    o.seconds < o.tlsTimeout + 3 ||
    (result.tlsStalled.stillOpen === 0 && (result.tlsStalled.closedAfterSec.max ?? Infinity) < o.tlsTimeout + 2),
  'slowloris dribbles closed': result.slowloris.stillOpen === 0,
  'legit phone always registered':
    result.legit.udpOk === result.legit.udpTotal && result.legit.tcpOk === result.legit.tcpTotal,
  'RSS growth under 200 MB': (result.rssKb.max ?? 0) - (rssBefore ?? 0) < 200 * 1024,
  'clean exit': exit.code === 0 && server.problems().length === 0,
};
const pass = Object.values(checks).every(Boolean);
if (o.json) process.stdout.write(`${JSON.stringify({ ...result, checks, verdict: pass ? 'PASS' : 'FAIL' })}\n`);
else {
  console.log(JSON.stringify(result, null, 2));
  for (const [k, v] of Object.entries(checks)) console.log(`${v ? 'ok  ' : 'FAIL'} ${k}`);
  console.log(`verdict: ${pass ? 'PASS' : 'FAIL'}`);
}
process.exit(pass ? 0 : 1);
