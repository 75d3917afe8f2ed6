/**
 * The other side of the trade-off: plain asynchronous replication (REDIS_WAIT_REPLICAS=0) on a Redis Cluster. A
 * master killed with kill -9 mid-run: no REGISTER waits for a replica, so every 200 is as fast as one write, and a
 * binding acknowledged in the last moment before the kill may be lost with it. The run prints how many were (the
 * README's figure) and must be served again after the failover.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startCluster, type ClusterSetup } from '../helpers/redis-server.js';
import { killAll } from '../helpers/server-process.js';
import { failoverRun } from './failover-run.js';

describe('failover without WAIT: Cluster (3 masters, 3 replicas)', () => {
  let cluster: ClusterSetup;

  beforeAll(async () => {
    cluster = await startCluster();
  }, 60_000);
  afterAll(async () => {
    killAll();
    await cluster?.stop();
  });

  it('a master killed during registrations: served again once its replica takes over', async () => {
    const seeds = cluster.nodeList.split(',');
    await failoverRun({
      waitReplicas: 0,
      label: 'Cluster',
      env: { REDIS_CLUSTER_NODES: seeds.join(',') },
      master: () => cluster.masterOf('sipreg:{fo7@example.com}:b'),
      affected: async (m, users) => {
        const owners = await Promise.all(users.map((u) => cluster.masterOf(`sipreg:{${u}@example.com}:b`)));
        return new Set(users.filter((_, i) => owners[i] === m));
      },
      promoted: async (m) => {
        const deadline = Date.now() + 20_000;
        while ((await cluster.masters()).includes(m) || (await cluster.masters()).length < 3) {
          if (Date.now() > deadline) throw new Error('no replica took over within 20 s');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      target: { cluster: seeds.map((hp) => ({ host: '127.0.0.1', port: Number(hp.split(':')[1]) })) },
    });
  }, 60_000);
});
