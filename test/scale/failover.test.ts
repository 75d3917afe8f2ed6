/**
 * Durability on failover: with REDIS_WAIT_REPLICAS=1, a Redis master killed with kill -9 in the middle of a bounded
 * registration run loses no binding that got a 200, on Sentinel and on Cluster. Sentinel (or the cluster's own
 * election) promotes the replica; sipreg finds it (through the sentinels, or by the cluster's MOVED and slot refresh);
 * once the old master is back as a replica, WAIT succeeds again and sipreg serves. Until then every REGISTER of the
 * affected AORs gets 503 (never a 200 that a second failure could lose). Each run prints the gap and the 503s it saw.
 */
import { describe, it } from 'vitest';
import { clusterForSuite, sentinelForSuite } from '../helpers/redis-suite.js';
import { clusterCase, failoverRun } from './failover-run.js';

describe('failover with REDIS_WAIT_REPLICAS=1: Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  const sentinel = sentinelForSuite();

  it('a master killed during registrations loses no acknowledged binding', async () => {
    await failoverRun({
      waitReplicas: 1,
      label: 'Sentinel',
      env: { REDIS_SENTINELS: sentinel().sentinelList, REDIS_SENTINEL_NAME: 'sipreg' },
      master: async () => sentinel().master,
      // Sentinel demotes the old master when it returns; the 3 s leave time to see the 503s.
      promoted: () => new Promise((r) => setTimeout(r, 3000)),
      target: { sentinels: sentinel().sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: 'sipreg' },
    });
  }, 60_000);
});

describe('failover with REDIS_WAIT_REPLICAS=1: Cluster (3 masters, 3 replicas)', () => {
  const cluster = clusterForSuite();
  it('a master killed during registrations loses no acknowledged binding', async () => {
    await failoverRun(clusterCase(cluster(), 1));
  }, 60_000);
});
