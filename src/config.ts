/**
 * Configuration: a JSON file (CONFIG_FILE, default config/default.json) overlaid by environment variables, which win.
 * One schema (TypeBox) gives the Config type, every default and every check; a bad value stops start-up with one line
 * naming the key (exit code 2). Cross-key rules, which no single key's schema can state, follow it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { DIGEST_ALGORITHMS } from './domain/types.js';

// Formats a pattern cannot say, checked in code; each has the message a refusal gives.
const FORMATS: Record<string, { check: (s: string) => boolean; message: string }> = {
  host: {
    check: (s) => isIP(s) !== 0 || /^[A-Za-z0-9.-]+$/.test(s),
    message: 'must be an IP address or host name',
  },
  domain: {
    check: (s) =>
      isIP(s) !== 0 ||
      /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(s),
    message: 'must be a domain name or IP address',
  },
  network: {
    check: (s) => {
      const [addr, bits, extra] = s.split('/');
      const family = isIP(addr ?? '');
      const maxBits = family === 6 ? 128 : 32;
      return (
        family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits))
      );
    },
    message: 'must be an IP address or CIDR',
  },
  /** An Origin (RFC 6454 serialisation): scheme://host[:port], no path. */
  origin: {
    check: (s) => /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$/.test(s),
    message: 'must be an origin such as https://phone.example.com',
  },
  'redis-url': { check: (s) => /^rediss?:\/\//.test(s), message: 'must be a redis:// or rediss:// URL' },
  /** `host:port` (IPv6 in brackets). */
  'host-port': {
    check: (s) => {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(s);
      return m !== null && Number(m[2]) <= 65535;
    },
    message: 'must be host:port',
  },
  /** A nonce HMAC key: at least 16 bytes, as the nonce module requires. */
  secret: { check: (s) => Buffer.byteLength(s, 'utf8') >= 16, message: 'must be at least 16 bytes' },
};
for (const [name, f] of Object.entries(FORMATS)) FormatRegistry.Set(name, f.check);

// Building blocks. Every leaf carries its default; objects default to {} so a file may leave any part out.
const int = (minimum: number, maximum: number, dflt: number) => Type.Integer({ minimum, maximum, default: dflt });
const num = (minimum: number, maximum: number, dflt: number) => Type.Number({ minimum, maximum, default: dflt });
const bool = (dflt: boolean) => Type.Boolean({ default: dflt });
const text = (format?: string) => Type.String({ minLength: 1, ...(format ? { format } : {}) });
const nullable = (format?: string) => Type.Union([text(format), Type.Null()], { default: null });
const oneOf = <T extends string>(values: readonly T[], dflt: T) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { default: dflt },
  );
