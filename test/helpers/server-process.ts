/**
 * The registrar as an operator runs it, for tests that need a real process (signals, exit codes, RSS):
 * `node dist/main.js` (built by npm test's pretest) on free ports, configured by environment and a config file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'main.js');
export const ADMIN_TOKEN = 'reliability-test-token';

export interface ServerProcess extends Launched {
  udpPort: number;
  tcpPort: number;
  /** -1 without a TLS listener. */
  tlsPort: number;
  wsPort: number;
  wssPort: number;
  adminUrl: string;
  /** VmRSS in kB from /proc/<pid>/status; null once the process is gone. */
  rssKb(): number | null;
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];

/** SIGKILLs every process started here that is still alive (afterEach/afterAll). */
export function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function rssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface Launched {
  child: ChildProcess;
  pid: number;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pred: (line: string) => boolean, ms?: number): Promise<string>;
}

/** The repository's own config/default.json: what `npm start` runs with. */
export const DEFAULT_CONFIG = join(ROOT, 'config', 'default.json');

/**
 * Starts `node dist/main.js` and collects its output lines; does not wait for anything. `config` is written to a file
 * of its own, or DEFAULT_CONFIG is used as is. An env value of undefined leaves that variable unset.
 */
export function launch(
  env: Record<string, string | undefined> = {},
  config: object | typeof DEFAULT_CONFIG = {},
): Launched {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does it first)');
  let configFile = DEFAULT_CONFIG;
  if (config !== DEFAULT_CONFIG) {
    const dir = mkdtempSync(join(tmpdir(), 'sipreg-proc-'));
    dirs.push(dir);
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(config));
  }
  const merged: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    CONFIG_FILE: configFile,
    SIP_HOST: '127.0.0.1',
    SIP_UDP_PORT: '0',
    SIP_TCP_PORT: '0',
    SIP_WS_PORT: '0',
    SIP_WSS_PORT: '0',
    SIP_DOMAINS: 'example.com',
    ADMIN_PORT: '0',
    ADMIN_TOKEN,
    NONCE_SECRET: 'reliability-test-nonce-secret',
    ...env,
  };
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
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
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
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
  return { child, pid: child.pid ?? -1, lines, exit, waitFor };
}

/** Starts the server and waits until its admin API (and so its SIP listeners) is up. */
export async function spawnServer(
  env: Record<string, string | undefined> = {},
  config: object | typeof DEFAULT_CONFIG = {},
): Promise<ServerProcess> {
  const { child, lines, exit, waitFor } = launch(env, config);
  const adminLine = await waitFor((l) => l.includes('admin API listening'), 15_000);
  const port = (transport: string): number => {
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      const o = JSON.parse(l) as { msg?: string; transport?: string; port?: number };
      if (o.msg === 'SIP listener bound' && o.transport === transport) return o.port ?? -1;
    }
    return -1;
  };
  const adminPort = (JSON.parse(adminLine) as { port: number }).port;
  const pid = child.pid ?? -1;
  return {
    child,
    pid,
    lines,
    udpPort: port('udp'),
    tcpPort: port('tcp'),
    tlsPort: port('tls'),
    wsPort: port('ws'),
    wssPort: port('wss'),
    adminUrl: `http://127.0.0.1:${adminPort}`,
    exit,
    rssKb: () => rssKb(pid),
    waitFor,
  };
}

/** Creates digest accounts through the admin API (in parallel, a few at a time). */
export async function createAccounts(
  adminUrl: string,
  users: readonly string[],
  password: string,
  domain = 'example.com',
): Promise<void> {
  const queue = [...users];
  const worker = async (): Promise<void> => {
    for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
      const res = await fetch(`${adminUrl}/api/v1/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: u, domain, password }),
      });
      if (res.status !== 201) throw new Error(`create ${u}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}
