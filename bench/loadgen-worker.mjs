/**
 * One load-generator thread: owns a slice of the accounts (index % workers === id), one UDP socket or a few TCP/TLS
 * connections, and its share of the rate. Phases, driven by the main thread so that all threads measure the same
 * window: connect -> 'ready'; 'start' -> warm-up (refresh mode: one full registration per account) -> 'warm';
 * 'go' -> measured phase -> 'done' with counters and a latency histogram.
 * Every loop is bounded in count (the share of rate x duration) and in time (a hard deadline).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { setInterval, clearInterval } from 'node:timers';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import {
  StreamFramer,
  authorization,
  buildRegister,
  newCnonce,
  parseChallenge,
  parseResponse,
  pickChallenge,
} from './lib/sip.mjs';
import { newHist, record } from './lib/hist.mjs';
import { benchPassword, benchUser } from './lib/accounts.mjs';

/**
 * @typedef {object} WorkerConfig
 * @property {number} id
 * @property {number} workers
 * @property {'udp' | 'tcp' | 'tls'} transport
 * @property {string} host       server address (127.0.0.1 or ::1)
 * @property {number} port
 * @property {string} domain
 * @property {string} ruri
 * @property {number} accounts   total accounts (this thread takes index % workers === id)
 * @property {number} firstAccount
 * @property {number} padWidth
 * @property {string} pwPrefix
 * @property {string} pwSuffix
 * @property {number} rate       this thread's registrations per second
 * @property {number} count      this thread's registrations in the measured phase
 * @property {number} durationS
 * @property {'full' | 'refresh'} mode
 * @property {'nc' | 'nextnonce'} refreshNonce
 * @property {number} expires
 * @property {number} timeoutMs  per registration
 * @property {number} maxInFlight
 * @property {import('./lib/sip.mjs').Algorithm[] | null} algorithms
 * @property {number} connections  TCP/TLS connections of this thread
 * @property {number} warmRate   refresh warm-up rate of this thread
 */

const cfg = /** @type {WorkerConfig} */ (workerData);
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const T1 = 500;
const T2 = 4000;
const SWEEP_MS = 25;
const viaTransport = /** @type {'UDP' | 'TCP' | 'TLS'} */ (cfg.transport.toUpperCase());
const ipv6 = cfg.host.includes(':');
const localHost = ipv6 ? '[::1]' : '127.0.0.1';
const tag = randomBytes(3).toString('hex');

/** @typedef {{ send(msg: string): boolean, localPort: number, alive: boolean }} Link */

/**
 * @typedef {object} Account
 * @property {number} idx
 * @property {string} user
 * @property {import('./lib/sip.mjs').Credentials} cred
 * @property {string} callId
 * @property {number} cseq
 * @property {string} fromTag
 * @property {string} cnonce
 * @property {boolean} busy
 * @property {import('./lib/sip.mjs').Challenge | null} challenge
 * @property {number} nc
 * @property {string | null} nextnonce
 * @property {Link} link
 */

/**
 * @typedef {object} Tx
 * @property {Account} acct
 * @property {'initial' | 'auth' | 'refresh'} stage
 * @property {string} msg
 * @property {number} regStart
 * @property {number} nextRetx
 * @property {number} retxInterval
 * @property {number} deadline
 * @property {Phase} phase
 */

/**
 * @typedef {object} Phase
 * @property {string} name
 * @property {number} started
 * @property {number} success
 * @property {Record<string, number>} failures
 * @property {number} retransmissions
 * @property {number} rechallenged
 * @property {number} initial   full registrations inside a refresh phase (no usable nonce)
 * @property {Float64Array} hist
 * @property {number} firstStart  epoch ms
 * @property {number} lastDone    epoch ms
 * @property {number} inFlight
 */

/** @type {Map<string, Tx>} */
const txs = new Map();
let branchSeq = 0;
let callSeq = 0;
let stray = 0;
/** @type {Link[]} */
const links = [];

const epochNow = () => performance.timeOrigin + performance.now();

