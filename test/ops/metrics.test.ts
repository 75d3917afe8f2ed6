/**
 * GET /metrics after real traffic over UDP and TCP: every counter moves by exactly what was sent, the store gauges
 * follow (within their 5 s cache), and no label ever carries a user, an address or a Call-ID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { StreamClient, UdpClient } from '../helpers/sip-client.js';
import { Phone, type Channel } from '../helpers/phone.js';
import { requestText } from '../helpers/requests.js';
import { scrape, seriesKeys, value } from './prom.js';

const PASSWORD = 'metrics-secret-pass-1';
const GAUGE_CACHE_MS = 5_000;

describe('GET /metrics', () => {
  let t: TestApp;
  let udp: UdpClient;
  let n = 0;
  const callIds: string[] = [];
  const users: string[] = [];

  const channel = (): Channel => ({
    request: (text) => udp.request(text, t.udpPort),
    via: `UDP 127.0.0.1:${udp.port}`,
    contactHost: `127.0.0.1:${udp.port}`,
  });

  async function phone(): Promise<Phone> {
    const user = `metric${n++}`;
    users.push(user);
    await t.app.accounts.create({ username: user, domain: 'example.com', password: PASSWORD });
    const p = new Phone(channel(), { user, domain: 'example.com', password: PASSWORD });
    callIds.push(p.callId);
    return p;
  }

  beforeAll(async () => {
    t = await startTestApp({ lockout: { extension: { threshold: 2, lockSec: 900 } } });
    udp = await UdpClient.open();
  });

  afterAll(async () => {
    udp?.close();
    await t?.stop();
  });

  it('needs no token, and counts requests, responses, outcomes, parse errors exactly; gauges follow their cache', async () => {
    const before = await scrape(t.adminUrl); // also fills the gauge cache (0 accounts, 0 bindings)
    const scrapedAt = Date.now();

    // 3 full registrations (REGISTER, 401, REGISTER, 200) and 1 refresh.
    const phones = [await phone(), await phone(), await phone()];
    for (const p of phones) expect((await p.register({ expires: 600 })).status).toBe(200);
    expect((await phones[0]!.register({ expires: 600 })).status).toBe(200);
    // 2 wrong answers for one account: its threshold is 2, so it is locked after them.
    const victim = await phone();
    expect((await victim.register({}, 'wrong-password-zz-1')).status).toBe(403);
    expect((await victim.register({}, 'wrong-password-zz-1')).status).toBe(403);
    // OPTIONS 200, INVITE 405.
    expect((await udp.request(requestText({ via: `UDP 127.0.0.1:${udp.port}` }), t.udpPort)).status).toBe(200);
    const invite = requestText({ method: 'INVITE', via: `UDP 127.0.0.1:${udp.port}` });
    expect((await udp.request(invite, t.udpPort)).status).toBe(405);
    // 2 invalid but routable requests (400), 1 that cannot be parsed at all (dropped).
    const noCallId = requestText({ via: `UDP 127.0.0.1:${udp.port}`, omit: ['Call-ID'] });
    const noCseq = requestText({ via: `UDP 127.0.0.1:${udp.port}`, omit: ['CSeq'] });
    expect((await udp.request(noCallId, t.udpPort)).status).toBe(400);
    expect((await udp.request(noCseq, t.udpPort)).status).toBe(400);
    udp.send(Buffer.from([0x00, 0xff, 0x13, 0x37]), t.udpPort);
    expect(await udp.silent(200)).toBe(true);

    const after = await scrape(t.adminUrl);
    const d = (name: string, labels: Record<string, string> = {}): number =>
      value(after, name, labels) - value(before, name, labels);

    // REGISTERs: 3 x 2 + 2 (refresh: challenged again, answered) + 2 x 2 (wrong answers, each after a 401).
    expect(d('sipreg_sip_requests_total', { method: 'REGISTER', transport: 'udp' })).toBe(12);
    expect(d('sipreg_sip_requests_total', { method: 'OPTIONS', transport: 'udp' })).toBe(3);
    expect(d('sipreg_sip_requests_total', { method: 'INVITE', transport: 'udp' })).toBe(1);
    expect(d('sipreg_sip_responses_total', { status: '401' })).toBe(6);
    expect(d('sipreg_sip_responses_total', { status: '200' })).toBe(5);
    expect(d('sipreg_sip_responses_total', { status: '403' })).toBe(2);
    expect(d('sipreg_sip_responses_total', { status: '405' })).toBe(1);
    expect(d('sipreg_sip_responses_total', { status: '400' })).toBe(2);
    expect(d('sipreg_registrations_total', { outcome: 'new' })).toBe(3);
    expect(d('sipreg_registrations_total', { outcome: 'refreshed' })).toBe(1);
    expect(d('sipreg_registrations_total', { outcome: 'challenged' })).toBe(6);
    expect(d('sipreg_registrations_total', { outcome: 'rejected', reason: 'auth' })).toBe(2);
    expect(d('sipreg_parse_errors_total', { transport: 'udp' })).toBe(3);
    expect(d('sipreg_dropped_total')).toBe(0);

    // Latency histograms are there and counted every REGISTER answered.
    expect(d('sipreg_request_duration_seconds_count', { method: 'REGISTER' })).toBe(12);
    expect(value(after, 'sipreg_request_duration_seconds_bucket', { method: 'REGISTER', le: '+Inf' })).toBeGreaterThan(
      0,
    );
    expect(d('sipreg_store_operation_duration_seconds_count', { operation: 'commitRegistration', result: 'ok' })).toBe(
      4,
    );
    expect(
      value(after, 'sipreg_store_operation_duration_seconds_count', { operation: 'loadRegistration' }),
    ).toBeGreaterThan(0);

    // The store gauges are cached 5 s: right after the first scrape they still show the old values...
    if (Date.now() - scrapedAt < GAUGE_CACHE_MS - 500) {
      expect(value(after, 'sipreg_accounts')).toBe(0);
      expect(value(after, 'sipreg_bindings')).toBe(0);
    }
    // ...and the new ones once the cache has expired.
    await new Promise((r) => setTimeout(r, Math.max(0, scrapedAt + GAUGE_CACHE_MS + 100 - Date.now())));
    const later = await scrape(t.adminUrl);
    expect(value(later, 'sipreg_accounts')).toBe(4);
    expect(value(later, 'sipreg_bindings')).toBe(3);
    expect(value(later, 'sipreg_active_lockouts', { kind: 'extension' })).toBe(1);
    expect(value(later, 'sipreg_active_lockouts', { kind: 'address' })).toBe(0);
  }, 15_000);

  it('counts authentication failures in sipreg_auth_failures_total', async () => {
    const before = await scrape(t.adminUrl);
    const p = await phone();
    expect((await p.register({}, 'wrong-password-yy-2')).status).toBe(403);
    const after = await scrape(t.adminUrl);
    expect(value(after, 'sipreg_auth_failures_total') - value(before, 'sipreg_auth_failures_total')).toBe(1);
  });

  it('counts a wrong answer on a foreign nonce: re-challenged, and still a failed authentication', async () => {
    const before = await scrape(t.adminUrl);
    const p = await phone();
    const challenge = p.challengesOf(await p.send())[0]!;
    const foreign = { ...challenge, nonce: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
    expect((await p.answerWith(foreign, {}, 'wrong-password-zz-3')).status).toBe(401);
    const after = await scrape(t.adminUrl);
    expect(value(after, 'sipreg_auth_failures_total') - value(before, 'sipreg_auth_failures_total')).toBe(1);
  });

  it('shows open TCP connections in sipreg_open_connections', async () => {
    const a = await StreamClient.connect(t.tcpPort);
    const b = await StreamClient.connect(t.tcpPort);
    await new Promise((r) => setTimeout(r, 50));
    expect(value(await scrape(t.adminUrl), 'sipreg_open_connections', { transport: 'tcp' })).toBe(2);
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
    await new Promise((r) => setTimeout(r, 50));
    expect(value(await scrape(t.adminUrl), 'sipreg_open_connections', { transport: 'tcp' })).toBe(0);
  });

  it('keeps label values bounded: no user, address or Call-ID, and no new series for new users', async () => {
    // Warm every outcome once, then register 10 new users: the set of series must not change.
    const warm = await phone();
    expect((await warm.register()).status).toBe(200);
    const first = await scrape(t.adminUrl);
    for (let i = 0; i < 10; i++) {
      const p = await phone();
      expect((await p.register()).status).toBe(200);
    }
    const text = await scrape(t.adminUrl);
    expect(seriesKeys(text)).toEqual(seriesKeys(first));
    for (const u of users) expect(text).not.toMatch(new RegExp(`"${u}"|${u}@`));
    for (const c of callIds) expect(text).not.toContain(c);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain('example.com');
    expect(text).not.toContain(PASSWORD);
  });
});
