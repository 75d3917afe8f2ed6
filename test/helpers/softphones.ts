/**
 * Real softphones from Debian's packages, driven headless against a registrar on loopback: sipsak, baresip and
 * linphonec. Each runs with a private HOME and configuration in a temporary directory, listens on 127.0.0.1 only,
 * names the registrar by 127.0.0.1 as its outbound proxy, and is killed when its time bound runs out.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SipTransport = 'udp' | 'tcp' | 'tls';

export interface Target {
  /** The registrar's port for the transport used. */
  readonly port: number;
  readonly transport: SipTransport;
  readonly user: string;
  readonly domain: string;
  readonly password: string;
  /** PEM file that signs the registrar's TLS certificate (TLS only). */
  readonly caFile?: string;
}

const PACKAGES: Record<string, string> = { sipsak: 'sipsak', baresip: 'baresip', linphonec: 'linphone-cli' };

/** Fails with one line saying how to install a missing client; never skips. */
export function requireClient(binary: keyof typeof PACKAGES): void {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  if (!found) {
    throw new Error(`${binary} not found on PATH: install it (Debian/Ubuntu: apt-get install ${PACKAGES[binary]})`);
  }
}

const homes: string[] = [];

function privateHome(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sipreg-${prefix}-`));
  homes.push(dir);
  return dir;
}

/** Removes every private HOME made here. */
export function cleanHomes(): void {
  for (const d of homes.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A child process with its output collected and a hard time bound. */
export interface Client {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exit: Promise<number | null>;
  send(line: string): void;
  kill(): void;
}

/**
 * Waits until linphonec itself reports its account registered (`status register`), polling for at most `ms`. The
 * registrar commits a binding before its 200 reaches the phone, so a command sent on seeing the binding could reach
 * linphonec while its REGISTER transaction is still open, and be dropped.
 */
export async function linphonecRegistered(phone: Client, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const seen = phone.output.length;
    phone.send('status register');
    await new Promise((r) => setTimeout(r, 250));
    if (/registered, identity=/.test(phone.output.slice(seen).join(''))) return true;
  }
  return false;
}

function start(cmd: string, args: string[], home: string, boundMs: number): Client {
  const child = spawn(cmd, args, {
    cwd: home,
    env: { PATH: process.env.PATH, HOME: home, LANG: 'C' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return {
    child,
    output,
    exit,
    send: (line) => void child.stdin?.write(`${line}\n`),
    kill: () => void (child.exitCode === null && child.kill('SIGKILL')),
  };
}

/**
 * sipsak 0.9.8 in usrloc mode (-U): registers `contactPort`'s contact with the given expiry (0 removes it). sipsak reads
 * only the first WWW-Authenticate and knows MD5 alone; its default auth username keeps the '@' of the URI, so -u.
 * The port in the target URI stops its DNS SRV lookups of the domain (strace showed them leaving for the resolver).
 */
export function sipsak(t: Target, expires: number, contactPort: number): Promise<{ code: number; output: string }> {
  const args = [
    '-U',
    '-i',
    '-s',
    `sip:${t.user}@${t.domain}:${t.port}`,
    '--outbound-proxy',
    `127.0.0.1:${t.port}`,
    '-H',
    '127.0.0.1',
    '-l',
    String(contactPort),
    '-C',
    `sip:${t.user}@127.0.0.1:${contactPort}`,
    '-u',
    t.user,
    '-a',
    t.password,
    '-x',
    String(expires),
  ];
  const home = privateHome('sipsak');
  return new Promise((resolve) => {
    execFile(
      'sipsak',
      args,
      { cwd: home, env: { PATH: process.env.PATH, HOME: home }, timeout: 15_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, output: stdout + stderr });
      },
    );
  });
}

/** Whether `port` is free on 127.0.0.1 for TCP and for UDP. */
async function portFree(port: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => resolve(false));
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

/** A port free for UDP and TCP, with the next one free too (baresip listens for TLS one above sip_listen). */
export async function freeListenPort(): Promise<number> {
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
}

/**
 * baresip 1.0 with only what registering needs (account, menu, one codec; no sound card). It registers at start and
 * unregisters when it quits after `seconds` (-t).
 */
export async function baresip(t: Target, seconds: number): Promise<Client> {
  const home = privateHome('baresip');
  const listen = await freeListenPort();
  writeFileSync(
    join(home, 'config'),
    [
      'poll_method epoll',
      `sip_listen 127.0.0.1:${listen}`,
      ...(t.caFile ? [`sip_cafile ${t.caFile}`] : []),
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module_app account.so',
      'module_app menu.so',
      'audio_player aufile,/dev/null',
      'audio_source aufile,/dev/null',
      'dns_server 127.0.0.1:53',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(home, 'accounts'),
    `<sip:${t.user}@${t.domain};transport=${t.transport}>;auth_pass=${t.password};` +
      `outbound="sip:127.0.0.1:${t.port};transport=${t.transport}";regint=600\n`,
  );
  return start('baresip', ['-f', home, '-t', String(seconds)], home, (seconds + 15) * 1000);
}

/**
 * linphonec 5.1 (liblinphone) with one proxy account from its rc file: it registers at start with `expires`, refreshes
 * on its own, unregisters on `unregister` and on `quit`. liblinphone does not start its SIP stack without a writable
 * database directory, so one is made. Random local ports, bound to 127.0.0.1.
 */
export function linphonec(t: Target, expires: number, boundMs: number): Client {
  const home = privateHome('linphonec');
  mkdirSync(join(home, '.local', 'share', 'linphone'), { recursive: true });
  const rc = join(home, 'linphonerc');
  writeFileSync(
    rc,
    [
      '[sip]',
      'bind_address=127.0.0.1',
      'use_ipv6=0',
      `sip_port=${t.transport === 'udp' ? -1 : 0}`,
      `sip_tcp_port=${t.transport === 'tcp' ? -1 : 0}`,
      `sip_tls_port=${t.transport === 'tls' ? -1 : 0}`,
      'verify_server_certs=0',
      'default_proxy=0',
      '[net]',
      'firewall_policy=0',
      '[sound]',
      'playback_dev_id=',
      'capture_dev_id=',
      '[proxy_0]',
      `reg_proxy=<sip:127.0.0.1:${t.port};transport=${t.transport}>`,
      `reg_identity=sip:${t.user}@${t.domain}`,
      `reg_expires=${expires}`,
      'reg_sendregister=1',
      '[auth_info_0]',
      `username=${t.user}`,
      `passwd=${t.password}`,
      `realm=${t.domain}`,
      `domain=${t.domain}`,
      '',
    ].join('\n'),
  );
  return start('linphonec', ['-c', rc], home, boundMs);
}