/** @param {string} name @returns {Phase} */
function newPhase(name) {
  return {
    name,
    started: 0,
    success: 0,
    failures: {},
    retransmissions: 0,
    rechallenged: 0,
    initial: 0,
    hist: newHist(),
    firstStart: 0,
    lastDone: 0,
    inFlight: 0,
  };
}

/** @param {Phase} ph @param {string} reason */
function fail(ph, reason) {
  ph.failures[reason] = (ph.failures[reason] ?? 0) + 1;
}

// ---------------------------------------------------------------- accounts

/** @type {Account[]} */
const accounts = [];
function makeAccounts() {
  for (let i = cfg.id; i < cfg.accounts; i += cfg.workers) {
    const user = benchUser(cfg.firstAccount + i, cfg.padWidth);
    const password = benchPassword(cfg.firstAccount + i, cfg.padWidth, cfg.pwPrefix, cfg.pwSuffix);
    accounts.push({
      idx: i,
      user,
      cred: { username: user, password, ha1: new Map() },
      callId: '',
      cseq: 0,
      fromTag: '',
      cnonce: newCnonce(),
      busy: false,
      challenge: null,
      nc: 0,
      nextnonce: null,
      link: /** @type {Link} */ (links[accounts.length % links.length]),
    });
  }
}

// ---------------------------------------------------------------- transport

/** @param {string} text */
function onMessage(text) {
  const r = parseResponse(text);
  if (r === null || r.branch === null) {
    stray++;
    return;
  }
  const tx = txs.get(r.branch);
  if (tx === undefined) {
    stray++; // a response to a retransmission, or after a timeout
    return;
  }
  if (r.status < 200) {
    tx.nextRetx = Infinity; // RFC 3261 17.1.2.2: a provisional response stops retransmissions at T2 pace; we just wait
    return;
  }
  txs.delete(r.branch);
  onFinal(tx, r);
}

async function connect() {
  const n = cfg.transport === 'udp' ? 1 : cfg.connections;
  for (let i = 0; i < n; i++) {
    if (cfg.transport === 'udp') {
      const sock = dgram.createSocket({
        type: ipv6 ? 'udp6' : 'udp4',
        recvBufferSize: 8 << 20,
        sendBufferSize: 8 << 20,
      });
      await new Promise((res, rej) => {
        sock.once('error', rej);
        sock.bind(0, cfg.host, () => res(undefined));
      });
      sock.on('message', (buf) => onMessage(buf.toString('latin1')));
      sock.on('error', () => undefined);
      /** @type {Link} */
      const link = {
        localPort: sock.address().port,
        alive: true,
        send(msg) {
          sock.send(msg, cfg.port, cfg.host);
          return true;
        },
      };
      links.push(link);
      closers.push(() => sock.close());
    } else {
      /** @type {Link} */
      const link = { localPort: 0, alive: false, send: () => false };
      await openStream(link);
      links.push(link);
    }
  }
}

const MAX_RECONNECTS = 50;
let reconnects = 0;
let shuttingDown = false;

/**
 * Opens (or reopens) a TCP/TLS connection behind `link`. When the server closes it, the registrations waiting on it
 * fail as 'connection-closed' and the link reconnects, as a phone would (bounded: MAX_RECONNECTS per thread).
 * @param {Link} link
 */
async function openStream(link) {
  /** @type {net.Socket} */
  const s = await new Promise((res, rej) => {
    const opts = { host: cfg.host, port: cfg.port };
    const c =
      cfg.transport === 'tls'
        ? tls.connect({ ...opts, rejectUnauthorized: false }, () => res(c)) // loopback bench, self-signed cert
        : net.connect(opts, () => res(c));
    c.once('error', rej);
  });
  s.setNoDelay(true);
  const framer = new StreamFramer();
  link.localPort = s.localPort ?? 0;
  link.alive = true;
  link.send = (msg) => {
    if (!link.alive) return false;
    s.write(msg, 'latin1');
    return true;
  };
  s.on('data', (chunk) => {
    try {
      for (const m of framer.push(chunk)) onMessage(m);
    } catch {
      s.destroy();
    }
  });
  s.on('error', () => undefined);
  s.on('close', () => {
    link.alive = false;
    for (const [branch, tx] of txs) {
      if (tx.acct.link !== link) continue;
      txs.delete(branch);
      finish(tx, 'connection-closed');
    }
    if (!shuttingDown && reconnects < MAX_RECONNECTS) {
      reconnects++;
      setTimeout(() => openStream(link).catch(() => undefined), 100);
    }
  });
  closers.push(() => s.destroy());
}
/** @type {Array<() => void>} */
const closers = [];

