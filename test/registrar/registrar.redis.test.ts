import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { registrarSuite } from './registrar-suite.js';

let redis: RedisServerHandle;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.stop();
});

// A fresh key prefix per test keeps tests apart on one server.
registrarSuite('RedisStore', () =>
  Promise.resolve(new RedisStore(redis.url, { keyPrefix: `t${randomBytes(4).toString('hex')}:` })),
);