const list = <T extends TSchema>(
  item: T,
  dflt: Array<Static<T>> = [],
  opts: { minItems?: number; uniqueItems?: boolean } = {},
) => Type.Array(item, { default: dflt, ...opts });
const group = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object(properties, { additionalProperties: false, default: {} });
/** A port: 0 = any free port; "off" = that listener disabled. */
const port = (dflt: number) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: 65_535 }), Type.Literal('off')], { default: dflt });
const algorithmList = (dflt: Array<(typeof DIGEST_ALGORITHMS)[number]>) =>
  list(Type.Union(DIGEST_ALGORITHMS.map((a) => Type.Literal(a))), dflt, { minItems: 1, uniqueItems: true });

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ConfigSchema = group({
  sip: group({
    host: Type.String({ format: 'host', default: '0.0.0.0' }),
    udpPort: port(5060),
    tcpPort: port(5060),
    tlsPort: port(5061),
    /** SIP over WebSocket (RFC 7118), ws:// and (with the TLS certificate) wss://. */
    wsPort: port(5066),
    wssPort: port(7443),
    ws: group({
      /** Origins a browser page may connect from; empty: any. */
      allowedOrigins: list(text('origin')),
      /** Ping interval; a connection that misses one pong is closed (and its flows end). */
      pingIntervalSec: int(1, 3600, 30),
    }),
    tlsCert: nullable(),
    tlsKey: nullable(),
    domains: list(text('domain'), ['localhost'], { minItems: 1, uniqueItems: true }),
    serverName: Type.String({ minLength: 1, default: 'sipreg' }),
    limits: group({
      maxMessageBytes: int(1_024, 1_048_576, 65_535),
      maxHeaders: int(8, 10_000, 256),
      maxLineLength: int(256, 1_048_576, 8_192),
      maxBufferedBytes: int(1_024, 16_777_216, 131_072),
      /** SO_RCVBUF asked for the UDP socket: a full queue must drain well within T1 (see transport/udp.ts). */
      udpReceiveBufferBytes: int(65_536, 67_108_864, 1_048_576),
      maxConnections: int(1, 1_000_000, 10_000),
      maxConnectionsPerAddress: int(1, 1_000_000, 100),
      idleTimeoutSec: int(1, 86_400, 300),
      tlsHandshakeTimeoutSec: int(1, 600, 10),
      messageTimeoutSec: int(1, 600, 10),
    }),
    transactions: group({ maxEntries: int(100, 10_000_000, 200_000), timerJSec: int(0, 600, 32) }),
    /** Per-source-address REGISTER rate limit (like Kamailio's pike); 0 disables. */
    rateLimit: group({ requestsPerSec: int(0, 1_000_000, 0), burst: int(0, 10_000_000, 0) }),
    /** SIP worker processes (node:cluster); more than 1 needs Redis, the state they share. */
    workers: int(1, 256, 1),
  }),
  registrar: group({
    /** Challenge order: one WWW-Authenticate each. Default MD5 alone, what every phone understands. */
    algorithms: algorithmList(['MD5']),
    /** Per-domain challenge order (opt-in SHA-256 / SHA-512-256 for a domain whose phones take them). */
    domainAlgorithms: Type.Record(Type.String(), algorithmList(['MD5']), { default: {} }),
    /** Authentication-Info carries nextnonce (RFC 2617 3.2.3). Off: several phones answer it without qop. */
    nextNonce: bool(false),
    minExpires: int(1, 86_400, 60),
    maxExpires: int(1, 604_800, 7200),
    defaultExpires: int(1, 604_800, 3600),
    maxContacts: int(1, 1_000, 10),
    maxContactsPolicy: oneOf(['reject', 'replace-oldest'] as const, 'reject'),
    nonceLifetimeSec: int(10, 86_400, 300),
    /** HMAC key for stateless nonces. null: a secret kept in the store, shared by every instance. */
    nonceSecret: nullable('secret'),
    /** The configured secret before a rotation by hand: still verifies for one nonce lifetime after start. */
    previousNonceSecret: nullable('secret'),
    passwordGraceSec: int(0, 31_536_000, 86_400),
    /** Seconds what was read for an AOR is trusted between REGISTERs (commits still check the store); 0 = always read. */
    cacheSec: int(0, 300, 5),
  }),
  lockout: group({
    extension: group({ threshold: int(1, 1_000_000, 5), lockSec: int(1, 31_536_000, 900) }),
    address: group({
      threshold: int(1, 1_000_000, 20),
      windowSec: int(1, 31_536_000, 600),
      lockSec: int(1, 31_536_000, 900),
    }),
    escalation: group({
      windowSec: int(1, 31_536_000, 86_400),
      factor: num(1, 1_000, 2),
      permanentAfter: int(0, 1_000, 0),
    }),
    trustedNetworks: list(text('network')),
  }),
  passwords: group({ minLength: int(4, 256, 12), forbidUsername: bool(true) }),
  redisUrl: nullable('redis-url'),
  /** Redis through Sentinel (instead of redisUrl): `host:port` of each sentinel, and the master's name. */
  redisSentinels: list(text('host-port')),
  redisSentinelName: nullable(),
  /** Redis Cluster seed nodes (instead of redisUrl): `host:port` of some of its nodes; ioredis finds the rest. */
  redisClusterNodes: list(text('host-port')),
  /** Replicas that must have a registration (Redis WAIT) before its 200; 0: do not wait. */
  redisWaitReplicas: int(0, 16, 0),
  /** How long to wait for them; past it the REGISTER gets 503, never a 200 for a write that may be lost. */
  redisWaitTimeoutMs: int(10, 60_000, 500),
  admin: group({
    host: Type.String({ format: 'host', default: '127.0.0.1' }),
    port: int(0, 65_535, 8080),
    token: nullable(),
  }),
  log: group({ level: oneOf(LOG_LEVELS, 'info') }),
});

export type Config = Static<typeof ConfigSchema>;
export type Port = Config['sip']['udpPort'];

export const DEFAULT_CONFIG: Config = Value.Default(ConfigSchema, {}) as Config;

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

