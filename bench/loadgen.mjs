#!/usr/bin/env node
/**
 * SIP REGISTER load generator: worker threads doing full digest registrations (REGISTER, 401, REGISTER with
 * Authorization, 200) or refreshes (one round trip: the same nonce with a higher nc, or Authentication-Info's
 * nextnonce) at a target rate over UDP, TCP or TLS, for N accounts u<digits>@domain. Prints the achieved rate,
 * failures by reason, p50/p95/p99 latency and the server's CPU-microseconds per registration (/proc/PID/stat of the
 * PIDs given, descendants included; give the Redis PID too).
 *
 * usage: node bench/loadgen.mjs --port P [--host 127.0.0.1] [--transport udp|tcp|tls] [--rate 1000] [--duration 10]
 *          [--accounts 1000] [--mode full|refresh] [--refresh-nonce nextnonce|nc] [--threads 2] [--pids 123,456]
 *          [--domain bench.test] [--pw-prefix bench-pass-] [--algorithm SHA-256|MD5] [--timeout-ms 5000] [--json]
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { merge, newHist, summary } from './lib/hist.mjs';
import { delta, snapshot } from './lib/procstat.mjs';
import { DEFAULT_PW_PREFIX, padWidthFor } from './lib/accounts.mjs';

const WORKER = fileURLToPath(new URL('./loadgen-worker.mjs', import.meta.url));
const MAX_DURATION_S = 600;
const MAX_RATE = 200_000;

/**
 * @typedef {object} LoadOptions
 * @property {string} host
 * @property {number} port
 * @property {'udp' | 'tcp' | 'tls'} transport
 * @property {number} rate          registrations per second (refresh mode: refreshes per second)
 * @property {number} durationS
 * @property {number} accounts
 * @property {number} [firstAccount]
 * @property {number} [padWidth]
 * @property {'full' | 'refresh'} mode
 * @property {'nc' | 'nextnonce'} [refreshNonce]
 * @property {number} [threads]
 * @property {number[]} [pids]      server PIDs for CPU accounting
 * @property {string} [domain]
 * @property {string} [ruri]
 * @property {string} [pwPrefix]
 * @property {string} [pwSuffix]
 * @property {import('./lib/sip.mjs').Algorithm[] | null} [algorithms]
 * @property {number} [expires]
 * @property {number} [timeoutMs]
 * @property {number} [maxInFlight]
 * @property {number} [connections]  per thread, TCP/TLS
 * @property {number} [warmRate]
 */

/**
 * Runs one bounded load step and returns its figures.
 * @param {LoadOptions} o
 */
