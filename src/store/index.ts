/** Chooses the store adapter: Redis (a URL, or a master through Sentinel) when configured, else in-process memory. */
import type { Config } from '../config.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

export function createStore(config: Config): Store {
  const wait = { waitReplicas: config.redisWaitReplicas, waitTimeoutMs: config.redisWaitTimeoutMs };
  if (config.redisUrl !== null) return new RedisStore(config.redisUrl, wait);
  if (config.redisSentinels.length > 0 && config.redisSentinelName !== null) {
    const sentinels = config.redisSentinels.map((hp) => {
      const at = hp.lastIndexOf(':');
      return { host: hp.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(hp.slice(at + 1)) };
    });
    return new RedisStore({ sentinels, name: config.redisSentinelName }, wait);
  }
  return new MemoryStore();
}
