/**
 * SIP over WebSocket (RFC 7118) end to end, over real ws:// and wss:// connections: the handshake rules, REGISTER
 * with `.invalid` hosts, RFC 5626 flows (a reloaded page leaves one binding; a closed connection ends its flows),
 * liveness by ping, and hostile frames and handshakes, which close only their own connection and lose no binding.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTlsTestApp, type TestApp } from '../helpers/app.js';
import { Phone } from '../helpers/phone.js';
import { WsChannel } from '../helpers/ws-channel.js';

const PASSWORD = 'browser-phone-pw-1';
const DOMAIN = 'example.com';
const INSTANCE = '"<urn:uuid:6f4d2f1a-1111-4c2e-9d47-1b1f5c1e0a01>"';

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIP over WebSocket', () => {
  let t: TestApp;
  let n = 0;
  const ws = (): string => `ws://127.0.0.1:${t.wsPort}`;
  const bindings = (user: string) => t.app.store.getBindings(`${user}@${DOMAIN}`, Date.now());

  async function account(): Promise<string> {
    const user = `web${n++}`;
    await t.app.accounts.create({ username: user, domain: DOMAIN, password: PASSWORD });
    return user;
  }
  const phone = (channel: WsChannel, user: string) => new Phone(channel, { user, domain: DOMAIN, password: PASSWORD });
  /** A browser's flow contact: the connection's .invalid host, its instance id and reg-id 1. */
  const flowContact = (c: WsChannel, user: string) =>
    `<sip:${user}@${c.contactHost}>;+sip.instance=${INSTANCE};reg-id=1`;
  const outbound: Array<[string, string]> = [['Supported', 'path, outbound, gruu']];

  beforeAll(async () => {
    t = await startTlsTestApp({
      sip: {
        ws: { pingIntervalSec: 1 },
        limits: { tlsHandshakeTimeoutSec: 1, maxConnectionsPerAddress: 20 },
      },
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('listens on ws and wss, as logged', () => {
    expect(t.wsPort).toBeGreaterThan(0);
    expect(t.wssPort).toBeGreaterThan(0);
  });

  it('refuses a handshake that does not offer the sip subprotocol (RFC 7118 4), and plain HTTP', async () => {
    await expect(WsChannel.open(ws(), { protocols: [] })).rejects.toThrow('handshake refused: 400');
    await expect(WsChannel.open(ws(), { protocols: ['chat'] })).rejects.toThrow('handshake refused: 400');
    const res = await fetch(`http://127.0.0.1:${t.wsPort}/`);
    expect(res.status).toBe(426);
    const ok = await WsChannel.open(ws(), { protocols: ['xmpp', 'SIP'] });
    expect(ok.ws.protocol).toBe('SIP'); // in the client's own spelling
    ok.close();
  });

  it.each(['ws', 'wss'] as const)(
    'registers over %s with .invalid hosts, and the binding shows the transport',
    async (kind) => {
      const user = await account();
      const c = await WsChannel.open(kind === 'ws' ? ws() : `wss://127.0.0.1:${t.wssPort}`);
      try {
        const r = await phone(c, user).register({ contacts: [`<sip:${user}@${c.contactHost}>`] });
        expect(r.status).toBe(200);
        expect(r.headers.get('contact')?.[0]).toContain(`${c.host};transport=${kind}`);
        const [b] = await bindings(user);
        expect(b?.source.transport).toBe(kind);
        expect(b?.source.connectionId).not.toBeNull();
        expect(b?.uri).toBe(`sip:${user}@${c.contactHost}`);
      } finally {
        c.close();
      }
      // Not a flow (no reg-id), but a WebSocket contact is unreachable without its connection: removed with it.
      expect(
        await until(
          () => bindings(user),
          (b) => b.length === 0,
        ),
      ).toEqual([]);
    },
  );

  it('a reloaded page (same instance and reg-id, new connection) leaves one binding (RFC 5626)', async () => {
    const user = await account();
    const first = await WsChannel.open(ws());
    const r1 = await phone(first, user).register({ contacts: [flowContact(first, user)], extra: outbound });
    expect(r1.status).toBe(200);
    expect(r1.headers.get('require')).toEqual(['outbound']);
    // The reload: a new page, a new connection and Call-ID; the old connection lingers for a moment.
    const second = await WsChannel.open(ws());
    const r2 = await phone(second, user).register({ contacts: [flowContact(second, user)], extra: outbound });
    expect(r2.status).toBe(200);
    expect(r2.headers.get('contact')).toHaveLength(1);
    const now = await bindings(user);
    expect(now).toHaveLength(1);
    expect(now[0]?.uri).toContain(second.host);
    // The old connection closes: the new flow stays.
    first.close();
    await first.closed;
    await new Promise((r) => setTimeout(r, 200));
    expect((await bindings(user)).map((b) => b.uri)).toEqual([`sip:${user}@${second.contactHost}`]);
    second.close();
    expect(
      await until(
        () => bindings(user),
        (b) => b.length === 0,
      ),
    ).toEqual([]);
  });

  it('reg-id without +sip.instance is bound by RFC 3261 rules; reg-id=0 is refused', async () => {
    const user = await account();
    const c = await WsChannel.open(ws());
    try {
      const p = phone(c, user);
      const noInstance = await p.register({ contacts: [`<sip:${user}@${c.contactHost}>;reg-id=1`], extra: outbound });
      expect(noInstance.status).toBe(200);
      expect(noInstance.headers.get('require')).toBeUndefined();
      expect((await bindings(user))[0]?.regId).toBeNull();
      const zero = await p.register({
        contacts: [`<sip:${user}@${c.contactHost}>;+sip.instance=${INSTANCE};reg-id=0`],
        extra: outbound,
      });
      expect(zero.status).toBe(400);
    } finally {
      c.close();
    }
  });

  it('a flow through an edge proxy whose Path lacks ;ob gets 439 (RFC 5626 6)', async () => {
    const user = await account();
    const c = await WsChannel.open(ws());
    try {
      const r = await phone(c, user).register({
        contacts: [flowContact(c, user)],
        extra: [...outbound, ['Path', '<sip:edge.example.net;lr>']],
      });
      expect(r).toMatchObject({ status: 439, reason: 'First Hop Lacks Outbound Support' });
      const ok = await phone(c, user).register({
        contacts: [flowContact(c, user)],
        extra: [...outbound, ['Path', '<sip:edge.example.net;lr;ob>']],
      });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('path')).toEqual(['<sip:edge.example.net;lr;ob>']);
    } finally {
      c.close();
    }
  });

  it('closes a connection that stops answering pings, and its flow ends', async () => {
    const user = await account();
    const c = await WsChannel.open(ws(), { autoPong: false });
    expect((await phone(c, user).register({ contacts: [flowContact(c, user)], extra: outbound })).status).toBe(200);
    const closed = await Promise.race([c.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    expect(closed).not.toBeNull();
    expect(
      await until(
        () => bindings(user),
        (b) => b.length === 0,
      ),
    ).toEqual([]);
  });

  describe('hostile input closes only its own connection and loses no binding', () => {
    let keeper: WsChannel;
    let keeperUser: string;

    beforeAll(async () => {
      keeperUser = await account();
      keeper = await WsChannel.open(ws());
      const r = await phone(keeper, keeperUser).register({
        contacts: [flowContact(keeper, keeperUser)],
        extra: outbound,
      });
      expect(r.status).toBe(200);
    });
    afterAll(() => keeper?.close());

    /** After each attack: the other connection's binding is there, and it still registers. */
    async function unharmed(): Promise<void> {
      expect(await bindings(keeperUser)).toHaveLength(1);
      const r = await phone(keeper, keeperUser).register({
        contacts: [flowContact(keeper, keeperUser)],
        extra: outbound,
      });
      expect(r.status).toBe(200);
    }

    it('a text frame that is not UTF-8: 1007', async () => {
      const c = await WsChannel.open(ws());
      c.ws.send(Buffer.from([0x52, 0x45, 0xff, 0xfe, 0x0d, 0x0a]), { binary: false });
      expect((await c.closed).code).toBe(1007);
      await unharmed();
    });

    it('a binary frame that is not a SIP message: 1003', async () => {
      const c = await WsChannel.open(ws());
      c.ws.send(Buffer.from([0x00, 0x01, 0x02, 0x03]), { binary: true });
      expect((await c.closed).code).toBe(1003);
      await unharmed();
    });

    it('a frame larger than a SIP message may be: 1009', async () => {
      const c = await WsChannel.open(ws());
      c.ws.send('REGISTER sip:example.com SIP/2.0\r\n' + 'X'.repeat(t.config.sip.limits.maxMessageBytes + 10));
      expect((await c.closed).code).toBe(1009);
      await unharmed();
    });

    it('an unmasked client frame: the connection is closed', async () => {
      const raw = net.connect(t.wsPort, '127.0.0.1');
      await new Promise((r) => raw.once('connect', r));
      raw.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n',
      );
      const head = await new Promise<string>((r) => raw.once('data', (d: Buffer) => r(d.toString())));
      expect(head).toMatch(/^HTTP\/1\.1 101/);
      const payload = Buffer.from('OPTIONS sip:example.com SIP/2.0\r\n\r\n');
      raw.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload])); // FIN + text, no mask bit
      await new Promise((r) => raw.once('close', r));
      await unharmed();
    });

    it('a garbage SIP message in a good frame is answered or dropped; the connection stays', async () => {
      const c = await WsChannel.open(ws());
      c.ws.send('REGISTER sip:example.com SIP/2.0\r\nVia: nonsense\r\n\r\n');
      c.ws.send('hello');
      const options = await c.request(
        `OPTIONS sip:${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS ${c.host};branch=z9hG4bKopt1\r\nMax-Forwards: 70\r\n` +
          `From: <sip:probe@${DOMAIN}>;tag=1\r\nTo: <sip:${DOMAIN}>\r\nCall-ID: opt1@${c.host}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      );
      expect(options.status).toBe(200);
      c.close();
      await unharmed();
    });

    it('a stalled handshake is closed within the handshake timeout', async () => {
      const raw = net.connect(t.wsPort, '127.0.0.1');
      const started = Date.now();
      await new Promise((r) => raw.once('close', r));
      expect(Date.now() - started).toBeLessThan(4000);
      await unharmed();
    });

    it('more connections from one address than the cap are refused', async () => {
      const open: WebSocket[] = [];
      let refused = 0;
      for (let i = 0; i < 25; i++) {
        try {
          open.push((await WsChannel.open(ws())).ws);
        } catch {
          refused++;
        }
      }
      // The keeper's connection and the cap of 20 per address.
      expect(open.length).toBeLessThanOrEqual(19);
      expect(refused).toBeGreaterThan(0);
      for (const w of open) w.close();
      await unharmed();
    });
  });
});

describe('SIP over WebSocket, with an Origin allowlist', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTlsTestApp({ sip: { ws: { allowedOrigins: ['https://phone.example.com'] } } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('takes an allowed Origin and refuses another with 403', async () => {
    const url = `ws://127.0.0.1:${t.wsPort}`;
    const ok = await WsChannel.open(url, { origin: 'https://phone.example.com' });
    ok.close();
    await expect(WsChannel.open(url, { origin: 'https://evil.example.net' })).rejects.toThrow('handshake refused: 403');
    await expect(WsChannel.open(url)).rejects.toThrow('handshake refused: 403');
  });
});