// ---------------------------------------------------------------- registrations

/** @param {Tx} tx @param {string} msg */
function sendTx(tx, msg) {
  const branch = `z9hG4bK${tag}${cfg.id}x${++branchSeq}`;
  tx.msg = msg.replace('branch=BRANCH', `branch=${branch}`);
  const now = performance.now();
  tx.nextRetx = cfg.transport === 'udp' ? now + T1 : Infinity;
  tx.retxInterval = T1;
  if (!tx.acct.link.send(tx.msg)) {
    finish(tx, 'connection-closed');
    return;
  }
  txs.set(branch, tx);
}

/** @param {Account} a @param {string | null} auth */
function request(a, auth) {
  return buildRegister({
    viaTransport,
    localHost,
    localPort: a.link.localPort,
    branch: 'BRANCH',
    ruri: cfg.ruri,
    user: a.user,
    domain: cfg.domain,
    fromTag: a.fromTag,
    callId: a.callId,
    cseq: a.cseq,
    expires: cfg.expires,
    authorization: auth,
  });
}

/** @param {Account} a @param {Phase} ph */
function startRegistration(a, ph) {
  a.busy = true;
  ph.started++;
  ph.inFlight++;
  const now = performance.now();
  if (ph.firstStart === 0) ph.firstStart = epochNow();
  /** @type {Tx} */
  const tx = {
    acct: a,
    stage: 'initial',
    msg: '',
    regStart: now,
    nextRetx: 0,
    retxInterval: T1,
    deadline: now + cfg.timeoutMs,
    phase: ph,
  };
  if (ph.name === 'refresh' && a.challenge !== null) {
    // RFC 3261 10.2.4: a refresh keeps Call-ID and raises CSeq; RFC 7616 3.4: a higher nc, or the server's nextnonce.
    a.cseq++;
    tx.stage = 'refresh';
    if (cfg.refreshNonce === 'nextnonce' && a.nextnonce !== null) {
      a.challenge = { ...a.challenge, nonce: a.nextnonce };
      a.nc = 1;
    } else a.nc++;
    a.nextnonce = null;
    sendTx(tx, request(a, authorization(a.cred, a.challenge, cfg.ruri, a.nc, a.cnonce)));
    return;
  }
  if (ph.name === 'refresh') ph.initial++;
  a.callId = `${tag}-${cfg.id}-${++callSeq}@bench`;
  a.fromTag = `${tag}${callSeq}`;
  a.cseq = 1;
  sendTx(tx, request(a, null));
}

/** @param {Tx} tx @param {import('./lib/sip.mjs').Response} r */
function onFinal(tx, r) {
  const a = tx.acct;
  const ph = tx.phase;
  if ((r.status === 401 || r.status === 407) && tx.stage !== 'auth') {
    const offered = r.wwwAuthenticate.map(parseChallenge).filter((c) => c !== null);
    const ch = pickChallenge(offered, cfg.algorithms);
    if (ch === null) {
      finish(tx, 'no-usable-challenge');
      return;
    }
    if (tx.stage === 'refresh') ph.rechallenged++;
    a.challenge = ch;
    a.nc = 1;
    a.nextnonce = null;
    a.cseq++;
    tx.stage = 'auth';
    sendTx(tx, request(a, authorization(a.cred, ch, cfg.ruri, a.nc, a.cnonce)));
    return;
  }
  if (r.status >= 200 && r.status < 300) {
    if (r.authenticationInfo !== null) {
      const m = /nextnonce\s*=\s*"([^"]*)"/i.exec(r.authenticationInfo);
      a.nextnonce = m ? (m[1] ?? null) : null;
    }
    record(ph.hist, (performance.now() - tx.regStart) * 1000);
    ph.success++;
    finish(tx, null);
    return;
  }
  finish(tx, r.status === 401 ? 'auth-rejected-401' : `status-${r.status}`);
}

