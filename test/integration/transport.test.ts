/**
 * The SIP listeners end to end over real sockets: OPTIONS over UDP, TCP, TLS and IPv6; 405; 400s; retransmissions;
 * keep-alives; connection caps and idle timeouts; and every bad input followed by an OPTIONS that still gets 200.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, startTlsTestApp, type TestApp } from '../helpers/app.js';
import { StreamClient, UdpClient, first } from '../helpers/sip-client.js';
import { requestText } from '../helpers/requests.js';

let t: TestApp;
let udp: UdpClient;

beforeAll(async () => {
  t = await startTlsTestApp({
    sip: {
      limits: { maxConnectionsPerAddress: 50, idleTimeoutSec: 2, tlsHandshakeTimeoutSec: 1 },
    },
  });
  udp = await UdpClient.open();
});

afterAll(async () => {
  udp?.close();
  await t?.stop();
});

async function optionsStillAnswered(): Promise<void> {
  const r = await udp.request(requestText(), t.udpPort);
  expect(r.status).toBe(200);
}

describe('OPTIONS', () => {
  it('is answered 200 over UDP with Allow, Accept, Supported and the RFC 3261 8.2.6 headers', async () => {
    const req = requestText({ callId: 'opt-1@test', branch: 'z9hG4bKopt1' });
    const r = await udp.request(req, t.udpPort);
    expect(r.status).toBe(200);
    expect(first(r, 'allow')).toBe('REGISTER, OPTIONS');
    expect(first(r, 'accept')).toBeDefined();
    expect(first(r, 'supported')).toBeDefined();
    expect(first(r, 'call-id')).toBe('opt-1@test');
    expect(first(r, 'cseq')).toBe('1 OPTIONS');
    expect(first(r, 'to')).toMatch(/;tag=\w+/);
    expect(first(r, 'from')).toMatch(/^<sip:probe@example.com>;tag=/);
    expect(first(r, 'server')).toBe('sipreg');
    // RFC 3581: received added (sent-by 127.0.0.1 equals the source, so only rport is filled), rport filled.
    expect(first(r, 'via')).toContain(`rport=${udp.port}`);
    expect(first(r, 'via')).toContain('branch=z9hG4bKopt1');
  });

  it('answers over TCP on the same connection', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    const r = await c.request(requestText({ via: `TCP 127.0.0.1:${c.localPort}` }));
    expect(r.status).toBe(200);
    c.close();
  });

  it('answers over TLS', async () => {
    const c = await StreamClient.connect(t.tlsPort, '127.0.0.1', true);
    const r = await c.request(requestText({ via: 'TLS 127.0.0.1:5071' }));
    expect(r.status).toBe(200);
    c.close();
  });

  it('answers several messages coalesced in one TCP write, in order', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    c.send(requestText({ callId: 'co-1' }) + requestText({ callId: 'co-2' }) + requestText({ callId: 'co-3' }));
    const ids = [await c.next(), await c.next(), await c.next()].map((r) => first(r, 'call-id'));
    expect(ids).toEqual(['co-1', 'co-2', 'co-3']);
    c.close();
  });

  it('answers a message sent one byte at a time over TCP', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    const text = Buffer.from(requestText({ callId: 'bytewise' }));
    for (let i = 0; i < text.length; i++) {
      c.send(text.subarray(i, i + 1));
      if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(first(await c.next(), 'call-id')).toBe('bytewise');
    c.close();
  });

  it('answers a CRLFCRLF keep-alive with CRLF (RFC 5626 4.4.1)', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    c.send('\r\n\r\n');
    expect(await c.nextRaw()).toBe('\r\n');
    c.close();
  });
});

describe('IPv6', () => {
  it('answers OPTIONS over UDP and TCP on ::1', async () => {
    const v6 = await startTestApp({ sip: { host: '::1' } });
    try {
      const u = await UdpClient.open(6);
      const r = await u.request(requestText({ via: 'UDP [::1]:5070' }), v6.udpPort, '::1');
      expect(r.status).toBe(200);
      u.close();
      const c = await StreamClient.connect(v6.tcpPort, '::1');
      expect((await c.request(requestText({ via: 'TCP [::1]:5070' }))).status).toBe(200);
      c.close();
    } finally {
      await v6.stop();
    }
  });
});

describe('methods', () => {
  it('answers other methods 405 with Allow', async () => {
    const r = await udp.request(requestText({ method: 'SUBSCRIBE' }), t.udpPort);
    expect(r.status).toBe(405);
    expect(first(r, 'allow')).toBe('REGISTER, OPTIONS');
  });

  it('never answers an ACK', async () => {
    udp.send(requestText({ method: 'ACK' }), t.udpPort);
    expect(await udp.silent(300)).toBe(true);
  });

  it('drops responses quietly', async () => {
    udp.send(
      'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n',
      t.udpPort,
    );
    expect(await udp.silent(300)).toBe(true);
    await optionsStillAnswered();
  });
});

describe('transactions (RFC 3261 17.2.2)', () => {
  it('answers a retransmission with the same response without processing it again', async () => {
    const req = requestText({ branch: 'z9hG4bKretrans1', callId: 'retrans@test' });
    const a = await udp.request(req, t.udpPort);
    const b = await udp.request(req, t.udpPort);
    expect(b.raw).toBe(a.raw); // same To-tag: the stored response, not a new one
    const c = await udp.request(requestText({ branch: 'z9hG4bKretrans2', callId: 'retrans@test' }), t.udpPort);
    expect(first(c, 'to')).not.toBe(first(a, 'to'));
  });
});

describe('bad input gets 400 when routable and loses nothing', () => {
  const cases: Array<[string, string, number | null]> = [
    ['missing Call-ID', requestText({ omit: ['Call-ID'] }), 400],
    ['missing CSeq', requestText({ omit: ['CSeq'] }), 400],
    ['CSeq without a number', requestText({ cseq: 'OPTIONS' }), 400],
    ['CSeq method mismatch', requestText({ cseq: '1 INVITE' }), 400],
    ['missing From', requestText({ omit: ['From'] }), 400],
    ['missing To', requestText({ omit: ['To'] }), 400],
    ['Max-Forwards not a number', requestText().replace('Max-Forwards: 70', 'Max-Forwards: abc'), 400],
    ['unknown SIP version', requestText().replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), 505],
    ['bare Authorization: Digest', requestText({ method: 'REGISTER', extra: [['Authorization', 'Digest']] }), 400],
    ['Content-Length -1', requestText().replace('Content-Length: 0', 'Content-Length: -1'), 400],
    ['Content-Length 2^53', requestText().replace('Content-Length: 0', 'Content-Length: 9007199254740992'), 400],
    ['a NUL byte in a header', requestText({ extra: [['Subject', 'a\u0000b']] }), 400],
    ['Via without a version (unroutable: dropped)', requestText().replace(/^Via: SIP\/2.0\//m, 'Via: '), null],
    ['random bytes (dropped)', 'k\u0001\u00ff\u0000zz\r\n\r\n', null],
    ['truncated request line (dropped)', 'OPTIONS sip:exa', null],
  ];
  for (const [name, text, status] of cases) {
    it(name, async () => {
      if (status === null) {
        udp.send(Buffer.from(text, 'latin1'), t.udpPort);
        expect(await udp.silent(300)).toBe(true);
      } else {
        const r = await udp.request(Buffer.from(text, 'latin1'), t.udpPort);
        // A 'bare Authorization' REGISTER may be challenged instead; any answer but a crash is the point there.
        if (name.startsWith('bare Authorization')) expect([400, 401, 404]).toContain(r.status);
        else expect(r.status).toBe(status);
        expect(r.reason.length).toBeGreaterThan(0);
      }
      await optionsStillAnswered();
    });
  }

  it('invalid UTF-8 in a header', async () => {
    const text = Buffer.concat([
      Buffer.from(requestText({ extra: [['Subject', 'X']] }).replace('Subject: X', 'Subject: '), 'latin1'),
    ]);
    const i = text.indexOf('Subject: ') + 9;
    const bad = Buffer.concat([text.subarray(0, i), Buffer.from([0xc3, 0x28, 0xff]), text.subarray(i)]);
    const r = await udp.request(bad, t.udpPort);
    expect(r.status).toBe(400);
    await optionsStillAnswered();
  });

  it('10,000 headers', async () => {
    const extra: Array<[string, string]> = Array.from({ length: 10_000 }, (_, i) => [`X-H${i}`, 'v']);
    const c = await StreamClient.connect(t.tcpPort);
    c.send(requestText({ extra }));
    // Too big for a datagram and over the header limit: refused (400) or the connection closed, never a crash.
    const outcome = await Promise.race([c.next(3000).then((r) => r.status), c.closed.then(() => 'closed')]);
    expect([400, 'closed']).toContain(outcome);
    c.close();
    await optionsStillAnswered();
  });

  it('a 1 MB header line over TCP closes the connection', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    c.send(requestText({ extra: [['Subject', 'x'.repeat(1 << 20)]] }));
    await c.closed;
    await optionsStillAnswered();
  });

  it('a message that never ends is cut at the buffer limit', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    c.send('OPTIONS sip:example.com SIP/2.0\r\n');
    for (let i = 0; i < 300 && !c.socket.destroyed; i++) c.send(`X-Endless-${i}: ${'y'.repeat(1000)}\r\n`);
    await c.closed;
    await optionsStillAnswered();
  });

  it('a stream message without Content-Length closes the connection', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    c.send(requestText().replace('Content-Length: 0\r\n', ''));
    const outcome = await Promise.race([c.next(3000).then((r) => r.status), c.closed.then(() => 'closed')]);
    expect([400, 'closed']).toContain(outcome);
    c.close();
    await optionsStillAnswered();
  });

  it('random datagrams never crash the server', async () => {
    for (let i = 0; i < 500; i++) {
      const len = 1 + Math.floor(Math.random() * 1500);
      const junk = Buffer.alloc(len);
      for (let j = 0; j < len; j++) junk[j] = Math.floor(Math.random() * 256);
      udp.send(junk, t.udpPort);
    }
    await optionsStillAnswered();
  });
});

describe('connections', () => {
  it('caps connections per source address', async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 60; i++) {
      const s = net.connect(t.tcpPort, '127.0.0.1');
      s.on('error', () => {});
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const closed = sockets.filter((s) => s.destroyed || s.readyState === 'closed').length;
    expect(closed).toBeGreaterThanOrEqual(10);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await optionsStillAnswered();
  });

  it('closes idle connections', async () => {
    const c = await StreamClient.connect(t.tcpPort);
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
  });

  it('closes a TLS handshake that never completes', async () => {
    const s = net.connect(t.tlsPort, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('close', () => r()));
    // and a real TLS client still gets in
    const c = await StreamClient.connect(t.tlsPort, '127.0.0.1', true);
    expect((await c.request(requestText({ via: 'TLS 127.0.0.1:5071' }))).status).toBe(200);
    c.close();
  });

  it('survives a TLS client speaking garbage', async () => {
    const s = net.connect(t.tlsPort, '127.0.0.1');
    s.on('error', () => {});
    s.write(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'));
    await new Promise<void>((r) => s.once('close', () => r()));
    const c = tls.connect({ port: t.tlsPort, host: '127.0.0.1', rejectUnauthorized: false });
    await new Promise<void>((r) => c.once('secureConnect', () => r()));
    c.destroy();
  });
});
