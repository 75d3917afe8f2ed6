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

/** Whether `port` can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port for a Cluster node: its cluster bus listens 10000 higher, so the port must stay below 55536 and both must be
 * free (an ephemeral port from the kernel is often above 55535, which redis-server then refuses).
 */
async function freeClusterPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await portFree(port)) && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
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

export interface ClusterSetup {
  nodes: RedisServerHandle[];
  /** `host:port,...` of every node, as REDIS_CLUSTER_NODES takes it. */
  nodeList: string;
  /** The node currently serving `key`'s slot as master. */
  masterOf(key: string): Promise<RedisServerHandle>;
  /** Ports of the nodes that are masters now. */
  masters(): Promise<RedisServerHandle[]>;
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of 3 masters with one replica each (6 redis-server processes), made with
 * `redis-cli --cluster create`, ready when every node reports cluster_state:ok.
 */
export async function startCluster(): Promise<ClusterSetup> {
  const cli = findOnPath('redis-cli');
  if (cli === null)
    throw new Error('redis-cli not found on PATH: install it (Debian/Ubuntu: apt-get install redis-tools)');
  const nodes = await Promise.all(Array.from({ length: 6 }, () => startRedisServer({ cluster: true })));
  const create = spawn(
    cli,
    ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  create.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  create.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => create.once('exit', resolve));
  if (code !== 0) throw new Error(`redis-cli --cluster create failed: ${out.slice(-500)}`);
  const clients = nodes.map((n) => new Redis(n.url, { maxRetriesPerRequest: 1 }).on('error', () => {}));
  const stateOk = async () =>
    (await Promise.all(clients.map((c) => c.cluster('INFO')))).every((i) => /cluster_state:ok/.test(String(i)));
  let deadline = Date.now() + 30_000;
  while (!(await stateOk())) {
    if (Date.now() > deadline) throw new Error('Redis Cluster did not reach cluster_state:ok within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Every master's replica in sync, so WAIT can count it from the first write.
  const synced = async () =>
    (await Promise.all(clients.map((c) => c.info('replication')))).every(
      (i) => !/role:master/.test(i) || /slave0:.*state=online/.test(i),
    );
  deadline = Date.now() + 30_000;
  while (!(await synced())) {
    if (Date.now() > deadline) throw new Error('Redis Cluster replicas did not sync within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const byPort = (port: number) => nodes.find((n) => n.port === port) as RedisServerHandle;
  const slotTable = async (): Promise<Array<[number, number, number]>> => {
    for (const c of clients) {
      try {
        const slots = await c.cluster('SLOTS');
        return slots.map(([from, to, master]) => [from, to, master?.[1] ?? 0]);
      } catch {
        // that node is down: ask the next
      }
    }
    throw new Error('no cluster node answers CLUSTER SLOTS');
  };
  return {
    nodes,
    nodeList: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async masterOf(key) {
      let slot = -1;
      for (const c of clients) {
        try {
          slot = Number(await c.cluster('KEYSLOT', key));
          break;
        } catch {
          // down
        }
      }
      const row = (await slotTable()).find(([from, to]) => slot >= from && slot <= to);
      if (row === undefined) throw new Error(`no master serves slot ${slot}`);
      return byPort(row[2]);
    },
    async masters() {
      return [...new Set((await slotTable()).map(([, , port]) => port))].map(byPort);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
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
  /** Start as a Redis Cluster node (cluster-enabled, its own nodes.conf, a 2 s node timeout). */
  cluster?: boolean;
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const bin = findOnPath('redis-server');
  if (bin === null) throw new Error(NOT_FOUND);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sipreg-redis-'));
  // Two test files may be handed the same free port at once: a launch that fails is tried again on another.
  for (let attempt = 1; ; attempt++) {
    const port = opts.cluster ? await freeClusterPort() : await freePort();
    const p = managed(bin, redisArgs(port, dir, opts), port);
    try {
      await p.launch();
      return handleOf(port, p, () => ownDir && rmSync(dir, { recursive: true, force: true }));
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

function redisArgs(port: number, dir: string, opts: RedisServerOptions): string[] {
  return [
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
    ...(opts.cluster
      ? [
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
          // A replica syncs at once instead of after Redis's 5 s diskless-sync delay.
          ...['--repl-diskless-sync-delay', '0'],
        ]
      : []),
  ];
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
