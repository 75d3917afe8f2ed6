/**
 * Shared parts of the reliability scripts (fuzz, abuse, soak): start the built server (`node dist/main.js`) and a
 * throwaway redis-server, create accounts through the admin API, register over UDP like a phone (with RFC 3261 17.1.1
 * retransmissions, so a datagram lost in a flood is retried, not counted as a failure), read RSS and /metrics.
 * Plain ESM so the scripts run with `node` alone after `npm run build`.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { authorization, buildRegister, newCnonce, parseChallenge, parseResponse } from '../../lib/sip.mjs';
// One copy of these for all of bench/: the load tools' library.
import { ROOT, sleep, freePort } from '../../lib/sipreg.mjs';
export { ROOT, sleep, freePort };

export const MAIN = join(ROOT, 'dist', 'main.js');
export const TOKEN = 'reliability-admin-token';
export const DOMAIN = 'example.com';

/** Children started here die with this process, even when a script throws half-way. */
const children = new Set();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/**
 * VmRSS of a process in kB (/proc/<pid>/status); null when it is gone.
 * @param {number} pid
 */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * A redis-server on a free port in its own directory.
 * @param {{ appendonly?: boolean, appendfsync?: 'always' | 'everysec' | 'no' }} [opts]
 */
export async function startRedis(opts = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-rel-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--protected-mode', 'no'];
  args.push('--appendonly', opts.appendonly ? 'yes' : 'no');
  if (opts.appendfsync) args.push('--appendfsync', opts.appendfsync);
  /** @type {import('node:child_process').ChildProcess | null} */
  let child = null;
  const launch = async () => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    children.add(c);
    child = c;
    await new Promise((resolve, reject) => {
      c.once('error', (e) =>
        reject(new Error(`redis-server: ${e.message} (Debian/Ubuntu: apt-get install redis-server)`)),
      );
      c.once('spawn', resolve);
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ok = await new Promise((resolve) => {
        const sock = createConnection({ host: '127.0.0.1', port });
        sock.once('error', () => resolve(false));
        sock.once('connect', () => sock.write('PING\r\n'));
        sock.once('data', (d) => {
          sock.destroy();
          resolve(d.toString().startsWith('+PONG'));
        });
      });
      if (ok) return;
      await sleep(50);
    }
    throw new Error('redis-server did not answer PING within 10 s');
  };
  const kill = async (/** @type {NodeJS.Signals} */ signal) => {
    const c = child;
    if (!c) return;
    child = null;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** @param {NodeJS.Signals} [signal] */
    stop: (signal = 'SIGTERM') => kill(signal),
    restart: launch,
    async close() {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts `node dist/main.js` on free ports (port 0) and waits for its listeners.
 * @param {{ redisUrl?: string | null, config?: object, env?: Record<string, string> }} [opts]
 */
export async function startServer(opts = {}) {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-rel-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(opts.config ?? {}));
  /** @type {Record<string, string>} */
  const env = {
    PATH: process.env.PATH ?? '',
    CONFIG_FILE: configFile,
    SIP_HOST: '127.0.0.1',
    SIP_UDP_PORT: '0',
    SIP_TCP_PORT: '0',
    SIP_WS_PORT: '0',
    SIP_WSS_PORT: '0',
    SIP_DOMAINS: DOMAIN,
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: 'info',
    NONCE_SECRET: 'reliability-nonce-secret',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    ...(opts.env ?? {}),
  };
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  /** @type {string[]} */
  const lines = [];
  let partial = '';
  const onData = (/** @type {Buffer} */ d) => {
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l !== '') lines.push(l);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  /** @type {Promise<{ code: number | null, signal: string | null }>} */
  const exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const ports = { udp: -1, tcp: -1, tls: -1, admin: -1 };
  const deadline = Date.now() + 15_000;
  while (ports.admin < 0) {
    if (child.exitCode !== null) throw new Error(`server exited at start:\n${lines.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`server did not start within 15 s:\n${lines.join('\n')}`);
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      const o = JSON.parse(l);
      if (o.msg === 'SIP listener bound') ports[/** @type {'udp' | 'tcp' | 'tls'} */ (o.transport)] = o.port;
      if (o.msg === 'admin API listening') ports.admin = o.port;
    }
    await sleep(20);
  }
  return {
    child,
    pid: /** @type {number} */ (child.pid),
    lines,
    exit,
    ports,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    rssKb: () => rssKb(/** @type {number} */ (child.pid)),
    /** Lines that report an unhandled rejection or a handling bug. */
    problems: () => lines.filter((l) => /unhandled rejection|message handling failed|uncaught/i.test(l)),
    /** SIGTERM and wait (bounded); SIGKILL after the bound. */
    async stop(boundMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
      const r = await exit;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return r;
    },
  };
}

/**
 * POST /api/v1/accounts.
 * @param {string} adminUrl
 * @param {string} username
 * @param {string} password
 */
export async function createAccount(adminUrl, username, password) {
  const res = await fetch(`${adminUrl}/api/v1/accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username, domain: DOMAIN, password }),
  });
  if (res.status !== 201) throw new Error(`create ${username}: ${res.status} ${await res.text()}`);
}

/** @param {string} adminUrl */
export async function scrape(adminUrl) {
  const res = await fetch(`${adminUrl}/metrics`);
  return res.text();
}

