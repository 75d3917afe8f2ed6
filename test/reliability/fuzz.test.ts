/**
 * A short run of bench/reliability/fuzz.mjs (5,000 mutated messages over UDP and TCP against `node dist/main.js`,
 * interleaved with valid digest registrations): no crash, exit 0 on SIGTERM, no unhandled rejection, no failed valid
 * registration. The long run (100,000 messages, memory and Redis stores) is in docs/reliability.md.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/server-process.js';

interface FuzzResult {
  messagesSent: number;
  sentUdp: number;
  sentTcp: number;
  serverCountedMessages: number;
  serverParseErrors: number;
  crashes: number;
  exitCode: number | null;
  unhandledRejections: number;
  problemLines: number;
  validRegistrations: number;
  validFailed: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  verdict: string;
}

function runFuzz(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bench/reliability/fuzz.mjs', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('fuzzing the running server', () => {
  it('survives 5,000 mutated messages over UDP and TCP and still registers every valid phone', async () => {
    const { code, out } = await runFuzz(['--count', '5000', '--seed', String(Date.now() % 100_000), '--json']);
    const line = out.split('\n').find((l) => l.startsWith('{"date"'));
    expect(line, out).toBeDefined();
    const r = JSON.parse(line as string) as FuzzResult;
    expect(r.messagesSent).toBe(5000);
    expect(r.sentUdp).toBeGreaterThan(0);
    expect(r.sentTcp).toBeGreaterThan(0);
    // The messages reached the server and most were refused by the parser, as mutated messages should be.
    expect(r.serverParseErrors).toBeGreaterThan(1000);
    expect(r.crashes).toBe(0);
    expect(r.exitCode).toBe(0);
    expect(r.unhandledRejections).toBe(0);
    expect(r.problemLines).toBe(0);
    expect(r.validRegistrations).toBeGreaterThanOrEqual(20);
    expect(r.validFailed).toBe(0);
    expect(r.rssAfterKb - r.rssBeforeKb).toBeLessThan(150 * 1024);
    expect(r.verdict).toBe('PASS');
    expect(code).toBe(0);
  }, 60_000);
});
