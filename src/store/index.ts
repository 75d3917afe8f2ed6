/**
 * Chooses the store adapter: Redis (a URL, a master through Sentinel, or a Cluster) when configured, else in-process
 * memory.
 */
import type { Config } from '../config.js';
import { MemoryStore } from './memory.js';
import { RedisStore, type HostPort } from './redis.js';
import type { Store } from './types.js';

export function createStore(config: Config): Store {
  const wait = { waitReplicas: config.redisWaitReplicas, waitTimeoutMs: config.redisWaitTimeoutMs };
  if (config.redisUrl !== null) return new RedisStore(config.redisUrl, wait);
  if (config.redisSentinels.length > 0 && config.redisSentinelName !== null) {
    return new RedisStore({ sentinels: config.redisSentinels.map(hostPort), name: config.redisSentinelName }, wait);
  }
  if (config.redisClusterNodes.length > 0)
    return new RedisStore({ cluster: config.redisClusterNodes.map(hostPort) }, wait);
  return new MemoryStore();
}

/** `host:port`, IPv6 in brackets (the config has checked the form). */
function hostPort(hp: string): HostPort {
  const at = hp.lastIndexOf(':');
  return { host: hp.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(hp.slice(at + 1)) };
}
