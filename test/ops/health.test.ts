/**
 * /healthz and /readyz follow the store: 503 while Redis is gone (stopped or killed), 200 again once it is back,
 * without restarting the registrar.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { RedisStore } from '../../src/store/redis.js';

async function status(url: string): Promise<number> {
  return (await fetch(url)).status;
}

/** Polls until the endpoint answers `want`; returns how long it took. */
async function until(url: string, want: number, withinMs: number): Promise<number> {
  const start = Date.now();
  let last = -1;
  while (Date.now() - start < withinMs) {
    last = await status(url);
    if (last === want) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} still answers ${last}, not ${want}, after ${withinMs} ms`);
}

describe('health endpoints with the Redis store', () => {
  let redis: RedisServerHandle;
  let t: TestApp;
  // Our own directory: stop() then keeps it, so restart() can bring the same server back after a graceful stop.
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-health-'));

  beforeAll(async () => {
    redis = await startRedisServer({ dir });
    t = await startTestApp({}, { store: new RedisStore(redis.url, { keyPrefix: 'health:', commandTimeoutMs: 500 }) });
  });

  afterAll(async () => {
    await t?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 200 while Redis is up, 503 when it is killed, 200 within 5 s of its return', async () => {
    expect(await status(`${t.adminUrl}/healthz`)).toBe(200);
    expect(await status(`${t.adminUrl}/readyz`)).toBe(200);
    const body = (await (await fetch(`${t.adminUrl}/healthz`)).json()) as Record<string, unknown>;
    expect(body.store).toBe('ok');

    await redis.kill9();
    await until(`${t.adminUrl}/healthz`, 503, 3_000);
    expect(await status(`${t.adminUrl}/readyz`)).toBe(503);
    const down = (await (await fetch(`${t.adminUrl}/healthz`)).json()) as Record<string, unknown>;
    expect(down.store).toBe('unavailable');

    await redis.restart();
    expect(await until(`${t.adminUrl}/healthz`, 200, 5_000)).toBeLessThan(5_000);
    expect(await status(`${t.adminUrl}/readyz`)).toBe(200);
  });

  it('answers 503 after a graceful Redis stop (SIGTERM) too, and 200 after its restart', async () => {
    expect(await status(`${t.adminUrl}/healthz`)).toBe(200);
    await redis.stop();
    await until(`${t.adminUrl}/healthz`, 503, 3_000);
    expect(await status(`${t.adminUrl}/readyz`)).toBe(503);
    await redis.restart();
    expect(await until(`${t.adminUrl}/healthz`, 200, 5_000)).toBeLessThan(5_000);
  });
});
