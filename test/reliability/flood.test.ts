/**
 * Per-source flood guard (config sip.rateLimit, src/server/rate-limit.ts): one address sending REGISTERs as fast as
 * it can gets at most its burst plus its rate answered; a phone at another address (127.0.0.2) keeps registering at
 * normal speed meanwhile.
 */
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { Phone } from '../helpers/phone.js';
import { registerText } from '../helpers/sip-text.js';
import { scrape, value } from '../ops/prom.js';
import { UdpChannel } from './udp-channel.js';

const RATE = 20;
const BURST = 40;
const PASSWORD = 'flood-secret-pw-1';

describe('REGISTER flood from one address', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ sip: { rateLimit: { requestsPerSec: RATE, burst: BURST } } });
    await t.app.accounts.create({ username: 'calm', domain: 'example.com', password: PASSWORD });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('is cut to burst + rate, while a phone at another address registers as usual', async () => {
    const flooder = dgram.createSocket('udp4');
    await new Promise<void>((r) => flooder.bind(0, '127.0.0.1', () => r()));
    let answered = 0;
    flooder.on('message', () => answered++);
    const fport = flooder.address().port;

    const calm = await UdpChannel.open(t.udpPort, { address: '127.0.0.2', timeoutMs: 2_000 });
    const phone = new Phone(calm, { user: 'calm', domain: 'example.com', password: PASSWORD });
    const before = await scrape(t.adminUrl);

    const started = Date.now();
    let sent = 0;
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        // ~10,000 a second, 500 times the allowed rate. (Faster than the server can read, the kernel's receive
        // buffer overflows and drops everybody's datagrams alike: that is for the network edge to stop, not a per-source limiter.)
        for (let i = 0; i < 100; i++, sent++) {
          const text = registerText({
            user: 'flood',
            domain: 'example.com',
            via: `UDP 127.0.0.1:${fport}`,
            cseq: sent + 1,
          });
          flooder.send(Buffer.from(text, 'latin1'), t.udpPort, '127.0.0.1');
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const latencies: number[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const at = Date.now();
      statuses.push((await phone.register({ expires: 600 })).status);
      latencies.push(Date.now() - at);
      await new Promise((r) => setTimeout(r, 50));
    }
    flooding = false;
    await flood;
    const elapsedSec = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    flooder.close();
    calm.close();

    expect(sent).toBeGreaterThan(2_000);
    // The flood got at most its burst plus what the rate refilled, with a little slack for timing.
    expect(answered).toBeLessThanOrEqual(BURST + Math.ceil(RATE * (elapsedSec + 0.5)));
    expect(answered).toBeGreaterThanOrEqual(BURST / 2);
    const after = await scrape(t.adminUrl);
    expect(
      value(after, 'sipreg_dropped_total', { reason: 'rate-limit' }) -
        value(before, 'sipreg_dropped_total', { reason: 'rate-limit' }),
    ).toBeGreaterThan(1_000);
    // The other address: every registration succeeded, each in well under a second (no retransmission needed).
    expect(statuses).toEqual(Array(10).fill(200));
    expect(Math.max(...latencies)).toBeLessThan(500);
  });
});
