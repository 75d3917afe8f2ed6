/**
 * The process as an operator runs it: `node dist/main.js` (what `npm start` runs after building), configured by
 * environment variables. Needs the build (npm test builds first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = `${root}dist/main.js`;
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function ensureBuilt(): void {
  if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does it first)');
}

interface Running {
  child: ChildProcess;
  lines: string[];
  waitFor(pred: (line: string) => boolean, ms?: number): Promise<string>;
  exit: Promise<number | null>;
}

function start(env: NodeJS.ProcessEnv): Running {
  ensureBuilt();
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      SIP_HOST: '127.0.0.1',
      SIP_UDP_PORT: '0',
      SIP_TCP_PORT: '0',
      ADMIN_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let partial = '';
  const onData = (d: Buffer): void => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (pred: (line: string) => boolean, ms = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; output:\n${lines.join('\n')}`)), ms);
      const check = (): void => {
        const hit = lines.find(pred);
        if (hit !== undefined) {
          clearTimeout(timer);
          resolve(hit);
        } else waiters.push(check);
      };
      check();
    });
  return { child, lines, waitFor, exit };
}

const listenerPort = (lines: string[], transport: string): number => {
  for (const l of lines) {
    if (!l.startsWith('{')) continue;
    const o = JSON.parse(l) as { msg?: string; transport?: string; port?: number };
    if (o.msg === 'SIP listener bound' && o.transport === transport) return o.port ?? -1;
  }
  return -1;
};

describe('start-up', () => {
  it('stops with one line naming the key and exit code 2 on a bad value', async () => {
    const r = start({ SIP_UDP_PORT: 'abc' });
    expect(await r.exit).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/sip\.udpPort.*SIP_UDP_PORT/);
  });

  it('logs every listener with its real port, warns the store is not persistent, prints a generated token once, and exits 0 on SIGTERM', async () => {
    const r = start({});
    await r.waitFor((l) => l.includes('admin API listening'));
    const udp = listenerPort(r.lines, 'udp');
    const tcp = listenerPort(r.lines, 'tcp');
    expect(udp).toBeGreaterThan(0);
    expect(tcp).toBeGreaterThan(0);
    expect(r.lines.some((l) => l.includes('not persistent'))).toBe(true);
    const tokens = r.lines.filter((l) => l.startsWith('ADMIN_TOKEN='));
    expect(tokens).toHaveLength(1);
    // sipp, a SIP client this project did not write, gets its 200 to OPTIONS.
    const sipp = spawnSync(
      'sipp',
      [
        `127.0.0.1:${udp}`,
        '-sf',
        `${root}test/fixtures/sipp/options.xml`,
        '-m',
        '1',
        '-timeout',
        '10s',
        '-nostdin',
        '-i',
        '127.0.0.1',
        '-trace_err',
        '-error_file',
        '/dev/null',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    if (sipp.error && (sipp.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('sipp not found on PATH: install it (Debian/Ubuntu: apt-get install sip-tester)');
    }
    expect(sipp.status, `sipp: ${sipp.stdout.slice(-500)} ${sipp.stderr.slice(-500)}`).toBe(0);
    r.child.kill('SIGTERM');
    expect(await r.exit).toBe(0);
    expect(r.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});
