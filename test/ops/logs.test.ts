/**
 * Secrets never reach the log: passwords (in REGISTERs, however a phone sends them, and in the admin API), HA1s,
 * Authorization values and the admin token. The whole app runs at debug level with its log lines captured; the
 * redaction paths of src/observability/log.ts are unit-tested too (the second line of defence).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { UdpClient, StreamClient } from '../helpers/sip-client.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { answer, ha1Of } from '../helpers/digest-client.js';
import { registerText } from '../helpers/sip-text.js';
import { createLogger, REDACT_PATHS } from '../../src/observability/log.js';

const CREATE_PW = 'Create-Secret-Pw-4711';
const CHANGED_PW = 'Changed-Secret-Pw-0815';
const IMPORT_PW = 'Import-Secret-Pw-2323';
const WRONG_PW = 'Wrong-Secret-Pw-9999';
const HEADER_PW = 'Header-Secret-Pw-1234';
const BAD_TOKEN = 'not-the-admin-token-5678';

describe('log output', () => {
  let t: TestApp;
  let udp: UdpClient;
  const secrets: string[] = [CREATE_PW, CHANGED_PW, IMPORT_PW, WRONG_PW, HEADER_PW, BAD_TOKEN];

  const api = async (method: string, path: string, body?: unknown, token = t.token): Promise<Response> =>
    fetch(`${t.adminUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined
          ? {}
          : { 'content-type': typeof body === 'string' ? 'application/x-ndjson' : 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await startTestApp({ log: { level: 'trace' } });
    udp = await UdpClient.open();
    secrets.push(t.token);
  });

  afterAll(async () => {
    udp?.close();
    await t?.stop();
  });

  it('never contains a password, an HA1, an Authorization value or the admin token', async () => {
    const channel: Channel = {
      request: (text) => udp.request(text, t.udpPort),
      via: `UDP 127.0.0.1:${udp.port}`,
      contactHost: `127.0.0.1:${udp.port}`,
    };

    // Admin API: create with a password, change it, have one generated, import some, and fail validation with one.
    expect((await api('POST', '/api/v1/accounts', { username: 'logalice', password: CREATE_PW })).status).toBe(201);
    expect((await api('PUT', '/api/v1/accounts/logalice@example.com/password', { password: CHANGED_PW })).status).toBe(
      200,
    );
    const gen = await api('POST', '/api/v1/accounts', { username: 'logbob' });
    expect(gen.status).toBe(201);
    const generated = ((await gen.json()) as { password?: string }).password;
    expect(typeof generated).toBe('string');
    secrets.push(generated as string);
    const regen = await api('PUT', '/api/v1/accounts/logbob/password');
    const regenerated = ((await regen.json()) as { password?: string }).password;
    expect(typeof regenerated).toBe('string');
    secrets.push(regenerated as string);
    const ndjson = `${JSON.stringify({ username: 'logcarol', password: IMPORT_PW })}\n${JSON.stringify({ username: 'logdave', password: 'short' })}\n`;
    expect((await api('POST', '/api/v1/accounts/import', ndjson)).status).toBeLessThan(300);
    expect(
      (await api('POST', '/api/v1/accounts', { username: 'logeve', password: 'logeve-contains-username' })).status,
    ).toBe(400);
    expect((await api('GET', '/api/v1/accounts', undefined, BAD_TOKEN)).status).toBe(401);

    // Phones: a right digest answer, a wrong one, a password in a header, in Basic credentials and in the body.
    const alice = new Phone(channel, { user: 'logalice', domain: 'example.com', password: CHANGED_PW });
    const ok = await alice.register();
    expect(ok.status).toBe(200);
    const wrong = await alice.register({}, WRONG_PW);
    expect(wrong.status).toBe(403);
    const challenge = alice.lastChallenge!;
    const authValues = [
      answer(challenge, {
        username: 'logalice',
        password: CHANGED_PW,
        method: 'REGISTER',
        uri: 'sip:example.com',
        nc: 7,
      }),
      answer(challenge, {
        username: 'logalice',
        password: WRONG_PW,
        method: 'REGISTER',
        uri: 'sip:example.com',
        nc: 8,
      }),
    ];
    for (const auth of authValues) await udp.request(registerText(alice.spec({ authorization: auth })), t.udpPort);
    const basic = `Basic ${Buffer.from(`logalice:${HEADER_PW}`).toString('base64')}`;
    await udp.request(registerText(alice.spec({ authorization: basic })), t.udpPort);
    await udp.request(
      registerText(
        alice.spec({
          extra: [
            ['X-Password', HEADER_PW],
            ['Subject', `password=${HEADER_PW}`],
          ],
        }),
      ),
      t.udpPort,
    );
    await udp.request(
      registerText(alice.spec({ body: `password=${HEADER_PW}`, extra: [['Content-Type', 'text/plain']] })),
      t.udpPort,
    );
    // A malformed message carrying the secret, over TCP too (parse-error paths).
    const tcp = await StreamClient.connect(t.tcpPort);
    tcp.send(`REGISTER sip:example.com SIP/2.0\r\nX-Password: ${HEADER_PW}\r\nContent-Length: 0\r\n\r\n`);
    tcp.send(`${'\u00ff'.repeat(10)} ${HEADER_PW}\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 200));
    tcp.close();
    udp.send(`REGISTER sip:example.com SIP/2.0\r\nAuthorization: ${basic}\r\n\r\n`, t.udpPort);
    await new Promise((r) => setTimeout(r, 200));

    for (const v of authValues) secrets.push(v, /response="([0-9a-f]+)"/.exec(v)?.[1] ?? 'missing');
    secrets.push(basic.slice('Basic '.length));
    for (const alg of ['MD5', 'SHA-256', 'SHA-512-256']) {
      for (const pw of [CREATE_PW, CHANGED_PW, IMPORT_PW]) {
        for (const user of ['logalice', 'logcarol']) secrets.push(ha1Of(alg, user, 'example.com', pw));
      }
      secrets.push(ha1Of(alg, 'logbob', 'example.com', generated as string));
    }

    const log = t.logs.join('\n');
    // The log is not empty: it saw what happened (so the test would see a secret if one were there).
    expect(log).toContain('bindings changed');
    expect(log).toContain('authentication failed');
    expect(log).toContain('admin request');
    expect(t.logs.length).toBeGreaterThan(10);
    for (const s of secrets) expect(log, `a secret reached the log: ${s.slice(0, 12)}...`).not.toContain(s);
    expect(log.toLowerCase()).not.toMatch(/"authorization":"(?!\[redacted\])/);
  });
});

describe('createLogger redaction', () => {
  const capture = (): { lines: string[]; sink: Writable } => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    return { lines, sink };
  };

  it.each([
    ['password', { password: 'p-top-secret' }],
    ['nested password', { account: { password: 'p-top-secret' } }],
    ['two-level password', { input: { account: { password: 'p-top-secret' } } }],
    ['ha1', { ha1: 'p-top-secret' }],
    ['nested ha1', { credentials: { ha1: { MD5: 'p-top-secret' } } }],
    ['credentials inside a record', { record: { credentials: { ha1: { 'SHA-256': 'p-top-secret' } } } }],
    ['previousHa1', { previousHa1: { MD5: 'p-top-secret' } }],
    ['token', { token: 'p-top-secret' }],
    ['nested token', { admin: { token: 'p-top-secret' } }],
    ['authorization', { authorization: 'Digest response="p-top-secret"' }],
    ['header authorization', { headers: { authorization: 'Bearer p-top-secret' } }],
    ['request header authorization', { req: { headers: { authorization: 'Bearer p-top-secret' } } }],
  ])('blanks %s', (_name, obj) => {
    const { lines, sink } = capture();
    const log = createLogger('info', sink);
    log.info(obj, 'something happened');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('p-top-secret');
    expect(lines[0]).toContain('[redacted]');
    expect(lines[0]).toContain('something happened');
  });

  it('leaves other fields alone and does not mutate the logged object', () => {
    const { lines, sink } = capture();
    const obj = { aor: 'alice@example.com', source: '192.0.2.1', password: 'p-top-secret' };
    createLogger('info', sink).info(obj, 'x');
    const line = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(line.aor).toBe('alice@example.com');
    expect(line.source).toBe('192.0.2.1');
    expect(line.password).toBe('[redacted]');
    expect(obj.password).toBe('p-top-secret');
  });

  it('lists the paths it redacts', () => {
    for (const p of ['password', '*.password', 'ha1', 'token', 'authorization', 'credentials'])
      expect(REDACT_PATHS).toContain(p);
  });
});
