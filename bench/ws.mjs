/**
 * SIP over WebSocket figures (issue: browser softphones), against a real `node dist/main.js` on loopback:
 *  1. RSS of the server holding N idle WebSocket connections (each with the sip subprotocol, pinged every 30 s);
 *  2. full digest registrations per second, and server CPU per registration, over WS against UDP, measured in one
 *     run, closed loop (each phone waits for its answer), bounded in time.
 * usage: npm run build && node bench/ws.mjs [--idle 10000] [--phones 50] [--seconds 5]
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { authorization, buildRegister, newCnonce, parseChallenge, parseResponse } from './lib/sip.mjs';
import { importAccounts, sleep, startSipreg, workDir } from './lib/sipreg.mjs';
import { benchPassword, benchUser, padWidthFor } from './lib/accounts.mjs';
import { cpuTicks, CLK_TCK } from './lib/procstat.mjs';

const { values } = parseArgs({
  options: {
    idle: { type: 'string', default: '10000' },
    phones: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
  },
});
const IDLE = Number(values.idle);
const PHONES = Number(values.phones);
const SECONDS = Number(values.seconds);
const DOMAIN = 'bench.test';

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

const dir = workDir('ws');
const server = await startSipreg({
  dir,
  redisUrl: null,
  config: {
    sip: { limits: { maxConnections: IDLE + 1000, maxConnectionsPerAddress: IDLE + 1000 } },
  },
});
try {
  const wsUrl = `ws://127.0.0.1:${server.ports.ws}`;
  // 1. Idle connections.
  const before = rssKb(server.pid);
  const sockets = [];
  for (let i = 0; i < IDLE; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(IDLE, i + 500); j++) {
      batch.push(
        new Promise((resolve, reject) => {
          const ws = new WebSocket(wsUrl, ['sip']);
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
      );
    }
    sockets.push(...(await Promise.all(batch)));
  }
  await sleep(1000);
  const after = rssKb(server.pid);
  console.log(
    `idle WebSocket connections: ${sockets.length}; server RSS ${(before / 1024).toFixed(1)} MB -> ${(after / 1024).toFixed(1)} MB ` +
      `(${(((after - before) * 1024) / sockets.length).toFixed(0)} bytes per connection)`,
  );
  for (const ws of sockets) ws.terminate();
  await sleep(500);

  // 2. Registrations over WS and over UDP.
  await importAccounts({ adminPort: server.adminPort, token: server.token, accounts: PHONES, domain: DOMAIN });
  const width = padWidthFor(PHONES);
  const results = {};
  for (const transport of ['udp', 'ws', 'udp', 'ws']) {
    const r = await run(transport, width);
    (results[transport] ??= []).push(r);
  }
  for (const [transport, runs] of Object.entries(results)) {
    const regs = runs.reduce((a, r) => a + r.regs, 0);
    const cpu = runs.reduce((a, r) => a + r.cpuS, 0);
    const wall = runs.reduce((a, r) => a + r.wallS, 0);
    console.log(
      `${transport}: ${(regs / wall).toFixed(0)} registrations/s, ${((cpu * 1e6) / regs).toFixed(0)} server CPU-us per registration ` +
        `(${PHONES} phones, closed loop, ${runs.length} x ${SECONDS} s)`,
    );
  }
} finally {
  await server.stop();
}

/** Closed loop: each phone registers (REGISTER, 401, REGISTER, 200) again and again for SECONDS. */
async function run(transport, width) {
  const channels = [];
  for (let i = 0; i < PHONES; i++) channels.push(await openChannel(transport));
  const cpu0 = cpuTicks([server.pid]);
  const t0 = performance.now();
  const deadline = Date.now() + SECONDS * 1000;
  let regs = 0;
  await Promise.all(
    channels.map(async (ch, i) => {
      const user = benchUser(i, width);
      const cred = { username: user, password: benchPassword(i, width), ha1: new Map() };
      let cseq = 0;
      const callId = `${transport}-${i}-${Date.now()}@bench`;
      while (Date.now() < deadline) {
        const p = {
          viaTransport: transport === 'udp' ? 'UDP' : 'WS',
          localHost: ch.host,
          localPort: ch.port,
          ruri: `sip:${DOMAIN}`,
          user,
          domain: DOMAIN,
          fromTag: 't',
          callId,
          expires: 600,
          authorization: null,
        };
        const r401 = await ch.request(buildRegister({ ...p, branch: `z9hG4bK${cseq}x${i}`, cseq: ++cseq }));
        const ch401 = parseChallenge(r401.wwwAuthenticate[0]);
        const auth = authorization(cred, ch401, `sip:${DOMAIN}`, 1, newCnonce());
        const r200 = await ch.request(
          buildRegister({ ...p, branch: `z9hG4bK${cseq}y${i}`, cseq: ++cseq, authorization: auth }),
        );
        if (r200.status === 200) regs++;
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (cpuTicks([server.pid]) - cpu0) / CLK_TCK;
  for (const ch of channels) ch.close();
  return { regs, wallS, cpuS };
}

async function openChannel(transport) {
  const waiting = new Map();
  const deliver = (text) => {
    const r = parseResponse(text);
    if (r !== null && r.branch !== null) waiting.get(r.branch)?.(r);
  };
  const request = (send) => (text) =>
    new Promise((resolve, reject) => {
      const branch = /branch=([^;\s]+)/.exec(text)[1];
      const t = setTimeout(() => reject(new Error(`${transport}: no answer`)), 5000);
      waiting.set(branch, (r) => {
        clearTimeout(t);
        waiting.delete(branch);
        resolve(r);
      });
      send(text);
    });
  if (transport === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    s.on('message', (m) => deliver(m.toString('latin1')));
    return {
      host: '127.0.0.1',
      port: s.address().port,
      request: request((text) => s.send(text, server.ports.udp, '127.0.0.1')),
      close: () => s.close(),
    };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${server.ports.ws}`, ['sip']);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('message', (d) => deliver(d.toString()));
  return { host: 'bench.invalid', port: 0, request: request((text) => ws.send(text)), close: () => ws.close() };
}
