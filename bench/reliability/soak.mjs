#!/usr/bin/env node
/**
 * Soak: `node dist/main.js` (memory store, or a throwaway Redis with --redis) under N minutes of steady registrations
 * and refreshes with short expiries. Phones come and go: each account is active for a while (registering, then
 * refreshing at half its expiry like a phone does), then silent long enough for its binding to expire, then back.
 * Every second it samples the server's RSS (/proc/<pid>/status), event-loop lag (sipreg_nodejs_eventloop_lag_* from
 * /metrics) and the bindings gauge; at the end it stops the traffic, waits for every binding to expire and checks the
 * store is empty again (Redis: DBSIZE back to the accounts' keys). Prints a summary and a verdict.
 *
 * usage: node bench/reliability/soak.mjs [--minutes 10] [--accounts 300] [--expires 10] [--redis] [--json]
 * Bounded: --minutes at most 24 h; the drain phase at most expires + 20 s.
 */
import { execFileSync } from 'node:child_process';
import { setInterval, clearInterval } from 'node:timers';
import {
  args,
  createAccount,
  metricValue,
  scrape,
  sleep,
  startRedis,
  startServer,
  stats,
  UdpRegistrar,
} from './lib/harness.mjs';

const o = args({ minutes: 10, accounts: 300, expires: 10, redis: false, json: false });
if (!(o.minutes > 0 && o.minutes <= 1440)) throw new Error('--minutes must be in (0, 1440]');
const PASSWORD_PREFIX = 'soak-secret-';

const redis = o.redis ? await startRedis() : null;
const server = await startServer({
  redisUrl: redis?.url ?? null,
  env: { TRUSTED_NETWORKS: '127.0.0.0/8' },
  // Short expiries are the point: allow them.
  config: { registrar: { minExpires: 5, defaultExpires: 30, maxExpires: 3600 } },
});
const dbsize = () =>
  redis ? Number(execFileSync('redis-cli', ['-p', String(redis.port), 'dbsize'], { encoding: 'utf8' }).trim()) : null;

/** @type {Array<{ user: string, password: string, callId: string, cseq: number, activeUntil: number, silentUntil: number, nextAt: number }>} */
const phones = [];
for (let i = 0; i < o.accounts; i++) {
  const user = `soak${i}`;
  const password = `${PASSWORD_PREFIX}${i}-x`;
  await createAccount(server.adminUrl, user, password);
  phones.push({
    user,
    password,
    callId: `soak-${i}-${Date.now()}@soak`,
    cseq: 1,
    activeUntil: 0,
    silentUntil: 0,
    nextAt: 0,
  });
}
const idleKeys = dbsize();
const udp = await new UdpRegistrar(server.ports.udp).open();

const E = o.expires * 1000;
const started = Date.now();
const end = started + o.minutes * 60_000;
const counts = { ok: 0, failed: 0, statuses: /** @type {Record<string, number>} */ ({}) };
/** @type {Array<{ t: number, rssKb: number, lagP99Ms: number, lagMaxMs: number, bindings: number, keys: number | null, ok: number }>} */
const samples = [];

// Each phone: active for 3..6 expiries (refreshing every expires/2), then silent for 2..3 expiries, then back.
const schedule = (/** @type {typeof phones[number]} */ p, now) => {
  p.activeUntil = now + E * (3 + Math.random() * 3);
  p.silentUntil = p.activeUntil + E * (2 + Math.random());
  p.nextAt = now + Math.random() * E;
};
for (const p of phones) schedule(p, started);

let inFlight = 0;
const tick = () => {
  const now = Date.now();
  for (const p of phones) {
    if (now >= p.silentUntil) schedule(p, now);
    if (now >= p.activeUntil || now < p.nextAt || inFlight > 200) continue;
    p.nextAt = now + E / 2;
    inFlight++;
    const cseq = p.cseq;
    p.cseq += 2;
    udp
      .register({
        user: p.user,
        password: p.password,
        expires: o.expires,
        callId: p.callId,
        cseq,
        contactPort: 20000 + phones.indexOf(p),
      })
      .then((r) => {
        counts.statuses[r.status] = (counts.statuses[r.status] ?? 0) + 1;
        if (r.status === 200) counts.ok++;
        else counts.failed++;
      })
      .finally(() => inFlight--);
  }
};
const ticker = setInterval(tick, 50);

