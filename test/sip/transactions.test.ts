import { describe, expect, it } from 'vitest';
import { ServerTransactions } from '../../src/sip/transactions.js';

const key = (n: number): string => ServerTransactions.key(`z9hG4bK${n}`, '127.0.0.1:5060', 'REGISTER') as string;
const response = Buffer.from('SIP/2.0 200 OK\r\n\r\n');

describe('ServerTransactions', () => {
  it('matches by branch, sent-by and method (RFC 3261 17.2.3), only for RFC 3261 branches', () => {
    expect(ServerTransactions.key('abc', 'h:1', 'REGISTER')).toBeNull();
    expect(ServerTransactions.key('z9hG4bKa', 'h:1', 'REGISTER')).not.toBe(
      ServerTransactions.key('z9hG4bKa', 'h:1', 'OPTIONS'),
    );
    expect(ServerTransactions.key('z9hG4bKa', 'h:1', 'REGISTER')).not.toBe(
      ServerTransactions.key('z9hG4bKa', 'h:2', 'REGISTER'),
    );
  });

  it('absorbs a retransmission while proceeding and replays the response once completed', () => {
    const t = new ServerTransactions(100, 32_000);
    expect(t.begin(key(1), 0).kind).toBe('new');
    expect(t.begin(key(1), 10).kind).toBe('proceeding');
    t.complete(key(1), response, 20);
    const again = t.begin(key(1), 30);
    expect(again.kind).toBe('completed');
    expect(again.kind === 'completed' && again.response).toEqual(response);
  });

  it('forgets a completed transaction after Timer J', () => {
    const t = new ServerTransactions(100, 32_000);
    t.begin(key(1), 0);
    t.complete(key(1), response, 0);
    expect(t.begin(key(1), 31_999).kind).toBe('completed');
    expect(t.begin(key(1), 32_001).kind).toBe('new');
  });

  it('keeps nothing for reliable transports (Timer J = 0)', () => {
    const t = new ServerTransactions(100, 32_000);
    t.begin(key(1), 0, true);
    expect(t.begin(key(1), 1, true).kind).toBe('proceeding'); // a duplicate while it is processed
    t.complete(key(1), response, 0);
    expect(t.size).toBe(0);
    expect(t.begin(key(1), 2, true).kind).toBe('new');
  });

  it('never lets reliable transactions push out the responses it keeps', () => {
    const t = new ServerTransactions(100, 32_000);
    t.begin(key(1), 0);
    t.complete(key(1), response, 0);
    for (let i = 2; i < 10_000; i++) {
      t.begin(key(i), i, true);
      t.complete(key(i), response, i);
    }
    expect(t.begin(key(1), 10_000).kind).toBe('completed');
  });

  it('stays within its size bound', () => {
    const t = new ServerTransactions(100, 32_000);
    for (let i = 0; i < 10_000; i++) {
      t.begin(key(i), i);
      t.complete(key(i), response, i);
    }
    expect(t.size).toBeLessThanOrEqual(100);
    expect(t.begin(key(9_999), 10_000).kind).toBe('completed');
  });

  it('sweeps expired entries as new ones arrive', () => {
    const t = new ServerTransactions(1_000, 1_000);
    for (let i = 0; i < 500; i++) {
      t.begin(key(i), 0);
      t.complete(key(i), response, 0);
    }
    t.begin(key(100_000), 5_000);
    expect(t.size).toBe(1);
  });

  it('replays each response byte for byte as its chunks fill', () => {
    const t = new ServerTransactions(10_000, 32_000, { max: 4 << 20, chunk: 64 << 10 });
    const body = (i: number): Buffer => Buffer.from(`SIP/2.0 200 OK\r\nCall-ID: ${i}${'x'.repeat(i % 700)}\r\n\r\n`);
    for (let i = 0; i < 3_000; i++) {
      t.begin(key(i), i);
      t.complete(key(i), body(i), i);
    }
    // 3,000 responses of up to 750 bytes: 18 chunks of 64 kB, and every one is still there, intact.
    for (const i of [0, 1, 99, 1_234, 2_999]) {
      const s = t.begin(key(i), 3_000);
      expect(s.kind).toBe('completed');
      expect(s.kind === 'completed' && s.response.equals(body(i))).toBe(true);
    }
  });

  it('forgets what it had to overwrite at its byte bound, and never returns another response', () => {
    const t = new ServerTransactions(10_000, 32_000, { max: 4_096, chunk: 1_024 });
    const body = (i: number): Buffer =>
      Buffer.from(`SIP/2.0 200 OK\r\nCSeq: ${i} REGISTER\r\n${'y'.repeat(300)}\r\n\r\n`);
    for (let i = 0; i < 100; i++) {
      t.begin(key(i), i);
      t.complete(key(i), body(i), i);
    }
    let kept = 0;
    for (let i = 0; i < 100; i++) {
      const s = t.begin(key(i), 200);
      if (s.kind === 'completed') {
        kept++;
        expect(s.response.equals(body(i))).toBe(true);
      } else expect(s.kind).toBe('new');
    }
    // Four chunks of 1,024 bytes hold three responses of 340 each: the newest 10 to 12 are kept.
    expect(kept).toBeGreaterThanOrEqual(10);
    expect(kept).toBeLessThanOrEqual(12);
  });

  it('keeps no response larger than its byte bound, and forgets an abandoned transaction', () => {
    const t = new ServerTransactions(100, 32_000, { chunk: 65_536 });
    t.begin(key(1), 0);
    t.complete(key(1), Buffer.alloc(70_000, 1), 0);
    expect(t.begin(key(1), 1).kind).toBe('new');
    t.begin(key(2), 0);
    t.abandon(key(2));
    expect(t.size).toBe(1);
    expect(t.begin(key(2), 1).kind).toBe('new');
  });

  it('reuses a chunk once everything in it has expired, instead of allocating', () => {
    const t = new ServerTransactions(10_000, 1_000, { max: 1 << 20, chunk: 1_024 });
    const body = Buffer.alloc(500, 7);
    for (let i = 0; i < 8; i++) {
      t.begin(key(i), 0);
      t.complete(key(i), body, 0);
    }
    const chunks = (): number => (t as unknown as { chunks: Buffer[] }).chunks.length;
    expect(chunks()).toBe(4);
    // Two seconds later everything above has expired: new responses go into the same four chunks.
    for (let i = 100; i < 108; i++) {
      t.begin(key(i), 2_000);
      t.complete(key(i), body, 2_000);
    }
    expect(chunks()).toBe(4);
    expect(t.begin(key(107), 2_100).kind).toBe('completed');
  });
});
