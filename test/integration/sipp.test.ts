/**
 * A SIP client this project did not write: sipp (Debian's sip-tester) registers with digest authentication (MD5, as
 * sipp computes), over UDP and over TCP, against the built server with its Redis store. The scenario is the one the
 * benchmarks use (bench/sipp/reg-auth.xml).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ROOT, killAll, spawnServer, type ServerProcess } from '../helpers/server-process.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

const USERS = ['sipp1', 'sipp2', 'sipp3'];
const PASSWORD = (u: string): string => `secret-pass-${u.slice(-1)}-sip`;

function sipp(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'ENOENT'
          ? new Error('sipp not found on PATH: install it (Debian/Ubuntu: apt-get install sip-tester)')
          : e,
      ),
    );
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('sipp registers with digest authentication against the Redis store', () => {
  let redis: RedisServerHandle;
  let server: ServerProcess;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    server = await spawnServer(
      { REDIS_URL: redis.url, SIP_DOMAINS: 'example.com,127.0.0.1' },
      { registrar: { algorithms: ['MD5'] } },
    );
    for (const u of USERS) {
      const res = await fetch(`${server.adminUrl}/api/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: u, domain: 'example.com', password: PASSWORD(u) }),
      });
      expect(res.status).toBe(201);
    }
    dir = mkdtempSync(join(tmpdir(), 'sipreg-sipp-'));
    writeFileSync(join(dir, 'users.csv'), ['SEQUENTIAL', ...USERS.map((u) => `${u};${PASSWORD(u)}`)].join('\n') + '\n');
  });

  afterAll(async () => {
    killAll();
    await redis?.stop();
  });

  for (const [transport, flag, port] of [
    ['UDP', 'u1', (s: ServerProcess) => s.udpPort],
    ['TCP', 't1', (s: ServerProcess) => s.tcpPort],
  ] as const) {
    it(`over ${transport}`, async () => {
      const target = `127.0.0.1:${port(server)}`;
      const r = await sipp(
        [
          target,
          '-sf',
          `${ROOT}bench/sipp/reg-auth.xml`,
          '-inf',
          join(dir, 'users.csv'),
          '-key',
          'domain',
          'example.com',
          '-key',
          'expires',
          '600',
          '-key',
          'ruri_host',
          target,
          '-t',
          flag,
          '-i',
          '127.0.0.1',
          '-m',
          String(USERS.length),
          '-r',
          '10',
          '-timeout',
          '20s',
          '-nostdin',
        ],
        dir,
      );
      expect(r.code, r.output.slice(-800)).toBe(0);
      for (const u of USERS) {
        const res = await fetch(`${server.adminUrl}/api/v1/accounts/${u}%40example.com/bindings`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        const body = (await res.json()) as { bindings: Array<{ transport: string; userAgent: string }> };
        expect(
          body.bindings.some((b) => b.transport === transport.toLowerCase() && b.userAgent === 'sipreg-bench-sipp'),
        ).toBe(true);
      }
    }, 30_000);
  }
});
