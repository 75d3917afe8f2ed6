/**
 * Starting and stopping what a bench run needs, all on loopback: a private redis-server, sipreg (`node dist/main.js`)
 * on free ports, a throw-away TLS certificate; and loading accounts through the admin API's bulk import.
 * Every wait is bounded; every child is stopped by its own PID (SIGTERM, then SIGKILL after a bound).
 */
import { spawn, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPassword, benchUser, padWidthFor } from './accounts.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
let exitHookInstalled = false;

/** Children die with us, whatever ends the run (Ctrl-C, an exception). */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    // A caller with its own handler (serve.mjs) stops its children itself.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      process.exit(130);
    });
  }
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bind 0, read, release). @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

/** @param {number} port @returns {Promise<boolean>} */
function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port for a Redis Cluster node: its bus listens 10000 higher, so both must be free and below 65536. */
async function freeClusterPort() {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** @type {Set<string>} */
const dirs = new Set();

/**
 * A fresh working directory under /tmp, removed at exit unless `keep`. It also holds `pids`, the PIDs of the children
 * started for it, so that a later run can stop children left behind by a run that died abruptly (see reapStale).
 * @param {string} label @param {boolean} [keep]
 */
export function workDir(label, keep = false) {
  reapStale();
  const dir = path.join('/tmp', `sipreg-bench-${label}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  if (!keep) dirs.add(dir);
  return dir;
}

/** @param {string} dir @param {import('node:child_process').ChildProcess} c @param {string} what */
function recordPid(dir, c, what) {
  appendFileSync(path.join(dir, 'pids'), `${c.pid} ${what}\n`);
}

/**
 * Stops children recorded in /tmp/sipreg-bench-*-<pid>/pids whose run (<pid>) is gone: by PID, and only when the PID
 * still runs the program recorded (redis-server or dist/main.js), so a reused PID is never hit.
 */
export function reapStale() {
  let entries = [];
  try {
    entries = readdirSync('/tmp').filter((e) => /^sipreg-bench-[a-z]+-\d+$/.test(e));
  } catch {
    return;
  }
  for (const e of entries) {
    const owner = Number(e.slice(e.lastIndexOf('-') + 1));
    if (owner === process.pid || existsSync(`/proc/${owner}`)) continue;
    let lines = [];
    try {
      lines = readFileSync(path.join('/tmp', e, 'pids'), 'utf8').split('\n');
    } catch {
      lines = [];
    }
    for (const l of lines) {
      const [pidText, what] = l.split(' ');
      const pid = Number(pidText);
      if (!(pid > 1) || !what) continue;
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (cmd.includes(what)) {
        try {
          process.kill(pid, 'SIGKILL');
          console.error(`reaped ${what} pid ${pid} left by dead run ${owner}`);
        } catch {
          // gone meanwhile
        }
      }
    }
    rmSync(path.join('/tmp', e), { recursive: true, force: true });
  }
}

/**
 * Stops one child: SIGTERM, then SIGKILL after `boundMs`.
 * @param {import('node:child_process').ChildProcess} c @param {number} [boundMs]
 */
export async function stopChild(c, boundMs = 12_000) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), boundMs);
  await exited;
  clearTimeout(t);
  children.delete(c);
}

/**
 * A private redis-server on a free port, no persistence.
 * @param {string} dir
 * @param {string[]} [extraArgs]
 * @returns {Promise<{ pid: number, port: number, url: string, stop: () => Promise<void> }>}
 */
export async function startRedis(dir, extraArgs = []) {
  installExitHook();
  const port = extraArgs.includes('--cluster-enabled') ? await freeClusterPort() : await freePort();
  const c = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--logfile',
      path.join(dir, 'redis.log'),
      ...extraArgs,
    ],
    { stdio: 'ignore' }, // it logs to --logfile; an inherited stderr would hold the caller's pipe open
  );
  children.add(c);
  recordPid(dir, c, 'redis-server');
  await new Promise((resolve, reject) => {
    c.once('spawn', resolve);
    c.once('error', (e) => reject(new Error(`redis-server: ${e.message} (apt-get install redis-server)`)));
  });
  for (let i = 0; i < 100; i++) {
    if (await redisPing(port)) break;
    if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode}); see ${dir}/redis.log`);
    await sleep(100);
    if (i === 99) throw new Error('redis-server did not answer PING in 10 s');
  }
  return { pid: /** @type {number} */ (c.pid), port, url: `redis://127.0.0.1:${port}`, stop: () => stopChild(c) };
}

