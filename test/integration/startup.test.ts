/**
 * The process as an operator runs it: `node dist/main.js` (what `npm start` runs after building), configured by
 * environment variables; and worker mode (SIP in node:cluster workers, Redis shared). Needs the build (npm test
 * builds first).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ROOT, killAll, launch, spawnServer } from '../helpers/server-process.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { UdpClient, first } from '../helpers/sip-client.js';
import { Phone } from '../helpers/phone.js';
import { requestText } from '../helpers/requests.js';
import { reusePortSupported } from '../../src/server/sip-server.js';

afterEach(() => killAll());

describe('start-up', () => {
  it('stops with one line naming the key and exit code 2 on a bad value', async () => {
    const r = launch({ SIP_UDP_PORT: 'abc' });
    expect((await r.exit).code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/sip\.udpPort.*SIP_UDP_PORT/);
  });

  it('logs every listener with its real port, warns the store is not persistent, prints a generated token once, and exits 0 on SIGTERM', async () => {
    const r = await spawnServer({ ADMIN_TOKEN: '' });
    expect(r.udpPort).toBeGreaterThan(0);
    expect(r.tcpPort).toBeGreaterThan(0);
    expect(r.lines.some((l) => l.includes('not persistent'))).toBe(true);
    expect(r.lines.filter((l) => l.startsWith('ADMIN_TOKEN='))).toHaveLength(1);
    // sipp, a SIP client this project did not write, gets its 200 to OPTIONS.
    const sipp = spawnSync(
      'sipp',
      [
        `127.0.0.1:${r.udpPort}`,
        '-sf',
        `${ROOT}test/fixtures/sipp/options.xml`,
        '-m',
        '1',
        '-timeout',
        '10s',
        '-nostdin',
      ],
      { encoding: 'utf8', timeout: 15_000, cwd: '/tmp' },
    );
    if (sipp.error && (sipp.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('sipp not found on PATH: install it (Debian/Ubuntu: apt-get install sip-tester)');
    }
    expect(sipp.status, `sipp: ${sipp.stdout.slice(-500)} ${sipp.stderr.slice(-500)}`).toBe(0);
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
    expect(r.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });

  it('refuses worker mode without Redis', async () => {
    const r = launch({ SIP_WORKERS: '2' });
    expect((await r.exit).code).toBe(2);
    expect(r.lines[0]).toMatch(/sip\.workers.*REDIS_URL/);
  });
});

describe('worker mode', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('serves SIP from two workers sharing Redis, sums their metrics, and exits 0 on SIGTERM', async () => {
    const r = launch({ SIP_WORKERS: '2', REDIS_URL: redis.url });
    await r.waitFor((l) => l.includes('admin API listening'), 15_000);
    // Each worker logs its own listeners; with port 0 they share the one port the primary bound.
    await r.waitFor(
      () => r.lines.filter((l) => l.includes('"transport":"udp"') && l.includes('SIP listener bound')).length >= 2,
    );
    const udpLines = r.lines.filter((l) => l.includes('"transport":"udp"') && l.includes('SIP listener bound'));
    const ports = new Set(udpLines.map((l) => (JSON.parse(l) as { port: number }).port));
    expect(ports.size).toBe(1);
    const udpPort = [...ports][0] as number;
    const adminPort = (JSON.parse(r.lines.find((l) => l.includes('admin API listening')) as string) as { port: number })
      .port;
    const api = `http://127.0.0.1:${adminPort}`;

    const password = 'worker-mode-pass-1';
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${api}/api/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: `w${i}`, domain: 'example.com', password }),
      });
      expect(res.status).toBe(201);
    }
    // Several phones, several source ports: the kernel spreads their datagrams over both workers.
    const clients = await Promise.all([0, 1, 2, 3, 4, 5].map(() => UdpClient.open()));
    try {
      for (const [i, udp] of clients.entries()) {
        const phone = new Phone(
          {
            request: (t) => udp.request(t, udpPort),
            via: `UDP 127.0.0.1:${udp.port}`,
            contactHost: `127.0.0.1:${udp.port}`,
          },
          { user: `w${i}`, domain: 'example.com', password },
        );
        expect((await phone.register()).status).toBe(200);
        expect((await phone.register()).status).toBe(200);
        const opt = await udp.request(requestText(), udpPort);
        expect(first(opt, 'allow')).toBe('REGISTER, OPTIONS');
      }
    } finally {
      for (const c of clients) c.close();
    }
    expect((await fetch(`${api}/healthz`)).status).toBe(200);
    // The primary counts the bindings from the store's expiry index, which the workers write in 50 ms batches (and
    // a scrape's reading is then kept 5 s): the first scrape comes after one batch.
    await new Promise((r) => setTimeout(r, 250));
    const metrics = await (await fetch(`${api}/metrics`)).text();
    const registers = /^sipreg_sip_requests_total\{method="REGISTER",transport="udp"\} (\d+)/m.exec(metrics);
    expect(Number(registers?.[1])).toBe(24); // 6 phones x 2 registrations x 2 requests, summed over the workers
    expect(metrics).toMatch(/^sipreg_bindings 6$/m);

    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
  }, 30_000);

  it('on a fixed port, each worker has a UDP and a TCP socket of its own when Node has reusePort (22.12+), else shares one', async () => {
    const port = await freeUdpTcpPort();
    const r = launch({
      SIP_WORKERS: '2',
      REDIS_URL: redis.url,
      SIP_UDP_PORT: String(port),
      SIP_TCP_PORT: String(port),
    });
    await r.waitFor(
      () => r.lines.filter((l) => l.includes('"transport":"udp"') && l.includes('SIP listener bound')).length >= 2,
      15_000,
    );
    const sockets = (proto: '-u' | '-t'): number =>
      spawnSync('ss', ['-Hln', proto, `sport = :${port}`], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((l) => l.trim() !== '').length;
    const own = reusePortSupported();
    expect(sockets('-u')).toBe(own ? 2 : 1);
    expect(sockets('-t')).toBe(own ? 2 : 1);
    // Either way it serves.
    const udp = await UdpClient.open();
    try {
      expect((await udp.request(requestText(), port)).status).toBe(200);
    } finally {
      udp.close();
    }
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
  }, 30_000);
});

/** A port free for both UDP and TCP on 127.0.0.1. */
async function freeUdpTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const dgram = await import('node:dgram');
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}
