/**
 * Configuration: a JSON file (CONFIG_FILE, default config/default.json) overlaid by environment variables, which win.
 * Every key is checked here, once, at start; a bad value stops start-up with one line naming the key (exit code 2).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { DigestAlgorithm } from './domain/types.js';

export type Port = number | 'off';

export interface Config {
  sip: {
    host: string;
    udpPort: Port;
    tcpPort: Port;
    tlsPort: Port;
    /** SIP over WebSocket (RFC 7118), ws:// and (with the TLS certificate) wss://. */
    wsPort: Port;
    wssPort: Port;
    ws: {
      /** Origins a browser page may connect from; empty: any. */
      allowedOrigins: string[];
      /** Ping interval; a connection that misses one pong is closed (and its flows end). */
      pingIntervalSec: number;
    };
    tlsCert: string | null;
    tlsKey: string | null;
    domains: string[];
    serverName: string;
    limits: {
      maxMessageBytes: number;
      maxHeaders: number;
      maxLineLength: number;
      maxBufferedBytes: number;
      maxConnections: number;
      maxConnectionsPerAddress: number;
      idleTimeoutSec: number;
      tlsHandshakeTimeoutSec: number;
      messageTimeoutSec: number;
    };
    transactions: { maxEntries: number; timerJSec: number };
    /** Per-source-address REGISTER rate limit (like Kamailio's pike); 0 disables. */
    rateLimit: { requestsPerSec: number; burst: number };
    /** SIP worker processes (node:cluster); more than 1 needs Redis, the state they share. */
    workers: number;
  };
  registrar: {
    /** Challenge order: one WWW-Authenticate each. Default MD5 alone, what every phone understands. */
    algorithms: DigestAlgorithm[];
    /** Per-domain challenge order (opt-in SHA-256 / SHA-512-256 for a domain whose phones take them). */
    domainAlgorithms: Record<string, DigestAlgorithm[]>;
    /** Authentication-Info carries nextnonce (RFC 2617 3.2.3). Off: several phones answer it without qop. */
    nextNonce: boolean;
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    maxContacts: number;
    maxContactsPolicy: 'reject' | 'replace-oldest';
    nonceLifetimeSec: number;
    /** HMAC key for stateless nonces. null: a secret kept in the store, shared by every instance. */
    nonceSecret: string | null;
    /** The configured secret before a rotation by hand: still verifies for one nonce lifetime after start. */
    previousNonceSecret: string | null;
    passwordGraceSec: number;
    /** Seconds what was read for an AOR is trusted between REGISTERs (commits still check the store); 0 = always read. */
    cacheSec: number;
  };
  lockout: {
    extension: { threshold: number; lockSec: number };
    address: { threshold: number; windowSec: number; lockSec: number };
    escalation: { windowSec: number; factor: number; permanentAfter: number };
    trustedNetworks: string[];
  };
  passwords: { minLength: number; forbidUsername: boolean };
  redisUrl: string | null;
  /** Redis through Sentinel (instead of redisUrl): `host:port` of each sentinel, and the master's name. */
  redisSentinels: string[];
  redisSentinelName: string | null;
  /** Redis Cluster seed nodes (instead of redisUrl): `host:port` of some of its nodes; ioredis finds the rest. */
  redisClusterNodes: string[];
  /** Replicas that must have a registration (Redis WAIT) before its 200; 0: do not wait. */
  redisWaitReplicas: number;
  /** How long to wait for them; past it the REGISTER gets 503, never a 200 for a write that may be lost. */
  redisWaitTimeoutMs: number;
  admin: { host: string; port: number; token: string | null };
  log: { level: string };
}