export async function runLoad(o) {
  if (!(o.host === '127.0.0.1' || o.host === '::1')) throw new Error('loopback only: --host 127.0.0.1 or ::1');
  if (!(o.rate > 0 && o.rate <= MAX_RATE)) throw new Error(`rate must be in 1..${MAX_RATE}`);
  if (!(o.durationS > 0 && o.durationS <= MAX_DURATION_S))
    throw new Error(`duration must be in 1..${MAX_DURATION_S} s`);
  if (!(o.accounts > 0)) throw new Error('accounts must be > 0');
  // One thread per two cores by default: the generator shares the box with the server it measures.
  const threads = Math.max(1, Math.min(o.threads ?? Math.floor(availableParallelism() / 2), 16, o.accounts));
  const total = Math.round(o.rate * o.durationS);
  const timeoutMs = o.timeoutMs ?? 5000;
  const domain = o.domain ?? 'bench.test';
  const workers = [];
  for (let id = 0; id < threads; id++) {
    const share = Math.floor(total / threads) + (id < total % threads ? 1 : 0);
    workers.push(
      new Worker(WORKER, {
        workerData: {
          id,
          workers: threads,
          transport: o.transport,
          host: o.host,
          port: o.port,
          domain,
          ruri: o.ruri ?? `sip:${domain}`,
          accounts: o.accounts,
          firstAccount: o.firstAccount ?? 0,
          padWidth: o.padWidth ?? padWidthFor((o.firstAccount ?? 0) + o.accounts),
          pwPrefix: o.pwPrefix ?? DEFAULT_PW_PREFIX,
          pwSuffix: o.pwSuffix ?? '',
          rate: o.rate / threads,
          count: share,
          durationS: o.durationS,
          mode: o.mode,
          refreshNonce: o.refreshNonce ?? 'nextnonce',
          expires: o.expires ?? 3600,
          timeoutMs,
          maxInFlight: Math.ceil((o.maxInFlight ?? Math.max(2000, o.rate * 2)) / threads),
          algorithms: o.algorithms ?? null,
          connections: o.connections ?? 1,
          // Full registrations cost about twice a refresh: warm up no faster than the measured rate.
          warmRate: (o.warmRate ?? Math.min(Math.max(o.rate, 200), 2000)) / threads,
        },
      }),
    );
  }
  /** @type {Map<string, Array<Record<string, unknown>>>} */
  const inbox = new Map();
  /** @type {Array<(m: Record<string, unknown>) => void>} */
  const waiters = [];
  let failure = /** @type {Error | null} */ (null);
  for (const w of workers) {
    w.on('message', (/** @type {Record<string, unknown>} */ m) => {
      if (m.type === 'error') failure = new Error(`load worker: ${String(m.error)}`);
      const list = inbox.get(String(m.type)) ?? [];
      list.push(m);
      inbox.set(String(m.type), list);
      for (const f of waiters.splice(0)) f(m);
    });
    w.on('error', (e) => {
      failure = e;
      for (const f of waiters.splice(0)) f({});
    });
  }
  // Every wait is bounded: the whole step cannot outlast warm-up + duration + timeout + margin.
  const bound =
    Date.now() + (o.durationS + timeoutMs / 1000 + 30 + (o.mode === 'refresh' ? o.accounts / 500 + 10 : 0)) * 1000;
  /** @param {string} type */
  const all = async (type) => {
    while ((inbox.get(type)?.length ?? 0) < workers.length) {
      if (failure) throw failure;
      if (Date.now() > bound) throw new Error(`load workers did not report '${type}' in time`);
      await new Promise((res) => {
        waiters.push(res);
        setTimeout(res, 200);
      });
    }
    return /** @type {Array<Record<string, unknown>>} */ (inbox.get(type));
  };
  try {
    await all('ready');
    for (const w of workers) w.postMessage({ type: 'start' });
    const warmMsgs = await all('warm');
    const pids = o.pids ?? [];
    const cpu0 = snapshot(pids);
    for (const w of workers) w.postMessage({ type: 'go' });
    const doneMsgs = await all('done');
    const cpu1 = snapshot(pids, cpu0);
    const warm = combine(warmMsgs.map((m) => /** @type {PhaseResult} */ (m.warm)));
    const measured = combine(doneMsgs.map((m) => /** @type {PhaseResult} */ (m.result)));
    const stray = doneMsgs.reduce((s, m) => s + Number(m.stray ?? 0), 0);
    const reconnects = doneMsgs.reduce((s, m) => s + Number(m.reconnects ?? 0), 0);
    return { ...figures(o, threads, total, measured, warm, stray, delta(cpu0, cpu1), cpu0.pids.length), reconnects };
  } finally {
    // Ask each thread to leave, then terminate whatever has not left within 5 s.
    await Promise.all(
      workers.map(async (w) => {
        const exited = new Promise((res) => w.once('exit', res));
        w.postMessage({ type: 'bye' });
        const t = setTimeout(() => void w.terminate(), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

/**
 * @typedef {object} PhaseResult
 * @property {number} started
 * @property {number} success
 * @property {Record<string, number>} failures
 * @property {number} retransmissions
 * @property {number} rechallenged
 * @property {number} initial
 * @property {number[]} hist
 * @property {number} firstStart
 * @property {number} lastDone
 */

/** @param {PhaseResult[]} parts */
function combine(parts) {
  const hist = newHist();
  /** @type {Record<string, number>} */
  const failures = {};
  let started = 0;
  let success = 0;
  let retransmissions = 0;
  let rechallenged = 0;
  let initial = 0;
  let firstStart = Infinity;
  let lastDone = 0;
  for (const p of parts) {
    merge(hist, p.hist);
    for (const [k, v] of Object.entries(p.failures)) failures[k] = (failures[k] ?? 0) + v;
    started += p.started;
    success += p.success;
    retransmissions += p.retransmissions;
    rechallenged += p.rechallenged;
    initial += p.initial;
    if (p.firstStart > 0) firstStart = Math.min(firstStart, p.firstStart);
    lastDone = Math.max(lastDone, p.lastDone);
  }
  return { hist, failures, started, success, retransmissions, rechallenged, initial, firstStart, lastDone };
}

/**
 * @param {LoadOptions} o @param {number} threads @param {number} total
 * @param {ReturnType<typeof combine>} m @param {ReturnType<typeof combine>} warm @param {number} stray
 * @param {ReturnType<typeof delta>} cpu @param {number} watchedPids
 */
function figures(o, threads, total, m, warm, stray, cpu, watchedPids) {
  const spanS = m.lastDone > m.firstStart ? (m.lastDone - m.firstStart) / 1000 : o.durationS;
  const failed = Object.values(m.failures).reduce((a, b) => a + b, 0);
  const lat = summary(m.hist);
  const round = (/** @type {number | null} */ v, d = 2) => (v === null ? null : Number(v.toFixed(d)));
  const perReg = (/** @type {number} */ s) => (m.success > 0 ? round((s * 1e6) / m.success, 1) : null);
  return {
    at: new Date().toISOString(),
    transport: o.transport,
    mode: o.mode,
    refreshNonce: o.mode === 'refresh' ? (o.refreshNonce ?? 'nextnonce') : undefined,
    targetRate: o.rate,
    durationS: o.durationS,
    accounts: o.accounts,
    threads,
    planned: total,
    started: m.started,
    success: m.success,
    failed,
    failures: m.failures,
    notStarted: total - m.started,
    retransmissions: m.retransmissions,
    rechallenged: m.rechallenged,
    initialInRefresh: m.initial,
    strayResponses: stray,
    achievedRate: round(m.success / spanS, 1),
    spanS: round(spanS, 2),
    latencyMs: { p50: round(lat.p50, 3), p95: round(lat.p95, 3), p99: round(lat.p99, 3), max: round(lat.max, 1) },
    cpu: {
      watchedPids,
      serverPct: round((cpu.serverS / cpu.wallS) * 100, 1),
      loadgenPct: round((cpu.loadgenS / cpu.wallS) * 100, 1),
      boxPct: round((cpu.boxS / cpu.wallS) * 100, 1),
      ncpu: cpu.ncpu,
      serverUsPerReg: watchedPids > 0 ? perReg(cpu.serverS) : null,
      loadgenUsPerReg: perReg(cpu.loadgenS),
    },
    warmup:
      o.mode === 'refresh'
        ? {
            started: warm.started,
            success: warm.success,
            failures: warm.failures,
            latencyMs: Object.fromEntries(Object.entries(summary(warm.hist)).map(([k, v]) => [k, round(v, 3)])),
          }
        : undefined,
  };
}

/** @param {Awaited<ReturnType<typeof runLoad>>} f @returns {string} */
export function formatLine(f) {
  const fails = Object.entries(f.failures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const l = f.latencyMs;
  return (
    `${f.transport} ${f.mode} target ${f.targetRate}/s -> ${f.achievedRate}/s ok=${f.success} failed=${f.failed}` +
    (fails ? ` (${fails})` : '') +
    (f.notStarted > 0 ? ` not-started=${f.notStarted}` : '') +
    (f.reconnects > 0 ? ` reconnects=${f.reconnects}` : '') +
    ` retx=${f.retransmissions} | ms p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max}` +
    ` | cpu% server ${f.cpu.serverPct} loadgen ${f.cpu.loadgenPct} box ${f.cpu.boxPct}/${f.cpu.ncpu * 100}` +
    ` | us/reg server ${f.cpu.serverUsPerReg ?? '-'} loadgen ${f.cpu.loadgenUsPerReg ?? '-'}`
  );
}

async function cli() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      transport: { type: 'string', default: 'udp' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '10' },
      accounts: { type: 'string', default: '1000' },
      'first-account': { type: 'string', default: '0' },
      mode: { type: 'string', default: 'full' },
      'refresh-nonce': { type: 'string', default: 'nextnonce' },
      threads: { type: 'string' },
      connections: { type: 'string', default: '1' },
      pids: { type: 'string', default: '' },
      domain: { type: 'string', default: 'bench.test' },
      ruri: { type: 'string' },
      'pw-prefix': { type: 'string', default: DEFAULT_PW_PREFIX },
      'pw-suffix': { type: 'string', default: '' },
      algorithm: { type: 'string' },
      'timeout-ms': { type: 'string', default: '5000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || values.port === undefined) {
    console.log('usage: node bench/loadgen.mjs --port P [--host 127.0.0.1|::1] [--transport udp|tcp|tls] [--rate N]');
    console.log(
      '  [--duration S] [--accounts N] [--first-account I] [--mode full|refresh] [--refresh-nonce nextnonce|nc]',
    );
    console.log(
      '  [--threads N] [--connections N] [--pids PID,...] [--domain D] [--ruri URI] [--pw-prefix P] [--pw-suffix S]',
    );
    console.log('  [--algorithm SHA-256|MD5|SHA-512-256] [--timeout-ms MS] [--json]');
    process.exit(values.help ? 0 : 2);
  }
  const transport = /** @type {'udp' | 'tcp' | 'tls'} */ (values.transport);
  if (!['udp', 'tcp', 'tls'].includes(transport)) throw new Error('--transport udp|tcp|tls');
  const mode = /** @type {'full' | 'refresh'} */ (values.mode);
  if (!['full', 'refresh'].includes(mode)) throw new Error('--mode full|refresh');
  const f = await runLoad({
    host: values.host,
    port: Number(values.port),
    transport,
    rate: Number(values.rate),
    durationS: Number(values.duration),
    accounts: Number(values.accounts),
    firstAccount: Number(values['first-account']),
    mode,
    refreshNonce: values['refresh-nonce'] === 'nc' ? 'nc' : 'nextnonce',
    threads: values.threads !== undefined ? Number(values.threads) : undefined,
    connections: Number(values.connections),
    pids: values.pids ? values.pids.split(',').map(Number) : [],
    domain: values.domain,
    ruri: values.ruri,
    pwPrefix: values['pw-prefix'],
    pwSuffix: values['pw-suffix'],
    algorithms: values.algorithm ? [/** @type {import('./lib/sip.mjs').Algorithm} */ (values.algorithm)] : null,
    timeoutMs: Number(values['timeout-ms']),
  });
  console.log(values.json ? JSON.stringify(f, null, 2) : formatLine(f));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli().catch((e) => {
    console.error(`loadgen: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
