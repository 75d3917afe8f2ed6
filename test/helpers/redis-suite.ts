/**
 * A Redis topology for one test file: started before its tests, stopped after them together with every sipreg
 * process the file spawned. Each returns a getter, valid once the file's tests run.
 */
import { afterAll, beforeAll } from 'vitest';
import {
  startCluster,
  startRedisServer,
  startSentinelSetup,
  type ClusterSetup,
  type RedisServerHandle,
  type SentinelSetup,
} from './redis-server.js';
import { killAll } from './server-process.js';

function forSuite<T extends { stop(): Promise<void> }>(start: () => Promise<T>, what: string): () => T {
  let handle: T | undefined;
  beforeAll(async () => {
    handle = await start();
  }, 60_000);
  afterAll(async () => {
    killAll();
    await handle?.stop();
  });
  return () => {
    if (handle === undefined) throw new Error(`the ${what} is not started yet`);
    return handle;
  };
}

/** A Redis Cluster: 3 masters, 3 replicas. */
export const clusterForSuite = (): (() => ClusterSetup) => forSuite(startCluster, 'Redis Cluster');

/** A master, a replica and three sentinels watching it under the name `sipreg`. */
export const sentinelForSuite = (): (() => SentinelSetup) =>
  forSuite(() => startSentinelSetup('sipreg'), 'Sentinel setup');

/** One redis-server. */
export const redisForSuite = (): (() => RedisServerHandle) => forSuite(() => startRedisServer(), 'redis-server');