export const DEFAULT_CONFIG: Config = {
  sip: {
    host: '0.0.0.0',
    udpPort: 5060,
    tcpPort: 5060,
    tlsPort: 5061,
    wsPort: 5066,
    wssPort: 7443,
    ws: { allowedOrigins: [], pingIntervalSec: 30 },
    tlsCert: null,
    tlsKey: null,
    domains: ['localhost'],
    serverName: 'sipreg',
    limits: {
      maxMessageBytes: 65_535,
      maxHeaders: 256,
      maxLineLength: 8_192,
      maxBufferedBytes: 131_072,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 100,
      idleTimeoutSec: 300,
      tlsHandshakeTimeoutSec: 10,
      messageTimeoutSec: 10,
    },
    transactions: { maxEntries: 200_000, timerJSec: 32 },
    rateLimit: { requestsPerSec: 0, burst: 0 },
    workers: 1,
  },
  registrar: {
    algorithms: ['MD5'],
    domainAlgorithms: {},
    nextNonce: false,
    minExpires: 60,
    maxExpires: 7200,
    defaultExpires: 3600,
    maxContacts: 10,
    maxContactsPolicy: 'reject',
    nonceLifetimeSec: 300,
    nonceSecret: null,
    previousNonceSecret: null,
    passwordGraceSec: 86_400,
    cacheSec: 5,
  },
  lockout: {
    extension: { threshold: 5, lockSec: 900 },
    address: { threshold: 20, windowSec: 600, lockSec: 900 },
    escalation: { windowSec: 86_400, factor: 2, permanentAfter: 0 },
    trustedNetworks: [],
  },
  passwords: { minLength: 12, forbidUsername: true },
  redisUrl: null,
  redisSentinels: [],
  redisSentinelName: null,
  redisClusterNodes: [],
  redisWaitReplicas: 0,
  redisWaitTimeoutMs: 500,
  admin: { host: '127.0.0.1', port: 8080, token: null },
  log: { level: 'info' },
};

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config: ${key}: ${problem}`);
  }
}

/** Environment variable -> config key path (the contract's table). */
const ENV_KEYS: ReadonlyArray<readonly [string, string]> = [
  ['SIP_HOST', 'sip.host'],
  ['SIP_UDP_PORT', 'sip.udpPort'],
  ['SIP_TCP_PORT', 'sip.tcpPort'],
  ['SIP_TLS_PORT', 'sip.tlsPort'],
  ['SIP_WS_PORT', 'sip.wsPort'],
  ['SIP_WSS_PORT', 'sip.wssPort'],
  ['SIP_WS_ORIGINS', 'sip.ws.allowedOrigins'],
  ['SIP_TLS_CERT', 'sip.tlsCert'],
  ['SIP_TLS_KEY', 'sip.tlsKey'],
  ['SIP_DOMAINS', 'sip.domains'],
  ['SIP_WORKERS', 'sip.workers'],
  ['REDIS_URL', 'redisUrl'],
  ['REDIS_SENTINELS', 'redisSentinels'],
  ['REDIS_SENTINEL_NAME', 'redisSentinelName'],
  ['REDIS_CLUSTER_NODES', 'redisClusterNodes'],
  ['REDIS_WAIT_REPLICAS', 'redisWaitReplicas'],
  ['ADMIN_HOST', 'admin.host'],
  ['ADMIN_PORT', 'admin.port'],
  ['ADMIN_TOKEN', 'admin.token'],
  ['LOG_LEVEL', 'log.level'],
  ['NONCE_SECRET', 'registrar.nonceSecret'],
  ['NONCE_SECRET_PREVIOUS', 'registrar.previousNonceSecret'],
  ['TRUSTED_NETWORKS', 'lockout.trustedNetworks'],
];

type Check = (value: unknown, key: string) => unknown;

const fail = (key: string, problem: string, value: unknown): never => {
  throw new ConfigError(key, `${problem} (got ${JSON.stringify(value)})`);
};

/** Accepts numbers and, from the environment, numeric strings. */
function int(min: number, max: number): Check {
  return (v, key) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      fail(key, `must be an integer from ${min} to ${max}`, v);
    }
    return n;
  };
}

function num(min: number, max: number): Check {
  return (v, key) => {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max)
      fail(key, `must be a number from ${min} to ${max}`, v);
    return n;
  };
}

const port: Check = (v, key) => {
  if (v === 'off' || v === false) return 'off';
  return int(0, 65_535)(v, key);
};

const str: Check = (v, key) => {
  if (typeof v !== 'string' || v.length === 0) fail(key, 'must be a non-empty string', v);
  return v;
};

const nullableStr: Check = (v, key) => (v === null || v === '' ? null : str(v, key));

const bool: Check = (v, key) => {
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  return fail(key, 'must be true or false', v);
};

function oneOf(...allowed: string[]): Check {
  return (v, key) =>
    typeof v === 'string' && allowed.includes(v) ? v : fail(key, `must be one of ${allowed.join(', ')}`, v);
}

/** A list from JSON, or a comma-separated string from the environment. */
function list(item: Check, opts: { nonEmpty?: boolean; unique?: boolean } = {}): Check {
  return (v, key) => {
    const arr =
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : v;
    if (!Array.isArray(arr)) return fail(key, 'must be a list', v);
    if (opts.nonEmpty && arr.length === 0) fail(key, 'must not be empty', v);
    const out = arr.map((x, i) => item(x, `${key}[${i}]`));
    if (opts.unique && new Set(out).size !== out.length) fail(key, 'must not repeat a value', v);
    return out;
  };
}

/** An object whose keys pass `keyCheck` and whose values pass `item` (from the file only). */
function map(keyCheck: Check, item: Check): Check {
  return (v, key) => {
    if (!isPlainObject(v)) return fail(key, 'must be an object', v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[keyCheck(k, `${key}.${k}`) as string] = item(x, `${key}.${k}`);
    return out;
  };
}

const host: Check = (v, key) => {
  const s = str(v, key) as string;
  if (isIP(s) === 0 && !/^[A-Za-z0-9.-]+$/.test(s)) fail(key, 'must be an IP address or host name', v);
  return s;
};

const domain: Check = (v, key) => {
  const s = (str(v, key) as string).toLowerCase();
  if (!/^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(s) && isIP(s) === 0) {
    fail(key, 'must be a domain name or IP address', v);
  }
  return s;
};

const network: Check = (v, key) => {
  const s = str(v, key) as string;
  const [addr, bits, extra] = s.split('/');
  const family = isIP(addr ?? '');
  const maxBits = family === 6 ? 128 : 32;
  if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
    fail(key, 'must be an IP address or CIDR', v);
  }
  return s;
};

/** An Origin (RFC 6454 serialisation): scheme://host[:port], no path. */
const origin: Check = (v, key) => {
  const s = str(v, key) as string;
  if (!/^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$/.test(s))
    fail(key, 'must be an origin such as https://phone.example.com', v);
  return s;
};

const redisUrl: Check = (v, key) => {
  const s = nullableStr(v, key);
  if (s !== null && !/^rediss?:\/\//.test(s as string)) fail(key, 'must be a redis:// or rediss:// URL', v);
  return s;
};

/** `host:port` (IPv6 in brackets). */
const hostPort: Check = (v, key) => {
  const s = str(v, key) as string;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(s);
  if (m === null || Number(m[2]) > 65535) fail(key, 'must be host:port', v);
  return s;
};

const ALGORITHMS = list(oneOf('MD5', 'SHA-256', 'SHA-512-256'), { nonEmpty: true, unique: true });

/** A nonce HMAC key: at least 16 bytes, as the nonce module requires. */
const secret: Check = (v, key) => {
  const s = nullableStr(v, key);
  if (typeof s === 'string' && Buffer.byteLength(s, 'utf8') < 16) fail(key, 'must be at least 16 bytes', '(hidden)');
  return s;
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every key with its check; the shape mirrors Config. */
const SCHEMA = {
  sip: {
    host,
    udpPort: port,
    tcpPort: port,
    tlsPort: port,
    wsPort: port,
    wssPort: port,
    ws: { allowedOrigins: list(origin), pingIntervalSec: int(1, 3600) },
    tlsCert: nullableStr,
    tlsKey: nullableStr,
    domains: list(domain, { nonEmpty: true, unique: true }),
    serverName: str,
    limits: {
      maxMessageBytes: int(1_024, 1_048_576),
      maxHeaders: int(8, 10_000),
      maxLineLength: int(256, 1_048_576),
      maxBufferedBytes: int(1_024, 16_777_216),
      maxConnections: int(1, 1_000_000),
      maxConnectionsPerAddress: int(1, 1_000_000),
      idleTimeoutSec: int(1, 86_400),
      tlsHandshakeTimeoutSec: int(1, 600),
      messageTimeoutSec: int(1, 600),
    },
    transactions: { maxEntries: int(100, 10_000_000), timerJSec: int(0, 600) },
    rateLimit: { requestsPerSec: int(0, 1_000_000), burst: int(0, 10_000_000) },
    workers: int(1, 256),
  },
  registrar: {
    algorithms: ALGORITHMS,
    domainAlgorithms: map(domain, ALGORITHMS),
    nextNonce: bool,
    minExpires: int(1, 86_400),
    maxExpires: int(1, 604_800),
    defaultExpires: int(1, 604_800),
    maxContacts: int(1, 1_000),
    maxContactsPolicy: oneOf('reject', 'replace-oldest'),
    nonceLifetimeSec: int(10, 86_400),
    nonceSecret: secret,
    previousNonceSecret: secret,
    passwordGraceSec: int(0, 31_536_000),
    cacheSec: int(0, 300),
  },
  lockout: {
    extension: { threshold: int(1, 1_000_000), lockSec: int(1, 31_536_000) },
    address: { threshold: int(1, 1_000_000), windowSec: int(1, 31_536_000), lockSec: int(1, 31_536_000) },
    escalation: { windowSec: int(1, 31_536_000), factor: num(1, 1_000), permanentAfter: int(0, 1_000) },
    trustedNetworks: list(network),
  },
  passwords: { minLength: int(4, 256), forbidUsername: bool },
  redisUrl,
  redisSentinels: list(hostPort),
  redisSentinelName: nullableStr,
  redisClusterNodes: list(hostPort),
  redisWaitReplicas: int(0, 16),
  redisWaitTimeoutMs: int(10, 60_000),
  admin: { host, port: int(0, 65_535), token: nullableStr },
  log: { level: oneOf(...LOG_LEVELS) },
} as const;

type Schema = { readonly [k: string]: Check | Schema };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks the schema over defaults + overrides; an unknown key in the file is an error too (a typo must not pass silently). */
function resolve(schema: Schema, defaults: unknown, override: unknown, path: string): Record<string, unknown> {
  if (override !== undefined && !isPlainObject(override)) fail(path || '(root)', 'must be an object', override);
  const over = (override ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(over)) if (!(k in schema)) fail(path ? `${path}.${k}` : k, 'is not a known key', over[k]);
  const out: Record<string, unknown> = {};
  const defs = defaults as Record<string, unknown>;
  for (const [k, check] of Object.entries(schema)) {
    const key = path ? `${path}.${k}` : k;
    out[k] =
      typeof check === 'function' ? check(k in over ? over[k] : defs[k], key) : resolve(check, defs[k], over[k], key);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(node[p])) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Cross-key rules that no single check can see. */
function crossCheck(c: Config): void {
  const r = c.registrar;
  if (r.minExpires > r.maxExpires)
    throw new ConfigError('registrar.minExpires', 'must not exceed registrar.maxExpires');
  if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
    throw new ConfigError('registrar.defaultExpires', 'must lie between registrar.minExpires and registrar.maxExpires');
  }
  for (const d of Object.keys(r.domainAlgorithms)) {
    if (!c.sip.domains.includes(d)) throw new ConfigError(`registrar.domainAlgorithms.${d}`, 'is not in sip.domains');
  }
  if ((c.sip.tlsCert === null) !== (c.sip.tlsKey === null)) {
    throw new ConfigError(
      c.sip.tlsCert === null ? 'sip.tlsCert' : 'sip.tlsKey',
      'TLS needs both SIP_TLS_CERT and SIP_TLS_KEY',
    );
  }
  const topologies = [c.redisUrl !== null, c.redisSentinels.length > 0, c.redisClusterNodes.length > 0];
  if (topologies.filter(Boolean).length > 1) {
    throw new ConfigError('redisUrl', 'set one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES, not several');
  }
  if (c.redisSentinels.length > 0 && c.redisSentinelName === null) {
    throw new ConfigError('redisSentinelName', 'REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the name of the master');
  }
  const onRedis = topologies.some(Boolean);
  if (c.redisWaitReplicas > 0 && !onRedis) {
    throw new ConfigError(
      'redisWaitReplicas',
      'REDIS_WAIT_REPLICAS needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)',
    );
  }
  if (c.sip.workers > 1 && !onRedis) {
    throw new ConfigError('sip.workers', 'more than 1 worker needs REDIS_URL: workers share their state through Redis');
  }
  // Stream listeners share the TCP port space: no two may ask for the same fixed port.
  const { tcpPort, tlsPort, wsPort, wssPort, tlsCert } = c.sip;
  const fixed: Array<[string, Port, boolean]> = [
    ['sip.tcpPort', tcpPort, true],
    ['sip.tlsPort', tlsPort, tlsCert !== null],
    ['sip.wsPort', wsPort, true],
    ['sip.wssPort', wssPort, tlsCert !== null],
  ];
  const seen = new Map<number, string>();
  for (const [key, p, on] of fixed) {
    if (!on || typeof p !== 'number' || p === 0) continue;
    const other = seen.get(p);
    if (other !== undefined) throw new ConfigError(key, `must differ from ${other}`);
    seen.set(p, key);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env.CONFIG_FILE ?? 'config/default.json';
  let fromFile: unknown = {};
  try {
    fromFile = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // The default file may be absent (e.g. run from another directory); a named one must exist.
    if (!(code === 'ENOENT' && env.CONFIG_FILE === undefined)) {
      throw new ConfigError('CONFIG_FILE', `cannot read ${file}: ${code ?? (e as Error).message}`);
    }
  }
  if (!isPlainObject(fromFile)) throw new ConfigError('CONFIG_FILE', `${file} must hold a JSON object`);
  const merged = structuredClone(fromFile);
  for (const [name, path] of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined) setPath(merged, path, v);
  }
  try {
    const config = resolve(SCHEMA as unknown as Schema, DEFAULT_CONFIG, merged, '') as unknown as Config;
    crossCheck(config);
    return config;
  } catch (e) {
    if (e instanceof ConfigError) {
      // Name the environment variable too when that is where the value came from.
      const envName = ENV_KEYS.find(([n, p]) => env[n] !== undefined && e.key.startsWith(p))?.[0];
      if (envName) throw new ConfigError(e.key, `${e.message.slice(`config: ${e.key}: `.length)} [from ${envName}]`);
    }
    throw e;
  }
}
