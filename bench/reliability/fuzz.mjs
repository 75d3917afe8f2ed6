#!/usr/bin/env node
/**
 * Fuzz the running registrar: start `node dist/main.js` (memory store, or a throwaway Redis with --redis), send
 * --count mutated SIP messages over UDP and TCP (./lib/mutate.mjs), interleaved with valid full digest registrations
 * of accounts created through the admin API, then stop it with SIGTERM. Prints messages sent (by mutation), crashes,
 * unhandled rejections and handler bugs from the server log, failed valid registrations, and RSS before and after.
 * Verdict PASS needs: the server alive to the end and exiting 0, no problem log line, no failed valid registration.
 *
 * usage: node bench/reliability/fuzz.mjs [--count 100000] [--max-seconds 300] [--redis] [--seed 1]
 *          [--valid-every 500] [--tcp-share 0.25] [--batch 200] [--json]
 * Bounded: stops at --count messages or --max-seconds, whichever first.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import {
  args,
  createAccount,
  metricValue,
  scrape,
  sleep,
  startRedis,
  startServer,
  UdpRegistrar,
  DOMAIN,
} from './lib/harness.mjs';
import { fuzzMessage, prng } from './lib/mutate.mjs';

const o = args({
  count: 100_000,
  maxSeconds: 300,
  redis: false,
  seed: 1,
  validEvery: 500,
  tcpShare: 0.25,
  batch: 200,
  json: false,
});
const VALID_ACCOUNTS = 20;
const UDP_MAX = 65_000;
const TCP_MESSAGES_PER_CONNECTION = 25;

const redis = o.redis ? await startRedis() : null;
const server = await startServer({
  redisUrl: redis?.url ?? null,
  // 127.0.0.0/8 trusted: the fuzz's failed answers must not lock out the address the valid phones use.
  env: { TRUSTED_NETWORKS: '127.0.0.0/8' },
});
const r = prng(o.seed);
const started = Date.now();
const deadline = started + o.maxSeconds * 1000;

/** @type {Array<{ user: string, password: string }>} */
const accounts = [];
for (let i = 0; i < VALID_ACCOUNTS; i++) {
  const a = { user: `valid${i}`, password: `valid-password-${i}-x` };
  await createAccount(server.adminUrl, a.user, a.password);
  accounts.push(a);
}
await createAccount(server.adminUrl, 'fuzz', 'target-secret-123');

const phones = await new UdpRegistrar(server.ports.udp).open();
const valid = { attempted: 0, failed: 0, statuses: /** @type {Record<string, number>} */ ({}) };
/** @type {Promise<void>[]} */
const inFlight = [];
const validOnce = () => {
  const a = accounts[valid.attempted % accounts.length] ?? { user: 'valid0', password: 'valid-password-0-x' };
  valid.attempted++;
  const p = phones.register({ user: a.user, password: a.password, expires: 600 }).then((res) => {
    valid.statuses[res.status] = (valid.statuses[res.status] ?? 0) + 1;
    if (res.status !== 200) valid.failed++;
  });
  inFlight.push(p);
};
for (let i = 0; i < VALID_ACCOUNTS; i++) validOnce();
await Promise.all(inFlight.splice(0));

await sleep(500);
const rssBefore = server.rssKb();

// Fuzz senders: one UDP socket, and a TCP connection replaced every few messages or when the server closes it.
const udp = dgram.createSocket('udp4');
await new Promise((res) => udp.bind(0, '127.0.0.1', () => res(undefined)));
const udpPort = udp.address().port;
const answers = { udp: 0, tcp: 0 };
udp.on('message', () => answers.udp++);
/** @type {net.Socket | null} */
let tcp = null;
let tcpSent = 0;
let tcpConnections = 0;
const tcpSocket = async () => {
  if (tcp !== null && !tcp.destroyed && tcpSent < TCP_MESSAGES_PER_CONNECTION) return tcp;
  tcp?.destroy();
  tcpSent = 0;
  tcpConnections++;
  const s = net.connect({ host: '127.0.0.1', port: server.ports.tcp });
  s.on('error', () => {});
  s.on('data', () => answers.tcp++);
  await new Promise((res) => {
    s.once('connect', res);
    s.once('error', res);
  });
  tcp = s;
  return s;
};