const fail = (key: string, problem: string, value: unknown): never => {
  throw new ConfigError(key, `${problem} (got ${JSON.stringify(value)})`);
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema at a dotted path (objects only), or null. */
function schemaAt(path: string): TSchema | null {
  let node: TSchema = ConfigSchema;
  for (const part of path.split('.')) {
    const next = (node as { properties?: Record<string, TSchema> }).properties?.[part];
    if (next === undefined) return null;
    node = next;
  }
  return node;
}

/** An environment variable's string as the value its key takes: a number, a boolean, a list, null for ''. */
function fromEnv(raw: string, schema: TSchema | null): unknown {
  const kind = schema?.type as string | undefined;
  const v = raw.trim();
  if (kind === 'array')
    return v
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  // Decimal digits only: Number() would also take '0x1f', '1e3' or ' '.
  if (kind === 'integer') return /^-?\d+$/.test(v) ? Number(v) : raw;
  if (kind === 'number') return /^-?\d+(?:\.\d+)?$/.test(v) ? Number(v) : raw;
  if (kind === 'boolean') return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : raw;
  const members = (schema?.anyOf as TSchema[] | undefined) ?? [];
  if (members.some((m) => m.type === 'null') && v === '') return null;
  if (members.some((m) => m.type === 'integer') && /^-?\d+$/.test(v)) return Number(v);
  return raw;
}

/** Unknown keys in the file are errors (a typo must not pass silently); named with their full path. */
function unknownKeys(value: unknown, schema: TSchema, path: string): void {
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (props === undefined || !isPlainObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const key = path ? `${path}.${k}` : k;
    const sub = props[k];
    if (sub === undefined) fail(key, 'is not a known key', v);
    else unknownKeys(v, sub, key);
  }
}

const check = TypeCompiler.Compile(ConfigSchema);

/** `/sip/domains/0` -> `sip.domains[0]`; a record's key stays a dotted part (`registrar.domainAlgorithms.x[0]`). */
function keyOf(e: ValueError): string {
  return e.path
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) && i > 0 ? `[${p}]` : `${i > 0 ? '.' : ''}${p}`))
    .join('');
}

/** The rule a value broke, in words, from its schema. */
function ruleOf(schema: TSchema): string {
  const s = schema as Record<string, unknown>;
  if (typeof s.format === 'string' && FORMATS[s.format]) return FORMATS[s.format]!.message;
  const members = s.anyOf as TSchema[] | undefined;
  if (members) {
    const literals = members.filter((m) => 'const' in m).map((m) => String(m.const));
    const others = members.filter((m) => !('const' in m) && m.type !== 'null');
    if (others.length === 0) return `must be one of ${literals.join(', ')}`;
    const rule = ruleOf(others[0] as TSchema);
    return literals.length > 0 ? `${rule}, or ${literals.map((l) => `"${l}"`).join(', ')}` : rule;
  }
  switch (s.type) {
    case 'integer':
      return `must be an integer from ${String(s.minimum)} to ${String(s.maximum)}`;
    case 'number':
      return `must be a number from ${String(s.minimum)} to ${String(s.maximum)}`;
    case 'boolean':
      return 'must be true or false';
    case 'string':
      return 'must be a non-empty string';
    case 'object':
      return 'must be an object';
    default:
      return 'has the wrong type';
  }
}

function problemOf(e: ValueError): string {
  const s = e.schema as Record<string, unknown>;
  if (s.type === 'array' && Array.isArray(e.value)) {
    if (typeof s.minItems === 'number' && e.value.length < s.minItems) return 'must not be empty';
    if (s.uniqueItems === true) return 'must not repeat a value';
  }
  if (s.type === 'array') return 'must be a list';
  return ruleOf(e.schema);
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

/** Checks the merged file + environment against the schema; the first problem becomes the one line. */
function validate(merged: Record<string, unknown>): Config {
  unknownKeys(merged, ConfigSchema, '');
  const value = Value.Default(ConfigSchema, structuredClone(merged)) as Record<string, unknown>;
  const first = check.Errors(value).First();
  if (first !== undefined) {
    const key = keyOf(first) || '(root)';
    // A secret is never echoed (the schema that failed may be its nullable union).
    const secret = [first.schema, ...((first.schema.anyOf as TSchema[] | undefined) ?? [])].some(
      (m) => (m as { format?: string }).format === 'secret',
    );
    fail(key, problemOf(first), secret ? '(hidden)' : first.value);
  }
  const c = value as Config;
  // Domains compare without case: kept lower-case.
  c.sip.domains = c.sip.domains.map((d) => d.toLowerCase());
  c.registrar.domainAlgorithms = Object.fromEntries(
    Object.entries(c.registrar.domainAlgorithms).map(([d, a]) => [d.toLowerCase(), a]),
  );
  return c;
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
    if (v !== undefined) setPath(merged, path, fromEnv(v, schemaAt(path)));
  }
  try {
    const config = validate(merged);
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