/** @param {Tx} tx @param {string | null} failure */
function finish(tx, failure) {
  const ph = tx.phase;
  if (failure !== null) {
    fail(ph, failure);
    // Forget the nonce: the next registration of this account starts over with a challenge.
    tx.acct.challenge = null;
  }
  tx.acct.busy = false;
  ph.inFlight--;
  ph.lastDone = epochNow();
}

/** Retransmissions (UDP, RFC 3261 17.1.2.2 Timer E: T1 doubling up to T2) and registration timeouts. */
function sweep() {
  const now = performance.now();
  for (const [branch, tx] of txs) {
    if (now >= tx.deadline) {
      txs.delete(branch);
      finish(tx, 'timeout');
    } else if (now >= tx.nextRetx) {
      tx.acct.link.send(tx.msg);
      tx.phase.retransmissions++;
      tx.retxInterval = Math.min(tx.retxInterval * 2, T2);
      tx.nextRetx = now + tx.retxInterval;
    }
  }
}

/**
 * Starts `count` registrations at `rate`/s, round-robin over the accounts (skipping busy ones), at most maxInFlight
 * at a time; resolves when all are done or at the hard deadline (duration + timeout + 1 s).
 * @param {Phase} ph @param {number} rate @param {number} count
 * @returns {Promise<void>}
 */
function runPhase(ph, rate, count) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const hardEnd = t0 + (count / rate) * 1000 + cfg.timeoutMs + 1000;
    let next = 0;
    const sweeper = setInterval(sweep, SWEEP_MS);
    const tick = () => {
      const now = performance.now();
      const due = Math.min(count, Math.floor(((now - t0) * rate) / 1000) + 1);
      let guard = accounts.length;
      while (ph.started < due && ph.inFlight < cfg.maxInFlight && guard > 0) {
        const a = /** @type {Account} */ (accounts[next]);
        next = (next + 1) % accounts.length;
        if (a.busy) {
          guard--;
          continue;
        }
        guard = accounts.length;
        startRegistration(a, ph);
      }
      if ((ph.started >= count && ph.inFlight === 0) || now >= hardEnd) {
        clearInterval(sweeper);
        // Whatever is still open at the hard deadline failed.
        for (const [branch, tx] of txs) {
          if (tx.phase !== ph) continue;
          txs.delete(branch);
          finish(tx, 'timeout');
        }
        resolve();
        return;
      }
      setTimeout(tick, 1);
    };
    tick();
  });
}

/** @param {Phase} ph */
function phaseResult(ph) {
  return { ...ph, hist: Array.from(ph.hist) };
}

/** @param {string} type @returns {Promise<void>} */
function waitFor(type) {
  return new Promise((resolve) => {
    const on = (/** @type {{ type: string }} */ m) => {
      if (m.type === type) {
        port.off('message', on);
        resolve();
      }
    };
    port.on('message', on);
  });
}

async function main() {
  await connect();
  makeAccounts();
  port.postMessage({ type: 'ready' });
  await waitFor('start');
  const warm = newPhase('warm');
  if (cfg.mode === 'refresh' && accounts.length > 0) await runPhase(warm, cfg.warmRate, accounts.length);
  port.postMessage({ type: 'warm', warm: phaseResult(warm) });
  await waitFor('go');
  const measured = newPhase(cfg.mode);
  if (cfg.count > 0 && accounts.length > 0) await runPhase(measured, cfg.rate, cfg.count);
  shuttingDown = true;
  port.postMessage({ type: 'done', result: phaseResult(measured), stray, reconnects });
  for (const c of closers) c();
  // Leave on the main thread's word, once it has our result (terminating a thread mid-I/O is the riskier path).
  await waitFor('bye');
  process.exit(0);
}

main().catch((e) => {
  shuttingDown = true;
  port.postMessage({ type: 'error', error: String(e instanceof Error ? e.message : e) });
  for (const c of closers) c();
});