const sent = { udp: 0, tcp: 0 };
/** @type {Record<string, number>} */
const byKind = {};
let total = 0;
while (total < o.count && Date.now() < deadline && server.child.exitCode === null) {
  for (let k = 0; k < o.batch && total < o.count; k++, total++) {
    const overTcp = r.next() < o.tcpShare;
    const localPort = overTcp ? (tcp?.localPort ?? 5070) : udpPort;
    const { data, kinds } = fuzzMessage(
      r,
      { host: '127.0.0.1', port: localPort, transport: overTcp ? 'TCP' : 'UDP', domain: DOMAIN, user: 'fuzz' },
      UDP_MAX,
    );
    for (const kind of kinds) byKind[kind] = (byKind[kind] ?? 0) + 1;
    if (overTcp) {
      const s = await tcpSocket();
      if (!s.destroyed) s.write(data);
      tcpSent++;
      sent.tcp++;
    } else {
      udp.send(data, server.ports.udp, '127.0.0.1');
      sent.udp++;
    }
    if (total % o.validEvery === 0) validOnce();
  }
  // Let the server breathe between batches so the kernel does not drop everything; answers are drained meanwhile.
  await sleep(2);
}
tcp?.destroy();
await Promise.all(inFlight.splice(0));
// A final round after the storm: every valid account still registers.
for (let i = 0; i < VALID_ACCOUNTS; i++) validOnce();
await Promise.all(inFlight.splice(0));
await sleep(1000);
const rssAfter = server.rssKb();
// What the server saw: parsed requests plus messages refused by the parser or validation (responses are not counted).
const metrics = await scrape(server.adminUrl);
const seen = metricValue(metrics, 'sipreg_sip_requests_total') + metricValue(metrics, 'sipreg_parse_errors_total');
const aliveAtEnd = server.child.exitCode === null && server.child.signalCode === null;
phones.close();
udp.close();
const exit = await server.stop();
await redis?.close();

const problems = server.problems();
const unhandled = server.lines.filter((l) => /unhandled rejection/i.test(l)).length;
const seconds = (Date.now() - started) / 1000;
const result = {
  date: new Date().toISOString(),
  store: o.redis ? 'redis' : 'memory',
  seed: o.seed,
  messagesSent: total,
  sentUdp: sent.udp,
  sentTcp: sent.tcp,
  tcpConnections,
  answersUdp: answers.udp,
  serverCountedMessages: seen,
  serverParseErrors: metricValue(metrics, 'sipreg_parse_errors_total'),
  byMutation: byKind,
  seconds: Math.round(seconds * 10) / 10,
  crashes: aliveAtEnd ? 0 : 1,
  exitCode: exit.code,
  exitSignal: exit.signal,
  unhandledRejections: unhandled,
  problemLines: problems.length,
  validRegistrations: valid.attempted,
  validFailed: valid.failed,
  validStatuses: valid.statuses,
  rssBeforeKb: rssBefore,
  rssAfterKb: rssAfter,
};
const pass = result.crashes === 0 && exit.code === 0 && problems.length === 0 && valid.failed === 0;
if (o.json) {
  process.stdout.write(`${JSON.stringify({ ...result, verdict: pass ? 'PASS' : 'FAIL' })}\n`);
} else {
  console.log(
    `fuzz (${result.store} store, seed ${o.seed}): ${total} messages in ${result.seconds} s (UDP ${sent.udp}, TCP ${sent.tcp} over ${tcpConnections} connections)`,
  );
  console.log(
    `  server counted ${seen} requests and parse errors (${result.serverParseErrors} parse errors); ${answers.udp} UDP answers`,
  );
  console.log(
    `  by mutation: ${Object.entries(byKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  console.log(`  crashes: ${result.crashes}, exit code: ${exit.code}${exit.signal ? ` (signal ${exit.signal})` : ''}`);
  console.log(`  unhandled rejections: ${unhandled}, other problem lines: ${problems.length - unhandled}`);
  console.log(`  valid registrations: ${valid.attempted}, failed: ${valid.failed} (${JSON.stringify(valid.statuses)})`);
  console.log(`  RSS before: ${rssBefore} kB, after: ${rssAfter} kB`);
  for (const l of problems.slice(0, 5)) console.log(`  problem: ${l.slice(0, 300)}`);
  console.log(`verdict: ${pass ? 'PASS' : 'FAIL'}`);
}
process.exit(pass ? 0 : 1);
