/**
 * The other side of the trade-off: plain asynchronous replication (REDIS_WAIT_REPLICAS=0) on a Redis Cluster. A
 * master killed with kill -9 mid-run: no REGISTER waits for a replica, so every 200 is as fast as one write, and a
 * binding acknowledged in the last moment before the kill may be lost with it. The run prints how many were (the
 * README's figure) and must be served again after the failover.
 */
import { describe, it } from 'vitest';
import { clusterForSuite } from '../helpers/redis-suite.js';
import { clusterCase, failoverRun } from './failover-run.js';

describe('failover without WAIT: Cluster (3 masters, 3 replicas)', () => {
  const cluster = clusterForSuite();
  it('a master killed during registrations: served again once its replica takes over', async () => {
    await failoverRun(clusterCase(cluster(), 0));
  }, 60_000);
});