let nextSample = started + 1000;
while (Date.now() < end && server.child.exitCode === null) {
  await sleep(Math.max(0, nextSample - Date.now()));
  nextSample += 1000;
  const m = await scrape(server.adminUrl);
  samples.push({
    t: Math.round((Date.now() - started) / 1000),
    rssKb: server.rssKb() ?? 0,
    lagP99Ms: metricValue(m, 'sipreg_nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: metricValue(m, 'sipreg_nodejs_eventloop_lag_max_seconds') * 1000,
    bindings: metricValue(m, 'sipreg_bindings'),
    keys: samples.length % 10 === 0 ? dbsize() : null,
    ok: counts.ok,
  });
  if (!o.json && samples.length % 60 === 0) {
    const s = samples[samples.length - 1];
    console.log(
      `t=${s?.t}s rss=${s?.rssKb}kB lagP99=${s?.lagP99Ms.toFixed(1)}ms bindings=${s?.bindings} ok=${counts.ok} failed=${counts.failed}`,
    );
  }
}
clearInterval(ticker);
while (inFlight > 0) await sleep(50);

// Drain: no more traffic; every binding must expire (the gauge is cached 5 s) and the store shrink back.
const drainStart = Date.now();
let bindingsAfter = -1;
while (Date.now() - drainStart < E + 20_000) {
  await sleep(1000);
  bindingsAfter = metricValue(await scrape(server.adminUrl), 'sipreg_bindings');
  if (bindingsAfter === 0 && Date.now() - drainStart > E + 6_000) break;
}
/** Redis nonce-replay records (`P{aor}:n:<nonce>`): one per nonce used, each with the nonce's remaining life as TTL. */
const nonceKeys = () => {
  if (!redis) return null;
  const keys = execFileSync('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'sipreg:*:n:*'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter((k) => k !== '');
  const ttls = keys
    .slice(0, 50)
    .map((k) => Number(execFileSync('redis-cli', ['-p', String(redis.port), 'pttl', k], { encoding: 'utf8' }).trim()));
  return {
    count: keys.length,
    sampledWithoutTtl: ttls.filter((t) => t < 0).length,
    maxTtlSec: Math.round(Math.max(0, ...ttls) / 1000),
  };
};
const nonces = nonceKeys();
// After the full SCAN above: it also reclaims keys whose TTL has passed but that Redis's sampling has not reached yet.
if (redis) execFileSync('redis-cli', ['-p', String(redis.port), '--scan'], { encoding: 'utf8' });
const keysAfter = dbsize();
const rssEnd = server.rssKb();
udp.close();
const exit = await server.stop();
await redis?.close();

const half = samples.slice(Math.floor(samples.length / 2));
const firstQuarter = samples.slice(
  Math.floor(samples.length / 8),
  Math.max(Math.floor(samples.length / 4), Math.floor(samples.length / 8) + 1),
);
const lastQuarter = samples.slice(Math.floor((samples.length * 3) / 4));
const mean = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
/** Least-squares slope of RSS over the second half, in kB per minute. */
const slope = (() => {
  const xs = half.map((s) => s.t / 60);
  const ys = half.map((s) => s.rssKb);
  const mx = mean(xs);
  const my = mean(ys);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] ?? 0) - my), 0) / den;
})();
const keySamples = samples.map((s) => s.keys).filter((k) => k !== null);
const result = {
  date: new Date().toISOString(),
  store: o.redis ? 'redis' : 'memory',
  minutes: o.minutes,
  accounts: o.accounts,
  expiresSec: o.expires,
  registrationsOk: counts.ok,
  registrationsFailed: counts.failed,
  statuses: counts.statuses,
  ratePerSec: Math.round((counts.ok / ((Date.now() - started) / 1000)) * 10) / 10,
  rssKb: {
    ...stats(samples.map((s) => s.rssKb)),
    firstQuarterMean: Math.round(mean(firstQuarter.map((s) => s.rssKb))),
    lastQuarterMean: Math.round(mean(lastQuarter.map((s) => s.rssKb))),
    secondHalfSlopeKbPerMin: Math.round(slope),
    end: rssEnd,
  },
  eventLoopLagP99Ms: stats(samples.map((s) => Math.round(s.lagP99Ms * 10) / 10)),
  eventLoopLagMaxMs: stats(samples.map((s) => Math.round(s.lagMaxMs * 10) / 10)),
  bindings: stats(samples.map((s) => s.bindings)),
  bindingsAfterDrain: bindingsAfter,
  redisKeys: redis
    ? {
        idle: idleKeys,
        min: Math.min(...keySamples),
        max: Math.max(...keySamples),
        afterDrain: keysAfter,
        nonceRecordsAfterDrain: nonces,
      }
    : null,
  exitCode: exit.code,
  problemLines: server.problems().length,
};
const checks = {
  'no failed registration': counts.failed === 0 && counts.ok > 0,
  'bindings bounded by accounts': (result.bindings.max ?? 0) <= o.accounts,
  'every binding expired after the traffic stopped': bindingsAfter === 0,
  // Redis: the accounts' keys plus one version counter per AOR and the binding index; the nonce-replay records
  // still within their TTL (at most the nonce lifetime, 300 s by default) are counted apart and must all carry a TTL.
  'store back to its idle size':
    !redis || (keysAfter ?? Infinity) - (nonces?.count ?? 0) <= (idleKeys ?? 0) + o.accounts + 2,
  'nonce records all expire': !redis || (nonces?.sampledWithoutTtl ?? 1) === 0,
  // Under 5 minutes warm-up (JIT, heap sizing) dominates the slope: reported, not judged.
  [o.minutes >= 5 ? 'RSS not growing (second-half slope < 512 kB/min)' : 'RSS slope (n/a: run < 5 min)']:
    o.minutes < 5 || slope < 512,
  'event-loop lag p99 < 50 ms': (result.eventLoopLagP99Ms.p95 ?? 0) < 50,
  'clean exit': exit.code === 0 && result.problemLines === 0,
};
const pass = Object.values(checks).every(Boolean);
if (o.json) process.stdout.write(`${JSON.stringify({ ...result, checks, verdict: pass ? 'PASS' : 'FAIL' })}\n`);
else {
  console.log(JSON.stringify(result, null, 2));
  for (const [k, v] of Object.entries(checks)) console.log(`${v ? 'ok  ' : 'FAIL'} ${k}`);
  console.log(`verdict: ${pass ? 'PASS' : 'FAIL'}`);
}
process.exit(pass ? 0 : 1);