/**
 * Sum of the samples of a metric in Prometheus text whose labels include every `labels` pair.
 * @param {string} text
 * @param {string} name
 * @param {Record<string, string>} [labels]
 */
export function metricValue(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * The Contact's port replaced (Via keeps the socket's, so responses come back here): many phones on one socket.
 * @param {string} text @param {number | undefined} port
 */
function withContactPort(text, port) {
  return port === undefined ? text : text.replace(/^(Contact: <sip:[^@]+@[^:>]+:)\d+/m, `$1${port}`);
}

/**
 * A UDP phone endpoint shared by many registrations: responses are matched by Via branch; requests are retransmitted
 * at T1 doubling (RFC 3261 17.1.1.2) until an answer or the timeout.
 */
export class UdpRegistrar {
  /** @param {number} serverPort @param {string} [host] */
  constructor(serverPort, host = '127.0.0.1') {
    this.serverPort = serverPort;
    this.host = host;
    this.socket = dgram.createSocket('udp4');
    /** @type {Map<string, (text: string) => void>} */
    this.pending = new Map();
    this.socket.on('message', (m) => {
      const text = m.toString('latin1');
      const r = parseResponse(text);
      const w = r?.branch ? this.pending.get(r.branch) : undefined;
      if (w) w(text);
    });
  }

  /** @param {string} [address] */
  async open(address = '127.0.0.1') {
    await new Promise((r) => this.socket.bind(0, address, () => r(undefined)));
    this.localPort = this.socket.address().port;
    this.localAddress = address;
    return this;
  }

  /**
   * Sends one request and waits for its final response text (null on timeout).
   * @param {(branch: string) => string} build
   * @param {number} [timeoutMs]
   * @returns {Promise<string | null>}
   */
  transact(build, timeoutMs = 8000) {
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const data = Buffer.from(build(branch), 'latin1');
    return new Promise((resolve) => {
      let interval = 500;
      /** @type {NodeJS.Timeout} */
      let retx;
      const send = () => {
        this.socket.send(data, this.serverPort, this.host);
        retx = setTimeout(send, interval);
        interval = Math.min(interval * 2, 4000);
      };
      const done = (/** @type {string | null} */ text) => {
        clearTimeout(retx);
        clearTimeout(deadline);
        this.pending.delete(branch);
        resolve(text);
      };
      const deadline = setTimeout(() => done(null), timeoutMs);
      this.pending.set(branch, (text) => {
        if (!text.startsWith('SIP/2.0 1')) done(text);
      });
      send();
    });
  }

  /**
   * Full registration: REGISTER, 401, REGISTER with Authorization. Returns the final status (0 = no answer).
   * @param {{ user: string, password: string, expires?: number, contactPort?: number, callId?: string, cseq?: number }} a
   */
  async register(a) {
    const callId = a.callId ?? `${randomBytes(8).toString('hex')}@rel`;
    const fromTag = randomBytes(4).toString('hex');
    let cseq = a.cseq ?? 1;
    const contactPort = a.contactPort ?? this.localPort;
    /** @param {string | null} auth */
    const req = (auth) => (/** @type {string} */ branch) =>
      withContactPort(
        buildRegister({
          viaTransport: 'UDP',
          localHost: this.localAddress ?? '127.0.0.1',
          localPort: this.localPort ?? 5060,
          branch,
          ruri: `sip:${DOMAIN}`,
          user: a.user,
          domain: DOMAIN,
          fromTag,
          callId,
          cseq: cseq++,
          expires: a.expires ?? 600,
          authorization: auth,
        }),
        contactPort,
      );
    const first = await this.transact(req(null));
    const r1 = first === null ? null : parseResponse(first);
    if (r1 === null) return { status: 0, callId };
    if (r1.status !== 401) return { status: r1.status, callId };
    const ch = r1.wwwAuthenticate.map(parseChallenge).find((c) => c !== null);
    if (!ch) return { status: -1, callId };
    const cred = { username: a.user, password: a.password, ha1: new Map() };
    const second = await this.transact(req(authorization(cred, ch, `sip:${DOMAIN}`, 1, newCnonce())));
    const r2 = second === null ? null : parseResponse(second);
    return { status: r2?.status ?? 0, callId, text: second };
  }

  close() {
    this.socket.close();
  }
}

/**
 * Parses `--name value` / `--flag` arguments against defaults (numbers stay numbers).
 * @template {Record<string, string | number | boolean>} T
 * @param {T} defaults
 * @returns {T}
 */
export function args(defaults) {
  const out = /** @type {Record<string, string | number | boolean>} */ ({ ...defaults });
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) continue;
    const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in out)) throw new Error(`unknown option ${a}`);
    const d = out[key];
    if (typeof d === 'boolean') out[key] = true;
    else {
      const v = argv[++i] ?? '';
      out[key] = typeof d === 'number' ? Number(v) : v;
      if (typeof d === 'number' && !Number.isFinite(out[key])) throw new Error(`${a} needs a number`);
    }
  }
  return /** @type {T} */ (out);
}

/** Percentiles of a numeric sample. @param {number[]} xs */
export function stats(xs) {
  if (xs.length === 0) return { n: 0, min: NaN, p50: NaN, p95: NaN, max: NaN, mean: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return {
    n: s.length,
    min: s[0] ?? NaN,
    p50: at(0.5),
    p95: at(0.95),
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}
