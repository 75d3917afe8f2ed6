/**
 * In-process cost of the REGISTER path without sockets: the dispatcher fed prebuilt datagrams, responses captured.
 * Prints JS CPU-microseconds per full registration (REGISTER, 401, REGISTER with Authorization, 200) and per refresh.
 * usage: npm run build && node bench/micro.mjs [--count N] [--store memory|redis --redis-url URL] [--timer-j-ms 32000]
 * --timer-j-ms 0 keeps no transactions: the difference is what the transaction table costs.
 */
import { parseArgs } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import pino from 'pino';
import { DEFAULT_CONFIG } from '../dist/config.js';
import { registrarConfigFrom } from '../dist/app.js';
import { Registrar } from '../dist/registrar/register.js';
import { AccountService } from '../dist/registrar/accounts.js';
import { Dispatcher } from '../dist/server/dispatcher.js';
import { ServerTransactions } from '../dist/sip/transactions.js';
import { Metrics } from '../dist/observability/metrics.js';
import { timedStore } from '../dist/observability/store-timing.js';
import { createStore } from '../dist/store/index.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    store: { type: 'string', default: 'memory' },
    'redis-url': { type: 'string' },
    'timer-j-ms': { type: 'string', default: '32000' },
  },
});
const N = Number(values.count);
const ACCOUNTS = 1000;
const RUN = randomBytes(4).toString('hex');
const config = structuredClone(DEFAULT_CONFIG);
config.sip.domains = ['bench.test'];
config.registrar.algorithms = ['MD5'];
const log = pino({ level: 'warn' });
const raw = createStore({
  ...config,
  redisUrl: values.store === 'redis' ? (values['redis-url'] ?? 'redis://127.0.0.1:6379') : null,
});
const metrics = new Metrics(null, false);
const store = timedStore(raw, metrics);
const registrar = new Registrar(
  store,
  registrarConfigFrom(config, { current: randomBytes(32), previous: null, previousUntil: 0 }),
  log,
);
const accounts = new AccountService(
  store,
  { domains: ['bench.test'], passwordPolicy: { minLength: 8, forbidUsername: true }, passwordGraceMs: 0 },
  log,
);
const users = Array.from({ length: ACCOUNTS }, (_, i) => `m${String(i).padStart(5, '0')}`);
await accounts.import(users.map((u) => ({ username: u, password: `bench-pass-${u.slice(1)}` })));

