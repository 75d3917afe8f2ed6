import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/server/rate-limit.js';

describe('RateLimiter', () => {
  it('lets a burst through, then the refill rate, per address', () => {
    const r = new RateLimiter(10, 20);
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (r.admit('192.0.2.1', 0)) admitted++;
    expect(admitted).toBe(20);
    expect(r.admit('192.0.2.2', 0)).toBe(true); // another address is not slowed
    expect(r.admit('192.0.2.1', 50)).toBe(false);
    expect(r.admit('192.0.2.1', 100)).toBe(true); // 100 ms at 10/s = one token
  });

  it('never limits exempt (trusted) addresses', () => {
    const r = new RateLimiter(1, 1, (a) => a === '10.0.0.1');
    for (let i = 0; i < 100; i++) expect(r.admit('10.0.0.1', 0)).toBe(true);
  });

  it('keeps its table bounded', () => {
    const r = new RateLimiter(1, 1, () => false, 1_000);
    for (let i = 0; i < 50_000; i++) r.admit(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
    expect((r as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThanOrEqual(1_000);
  });
});
