/**
 * Connection abuse with modest numbers (bench/reliability/abuse.mjs has the big ones): idle connections, messages that
 * never finish, endless headers, a body that never comes, TLS handshakes that never complete. The caps (total and per
 * address) and the timeouts (idle, TLS handshake) hold, memory stays bounded, and a legitimate phone registers over
 * UDP and TCP throughout.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTlsTestApp, type TestApp } from '../helpers/app.js';
import { StreamClient } from '../helpers/sip-client.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { scrape, value } from '../ops/prom.js';
import { UdpChannel } from './udp-channel.js';

const PASSWORD = 'abuse-secret-pw-1';
const PER_ADDRESS = 20;
const TOTAL = 70;
const IDLE_SEC = 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Conn {
  socket: net.Socket;
  closedAt: number | null;
  openedAt: number;
  written: number;
}

function connect(port: number, localAddress: string): Promise<Conn> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const c: Conn = { socket, closedAt: null, openedAt: Date.now(), written: 0 };
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.once('close', () => (c.closedAt = Date.now()));
    socket.once('connect', () => resolve(c));
    socket.once('error', () => resolve(c));
  });
}

async function settle(conns: Conn[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && conns.some((c) => c.closedAt === null)) await sleep(50);
}

describe('connection abuse', () => {
  let t: TestApp;
  const all: Conn[] = [];

  beforeAll(async () => {
    t = await startTlsTestApp({
      sip: {
        limits: {
          maxConnections: TOTAL,
          maxConnectionsPerAddress: PER_ADDRESS,
          idleTimeoutSec: IDLE_SEC,
          tlsHandshakeTimeoutSec: 1,
          maxMessageBytes: 8_192,
          maxBufferedBytes: 16_384,
        },
      },
    });
    await t.app.accounts.create({ username: 'legit', domain: 'example.com', password: PASSWORD });
  });

  afterAll(async () => {
    for (const c of all) c.socket.destroy();
    await t?.stop();
  });

  it('caps connections per address and in total, and closes idle ones', async () => {
    const before = await scrape(t.adminUrl);
    // 5 addresses x 25 connections: each address is cut at 20, and the whole at 70.
    const conns: Conn[] = [];
    for (let a = 3; a <= 7; a++) {
      conns.push(...(await Promise.all(Array.from({ length: 25 }, () => connect(t.tcpPort, `127.0.0.${a}`)))));
    }
    all.push(...conns);
    await sleep(200);
    const open = value(await scrape(t.adminUrl), 'sipreg_open_connections', { transport: 'tcp' });
    expect(open).toBeLessThanOrEqual(TOTAL);
    expect(open).toBeGreaterThanOrEqual(TOTAL - 5);
    const refused = value(await scrape(t.adminUrl), 'sipreg_connections_refused_total', { transport: 'tcp' });
    expect(refused - value(before, 'sipreg_connections_refused_total', { transport: 'tcp' })).toBeGreaterThanOrEqual(
      125 - TOTAL,
    );
    await settle(conns, IDLE_SEC * 1000 + 2_000);
    expect(conns.filter((c) => c.closedAt === null)).toHaveLength(0);
    expect(value(await scrape(t.adminUrl), 'sipreg_open_connections', { transport: 'tcp' })).toBe(0);
  });

  it('holds its timeouts and limits under mixed abuse while a real phone registers over UDP and TCP', async () => {
    const rssBefore = process.memoryUsage().rss;
    const udp = await UdpChannel.open(t.udpPort);
    const udpPhone = new Phone(udp, { user: 'legit', domain: 'example.com', password: PASSWORD });

    // Messages that never finish: a header section without its blank line, then silence.
    const unfinished = await Promise.all(Array.from({ length: 15 }, () => connect(t.tcpPort, '127.0.0.10')));
    for (const c of unfinished)
      c.socket.write('REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.10:5060\r\n');
    // A body that never comes.
    const bodiless = await Promise.all(Array.from({ length: 15 }, () => connect(t.tcpPort, '127.0.0.11')));
    for (const c of bodiless) {
      c.socket.write('OPTIONS sip:example.com SIP/2.0\r\nContent-Length: 5000\r\n\r\nonly a little');
    }
    // Endless headers: 8 kB of header lines every 5 ms until the server hangs up.
    const endless = await Promise.all(Array.from({ length: 5 }, () => connect(t.tcpPort, '127.0.0.12')));
    const lines = Array.from({ length: 128 }, (_, i) => `X-Endless-${i}: ${'e'.repeat(48)}\r\n`).join('');
    const pumps = endless.map((c) => {
      c.socket.write('REGISTER sip:example.com SIP/2.0\r\n');
      return setInterval(() => {
        if (c.closedAt !== null || c.socket.destroyed || c.written > 4_000_000) return;
        c.socket.write(lines);
        c.written += lines.length;
      }, 5);
    });
    // TLS handshakes that never complete: TCP to the TLS port and nothing, or half a ClientHello.
    const tlsStalled = await Promise.all(Array.from({ length: 15 }, () => connect(t.tlsPort, '127.0.0.13')));
    for (const c of tlsStalled.slice(0, 7)) c.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    all.push(...unfinished, ...bodiless, ...endless, ...tlsStalled);

    // The phone registers while all that is going on, over UDP and over TCP.
    expect((await udpPhone.register({ expires: 600 })).status).toBe(200);
    const tcp = await StreamClient.connect(t.tcpPort, '127.0.0.1');
    const tcpChannel: Channel = {
      request: (text) => tcp.request(text),
      via: `TCP 127.0.0.1:${tcp.localPort}`,
      contactHost: `127.0.0.1:${tcp.localPort};transport=tcp`,
    };
    expect(
      (await new Phone(tcpChannel, { user: 'legit', domain: 'example.com', password: PASSWORD }).register()).status,
    ).toBe(200);

    // Endless headers are cut at the header limit, long before megabytes pass.
    await settle(endless, 2_000);
    for (const p of pumps) clearInterval(p);
    for (const c of endless) {
      expect(c.closedAt).not.toBeNull();
      expect(c.written).toBeLessThan(1_000_000);
    }
    // Stalled TLS handshakes end at the handshake timeout; unfinished messages and bodies at the idle timeout.
    await settle([...tlsStalled, ...unfinished, ...bodiless], IDLE_SEC * 1000 + 2_500);
    for (const c of tlsStalled) expect(c.closedAt, 'stalled TLS handshake still open').not.toBeNull();
    for (const c of [...unfinished, ...bodiless]) expect(c.closedAt, 'unfinished message still open').not.toBeNull();
    for (const c of tlsStalled) expect((c.closedAt as number) - c.openedAt).toBeLessThan(3_500);

    // Still serving, and memory did not balloon.
    expect((await udpPhone.register({ expires: 600 })).status).toBe(200);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    tcp.close();
    udp.close();
  }, 20_000);

  it('cuts off a message dribbled a byte at a time (slowloris) within a bounded time', async () => {
    // Each byte resets an idle timer; only a deadline for the whole message (or header section) stops this.
    const c = await connect(t.tcpPort, '127.0.0.14');
    all.push(c);
    const text = `REGISTER sip:example.com SIP/2.0\r\n${'X-Slow: drip\r\n'.repeat(500)}`;
    let i = 0;
    const drip = setInterval(
      () => {
        if (c.closedAt !== null || i >= text.length) return;
        c.socket.write(text[i++] as string);
      },
      Math.floor((IDLE_SEC * 1000) / 3),
    );
    await settle([c], IDLE_SEC * 1000 * 4);
    clearInterval(drip);
    expect(c.closedAt, `still open after ${IDLE_SEC * 4} s of a message that never ends (${i} bytes)`).not.toBeNull();
  }, 15_000);
});

describe('TLS handshake timeout shorter than the idle timeout', () => {
  let t: TestApp;
  const conns: Conn[] = [];

  beforeAll(async () => {
    t = await startTlsTestApp({
      sip: {
        limits: { idleTimeoutSec: 30, tlsHandshakeTimeoutSec: 1 },
      },
    });
  });

  afterAll(async () => {
    for (const c of conns) c.socket.destroy();
    await t?.stop();
  });

  it('closes a stalled handshake at the handshake timeout, not at the idle timeout', async () => {
    conns.push(...(await Promise.all(Array.from({ length: 6 }, () => connect(t.tlsPort, '127.0.0.15')))));
    for (const c of conns.slice(0, 3)) c.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    await settle(conns, 3_000);
    for (const c of conns) {
      expect(c.closedAt, 'stalled TLS handshake still open 3 s after a 1 s handshake timeout').not.toBeNull();
      expect((c.closedAt as number) - c.openedAt).toBeLessThan(2_500);
    }
  });
});