let last = null;
let answered = 0;
let wake = null;
const sender = {
  send: (_p, _r, data) => {
    last = data.toString('latin1');
    answered++;
    wake?.();
  },
};
const dispatcher = new Dispatcher(
  registrar,
  sender,
  {
    serverName: 'sipreg',
    limits: { maxMessageBytes: 65535, maxHeaders: 256, maxLineLength: 8192 },
    transactions: new ServerTransactions(200000, Number(values['timer-j-ms'])),
  },
  metrics,
  log,
);
const peer = { transport: 'udp', address: '127.0.0.1', port: 5070 };
const md5 = (s) => createHash('md5').update(s).digest('hex');
let seq = 0;
function register(user, cseq, callId, auth) {
  return Buffer.from(
    `REGISTER sip:bench.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${seq++};rport\r\nMax-Forwards: 70\r\n` +
      `From: <sip:${user}@bench.test>;tag=${seq}\r\nTo: <sip:${user}@bench.test>\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} REGISTER\r\n` +
      `Contact: <sip:${user}@127.0.0.1:5070>\r\nExpires: 3600\r\n${auth ? `Authorization: ${auth}\r\n` : ''}User-Agent: micro\r\nContent-Length: 0\r\n\r\n`,
  );
}
async function roundTrip(buf) {
  const before = answered;
  const p = new Promise((r) => (wake = r));
  dispatcher.handle(buf, peer);
  if (answered === before) await p;
  return last;
}
function authFor(user, resp401, nc) {
  const nonce = /nonce="([^"]+)"/.exec(resp401)[1];
  const opaque = /opaque="([^"]+)"/.exec(resp401)?.[1];
  const ha1 = md5(`${user}:bench.test:bench-pass-${user.slice(1)}`);
  const ncs = nc.toString(16).padStart(8, '0');
  const response = md5(`${ha1}:${nonce}:${ncs}:abc:auth:${md5('REGISTER:sip:bench.test')}`);
  return {
    nonce,
    header: `Digest username="${user}", realm="bench.test", nonce="${nonce}", uri="sip:bench.test", response="${response}", algorithm=MD5, qop=auth, nc=${ncs}, cnonce="abc"${opaque ? `, opaque="${opaque}"` : ''}`,
  };
}
async function full(i) {
  const user = users[i % ACCOUNTS];
  const callId = `c${RUN}-${i}@micro`;
  const r401 = await roundTrip(register(user, 1, callId));
  const a = authFor(user, r401, 1);
  const r200 = await roundTrip(register(user, 2, callId, a.header));
  if (!r200.startsWith('SIP/2.0 200')) throw new Error(r200.slice(0, 200));
  return { user, callId, a };
}
for (let i = 0; i < 2000; i++) await full(i); // warm up
let t0 = process.cpuUsage();
let w0 = performance.now();
for (let i = 0; i < N; i++) await full(i);
let cpu = process.cpuUsage(t0);
const fullUs = (cpu.user + cpu.system) / N;
console.log(
  `full registration: ${fullUs.toFixed(1)} CPU-us each (${N} in ${((performance.now() - w0) / 1000).toFixed(2)} s)`,
);
// Refresh: reuse the nonce with nc+1, one round trip.
const sessions = [];
for (let i = 0; i < ACCOUNTS; i++) sessions.push({ ...(await full(i)), nc: 1, cseq: 2 });
t0 = process.cpuUsage();
for (let i = 0; i < N; i++) {
  const s = sessions[i % ACCOUNTS];
  s.nc++;
  s.cseq++;
  const ncs = s.nc.toString(16).padStart(8, '0');
  const ha1 = md5(`${s.user}:bench.test:bench-pass-${s.user.slice(1)}`);
  const response = md5(`${ha1}:${s.a.nonce}:${ncs}:abc:auth:${md5('REGISTER:sip:bench.test')}`);
  const h = `Digest username="${s.user}", realm="bench.test", nonce="${s.a.nonce}", uri="sip:bench.test", response="${response}", algorithm=MD5, qop=auth, nc=${ncs}, cnonce="abc"`;
  const r = await roundTrip(register(s.user, s.cseq, s.callId, h));
  if (!r.startsWith('SIP/2.0 200')) throw new Error(r.slice(0, 200));
}
cpu = process.cpuUsage(t0);
const refreshUs = (cpu.user + cpu.system) / N;
console.log(
  `refresh (nonce reuse, nc+1): ${refreshUs.toFixed(1)} CPU-us each; ratio to full ${(refreshUs / fullUs).toFixed(2)}`,
);
// The bench plays the phone too: building REGISTERs, hashing answers and reading responses. Measured alone here and
// taken off, so the last line is what the server path costs.
const sample401 = await roundTrip(register(users[0], 1, `c${RUN}-sample`));
const sample200 = Buffer.from(sample401.replace('401 Unauthorized', '200 OK'), 'latin1');
t0 = process.cpuUsage();
for (let i = 0; i < N; i++) {
  const user = users[i % ACCOUNTS];
  const callId = `c${RUN}-client-${i}@micro`;
  register(user, 1, callId);
  Buffer.from(sample401, 'latin1').toString('latin1');
  const a = authFor(user, sample401, 1);
  register(user, 2, callId, a.header);
  sample200.toString('latin1');
}
cpu = process.cpuUsage(t0);
const clientUs = (cpu.user + cpu.system) / N;
console.log(`the bench's own phone side: ${clientUs.toFixed(1)} CPU-us per full registration`);
console.log(
  `server path: full registration ${(fullUs - clientUs).toFixed(1)} CPU-us, refresh ${(refreshUs - clientUs / 2).toFixed(1)} CPU-us (ratio ${((refreshUs - clientUs / 2) / (fullUs - clientUs)).toFixed(2)})`,
);
await raw.close();
