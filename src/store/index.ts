/** Chooses the store adapter: Redis when a URL is configured, else in-process memory. */
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

export function createStore(redisUrl: string | null): Store {
  return redisUrl ? new RedisStore(redisUrl) : new MemoryStore();
}