/**
 * A Redis Cluster of three masters with a replica each (six redis-server processes on free loopback ports, made with
 * redis-cli --cluster create), for the scale-out bench. Returns the seed list REDIS_CLUSTER_NODES takes.
 * @param {string} dir
 */
export async function startRedisCluster(dir) {
  const nodes = [];
  for (let i = 0; i < 6; i++) {
    const d = path.join(dir, `node${i}`);
    mkdirSync(d, { recursive: true });
    nodes.push(
      await startRedis(d, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--repl-diskless-sync-delay',
        '0',
      ]),
    );
  }
  const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
  const create = spawn('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '1', '--cluster-yes'], {
    stdio: 'ignore',
  });
  const code = await new Promise((resolve) => create.once('exit', resolve));
  if (code !== 0) throw new Error('redis-cli --cluster create failed');
  // Bounded: cluster_state:ok on every node within 20 s.
  for (let i = 0; ; i++) {
    const states = await Promise.all(
      nodes.map(
        (n) =>
          new Promise((resolve) => {
            const c = spawn('redis-cli', ['-p', String(n.port), 'cluster', 'info'], {
              stdio: ['ignore', 'pipe', 'ignore'],
            });
            let out = '';
            c.stdout.on('data', (d) => (out += d));
            c.once('exit', () => resolve(out.includes('cluster_state:ok')));
          }),
      ),
    );
    if (states.every(Boolean)) break;
    if (i >= 200) throw new Error('Redis Cluster not ok within 20 s');
    await sleep(100);
  }
  return {
    pids: nodes.map((n) => n.pid),
    seeds: seeds.join(','),
    stop: async () => {
      for (const n of nodes) await n.stop();
    },
  };
}

/** @param {number} port @returns {Promise<boolean>} */
function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      clearTimeout(t);
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/**
 * A self-signed certificate for the TLS listener (the generator does not verify it: loopback bench).
 * @param {string} dir @returns {{ cert: string, key: string }}
 */
export function makeTlsCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { cert, key };
}

/**
 * @typedef {object} Sipreg
 * @property {number} pid
 * @property {{ udp?: number, tcp?: number, tls?: number, ws?: number }} ports
 * @property {number} adminPort
 * @property {string} token
 * @property {string} logFile
 * @property {() => Promise<void>} stop
 */

/**
 * Starts `node dist/main.js` on free ports and waits for its listener log lines.
 * @param {object} o
 * @param {string} o.dir
 * @param {string | null} o.redisUrl   null: the embedded memory store
 * @param {boolean} [o.tls]
 * @param {string[]} [o.domains]
 * @param {string[]} [o.algorithms]  server challenge order (sipp computes MD5 only)
 * @param {string} [o.host]
 * @param {Record<string, string>} [o.env]
 * @param {string[]} [o.nodeArgs]  e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']
 * @param {Record<string, unknown>} [o.config]  more of the config file (merged at the top level)
 * @returns {Promise<Sipreg>}
 */
