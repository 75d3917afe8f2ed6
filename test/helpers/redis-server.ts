/**
 * Starts a throwaway redis-server for tests: from PATH, on a free 127.0.0.1 port, in its own temp directory.
 * When redis-server is missing the tests fail with one clear line (they never skip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { Redis } from 'ioredis';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface RedisServerHandle {
  url: string;
  port: number;
  /** Graceful stop (SIGTERM) and removal of the temp directory (unless `dir` was given). */
  stop(): Promise<void>;
  /** SIGKILL: Redis dies without saving, like a crash. */
  kill9(): Promise<void>;
  /** Starts the server again on the same port and directory (after stop or kill9, or stops it first). */
  restart(): Promise<void>;
}

const NOT_FOUND = 'redis-server not found on PATH: install it (Debian/Ubuntu: apt-get install redis-server)';

function findOnPath(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // keep looking
    }
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

async function waitForPing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited before answering PING: ${output().trim().slice(-500)}`);
    }
    if (await pingOnce(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A redis-server process (or sentinel) that can be started, stopped gracefully and killed, again and again. */
function managed(
  bin: string,
  args: string[],
  port: number,
): { launch(): Promise<void>; kill(signal: NodeJS.Signals): Promise<void> } {
  let child: ChildProcess | null = null;
  return {
    async launch() {
      const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      child = c;
      await waitForPing(port, c, () => out);
    },
    async kill(signal) {
      const c = child;
      if (!c) return;
      child = null;
      const exited = waitExit(c);
      c.kill(signal);
      await exited;
    },
  };
}

export interface SentinelSetup {
  master: RedisServerHandle;
  replica: RedisServerHandle;
  sentinels: RedisServerHandle[];
  /** `host:port,host:port,...` of the sentinels, as REDIS_SENTINELS takes it. */
  sentinelList: string;
  stop(): Promise<void>;
}

/** A master, a replica in sync with it, and three sentinels (quorum 2) watching it under `name`. */
export async function startSentinelSetup(name: string): Promise<SentinelSetup> {
  const master = await startRedisServer();
  const replica = await startRedisServer({ replicaOf: master.port });
  await replicaInSync(master); // before WAIT can count it
  const sentinels: RedisServerHandle[] = [];
  for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(master.port, name, 2));
  return {
    master,
    replica,
    sentinels,
    sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    async stop() {
      for (const s of sentinels) await s.stop();
      await replica.stop();
      await master.stop();
    },
  };
}

/** Resolves once the master has a replica in sync (so WAIT can count it), or after 10 s. */
export async function replicaInSync(master: RedisServerHandle): Promise<void> {
  const m = new Redis(master.url);
  try {
    const deadline = Date.now() + 10_000;
    while (!/slave0:.*state=online/.test(await m.info('replication')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
  } finally {
    m.disconnect();
  }
}

/** The handle of a managed process on `port`; `cleanup` runs after a stop. */
function handleOf(port: number, p: ReturnType<typeof managed>, cleanup: () => void): RedisServerHandle {
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await p.kill('SIGTERM');
      cleanup();
    },
    async kill9() {
      await p.kill('SIGKILL');
    },
    async restart() {
      await p.kill('SIGTERM');
      await p.launch();
    },
  };
}

export interface RedisServerOptions {
  appendonly?: boolean;
  /** AOF fsync policy (with appendonly): `always` fsyncs before every reply; Redis's default is `everysec`. */
  appendfsync?: 'always' | 'everysec' | 'no';
  dir?: string;
  /** Start as a replica of the master on 127.0.0.1 at this port. */
  replicaOf?: number;
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const bin = findOnPath('redis-server');
  if (bin === null) throw new Error(NOT_FOUND);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sipreg-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--dir',
    dir,
    '--protected-mode',
    'no',
    ...(opts.appendfsync ? ['--appendfsync', opts.appendfsync] : []),
    ...(opts.replicaOf !== undefined ? ['--replicaof', '127.0.0.1', String(opts.replicaOf)] : []),
  ];
  const p = managed(bin, args, port);
  await p.launch();
  return handleOf(port, p, () => ownDir && rmSync(dir, { recursive: true, force: true }));
}

/**
 * A Redis Sentinel (redis-server --sentinel, from the same package) watching the master at `masterPort` under
 * `name`, with short timeouts so a failover happens within seconds in tests.
 */
export async function startSentinel(masterPort: number, name: string, quorum = 2): Promise<RedisServerHandle> {
  const bin = findOnPath('redis-server');
  if (bin === null) throw new Error(NOT_FOUND);
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const p = managed(bin, [conf, '--sentinel'], port);
  await p.launch();
  return handleOf(port, p, () => rmSync(dir, { recursive: true, force: true }));
}
