/** Both store adapters for suites that must pass against each: the embedded one and a real redis-server. */
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

export type StoreKind = 'memory' | 'redis';
export const STORE_KINDS: StoreKind[] = ['memory', 'redis'];

export interface StoreFixture {
  /** A fresh store over the same backing server (the app closes the store it is given). */
  make(): Store;
  redis: RedisServerHandle | null;
  close(): Promise<void>;
}

export async function storeFixture(kind: StoreKind): Promise<StoreFixture> {
  if (kind === 'memory') return { make: () => new MemoryStore(), redis: null, close: async () => {} };
  const redis = await startRedisServer();
  let n = 0;
  // A key prefix per store keeps suites sharing one redis-server apart.
  return { make: () => new RedisStore(redis.url, { keyPrefix: `t${n++}:` }), redis, close: () => redis.stop() };
}
