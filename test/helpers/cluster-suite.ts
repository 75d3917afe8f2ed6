/**
 * A Redis Cluster (3 masters, 3 replicas) for one test file: started before its tests, stopped after them, together
 * with every sipreg process the file spawned.
 */
import { afterAll, beforeAll } from 'vitest';
import { startCluster, type ClusterSetup } from './redis-server.js';
import { killAll } from './server-process.js';

export function clusterForSuite(): () => ClusterSetup {
  let cluster: ClusterSetup | undefined;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    killAll();
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error('the cluster is not started yet');
    return cluster;
  };
}