export async function startSipreg(o) {
  installExitHook();
  const token = randomBytes(18).toString('base64url');
  const configFile = path.join(o.dir, 'sipreg.json');
  // Bench traffic all comes from 127.0.0.1: a burst of failures must not lock the generator's address out.
  const config = { lockout: { trustedNetworks: ['127.0.0.0/8', '::1/128'] } };
  if (o.algorithms) Object.assign(config, { registrar: { algorithms: o.algorithms } });
  if (o.config) Object.assign(config, o.config);
  writeFileSync(configFile, JSON.stringify(config));
  /** @type {Record<string, string>} */
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    CONFIG_FILE: configFile,
    SIP_HOST: o.host ?? '127.0.0.1',
    SIP_UDP_PORT: '0',
    SIP_TCP_PORT: '0',
    SIP_WS_PORT: '0',
    SIP_WSS_PORT: '0',
    SIP_TLS_PORT: 'off',
    SIP_DOMAINS: (o.domains ?? ['bench.test', '127.0.0.1']).join(','),
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: '0',
    ADMIN_TOKEN: token,
    LOG_LEVEL: 'info',
    ...(o.env ?? {}),
  };
  if (o.redisUrl) env.REDIS_URL = o.redisUrl;
  if (o.tls) {
    const { cert, key } = makeTlsCert(o.dir);
    Object.assign(env, { SIP_TLS_PORT: '0', SIP_TLS_CERT: cert, SIP_TLS_KEY: key });
  }
  const logFile = path.join(o.dir, 'sipreg.log');
  const log = createWriteStream(logFile);
  // SIPREG_NODE_ARGS: node flags for a benchmarked server (--cpu-prof, --trace-gc), space-separated.
  const extraArgs = (process.env.SIPREG_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const c = spawn(process.execPath, [...(o.nodeArgs ?? []), ...extraArgs, 'dist/main.js'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(c);
  recordPid(o.dir, c, 'dist/main.js');
  c.stderr?.pipe(log);
  /** @type {{ udp?: number, tcp?: number, tls?: number, ws?: number }} */
  const ports = {};
  let adminPort = 0;
  let pending = '';
  const wanted = o.tls ? 4 : 3; // udp, tcp, ws (+ tls)
  const ready = new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`sipreg did not report its listeners in 20 s; see ${logFile}`)),
      20_000,
    );
    c.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`sipreg exited (${code}) at start; see ${logFile}`));
    });
    c.stdout?.on('data', (/** @type {Buffer} */ d) => {
      log.write(d);
      if (adminPort > 0 && Object.keys(ports).length >= wanted) return;
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines) {
        let j;
        try {
          j = JSON.parse(l);
        } catch {
          continue;
        }
        if (j.msg === 'SIP listener bound' && ['udp', 'tcp', 'tls', 'ws'].includes(j.transport)) {
          ports[/** @type {'udp' | 'tcp' | 'tls' | 'ws'} */ (j.transport)] = Number(j.port);
        } else if (j.msg === 'admin API listening') adminPort = Number(j.port);
      }
      if (adminPort > 0 && Object.keys(ports).length >= wanted) {
        clearTimeout(t);
        resolve(undefined);
      }
    });
  });
  try {
    await ready;
  } catch (e) {
    await stopChild(c, 3000);
    throw e;
  }
  c.removeAllListeners('exit');
  return {
    pid: /** @type {number} */ (c.pid),
    ports,
    adminPort,
    token,
    logFile,
    stop: async () => {
      await stopChild(c);
      log.end();
    },
  };
}

/**
 * Loads accounts u<i>@domain (password benchPassword(i)) through POST /api/v1/accounts/import, NDJSON, in batches.
 * An account that exists already counts as loaded (re-runs against a kept Redis).
 * @param {object} o
 * @param {number} o.adminPort
 * @param {string} o.token
 * @param {number} o.accounts
 * @param {number} [o.first]
 * @param {string} [o.domain]
 * @param {number} [o.batch]
 * @param {string} [o.pwPrefix]
 * @returns {Promise<{ created: number, existing: number, errors: number, seconds: number }>}
 */
export async function importAccounts(o) {
  const first = o.first ?? 0;
  const width = padWidthFor(first + o.accounts);
  const domain = o.domain ?? 'bench.test';
  const batch = o.batch ?? 5000;
  const t0 = Date.now();
  let created = 0;
  let existing = 0;
  let errors = 0;
  /** @type {string | null} */
  let firstError = null;
  for (let start = 0; start < o.accounts; start += batch) {
    const lines = [];
    for (let i = start; i < Math.min(o.accounts, start + batch); i++) {
      const username = benchUser(first + i, width);
      lines.push(JSON.stringify({ username, domain, password: benchPassword(first + i, width, o.pwPrefix) }));
    }
    const res = await fetch(`http://127.0.0.1:${o.adminPort}/api/v1/accounts/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/x-ndjson' },
      body: lines.join('\n') + '\n',
      signal: AbortSignal.timeout(300_000),
    });
    const body = /** @type {{ created?: number, errors?: Array<{ error: string }> }} */ (await res.json());
    if (!res.ok) throw new Error(`account import: HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    created += body.created ?? 0;
    for (const e of body.errors ?? []) {
      if (/exist/i.test(e.error)) existing++;
      else {
        errors++;
        firstError ??= e.error;
      }
    }
  }
  if (errors > 0) throw new Error(`account import: ${errors} lines refused, first: ${firstError}`);
  return { created, existing, errors, seconds: (Date.now() - t0) / 1000 };
}
