/**
 * SIP over WebSocket figures (issue: browser softphones), against a real `node dist/main.js` on loopback:
 *  1. RSS of the server holding N idle WebSocket connections (each with the sip subprotocol, pinged every 30 s);
 *  2. full digest registrations per second, and server CPU per registration, over WS against UDP, measured in one
 *     run, closed loop (each phone waits for its answer), bounded in time.
 * usage: npm run build && node bench/ws.mjs [--idle 10000] [--phones 50] [--seconds 5]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { closedLoop } from './lib/closed-loop.mjs';
import { importAccounts, sleep, startSipreg, workDir } from './lib/sipreg.mjs';
import { padWidthFor } from './lib/accounts.mjs';

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
    const r = await closedLoop({
      transport,
      servers: [server],
      phones: PHONES,
      seconds: SECONDS,
      width,
      domain: DOMAIN,
    });
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
