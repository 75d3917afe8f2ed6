/**
 * A closed-loop registration load for bench scripts: each phone registers (REGISTER, 401, REGISTER, 200) again and
 * again for a bounded time over its own UDP socket or WebSocket, waiting for each answer. Counts 200s and the server
 * processes' CPU.
 */
import dgram from 'node:dgram';
import WebSocket from 'ws';
import { benchPassword, benchUser } from './accounts.mjs';
import { cpuTicks, CLK_TCK } from './procstat.mjs';
import { authorization, buildRegister, newCnonce, parseChallenge, parseResponse } from './sip.mjs';

/**
 * @param {object} o
 * @param {'udp' | 'ws'} o.transport
 * @param {Array<{ pid: number, ports: { udp?: number, ws?: number } }>} o.servers  phones are spread over them
 * @param {number} o.phones
 * @param {number} o.seconds
 * @param {number} o.width  account name width (padWidthFor)
 * @param {string} o.domain
 */
export async function closedLoop(o) {
  const channels = [];
  for (let i = 0; i < o.phones; i++) channels.push(await openChannel(o.transport, o.servers[i % o.servers.length]));
  const pids = o.servers.map((s) => s.pid);
  const cpu0 = cpuTicks(pids);
  const t0 = performance.now();
  const deadline = Date.now() + o.seconds * 1000;
  let regs = 0;
  await Promise.all(
    channels.map(async (ch, i) => {
      const user = benchUser(i, o.width);
      const cred = { username: user, password: benchPassword(i, o.width), ha1: new Map() };
      let cseq = 0;
      const callId = `${o.transport}-${i}-${Date.now()}@bench`;
      while (Date.now() < deadline) {
        const p = {
          viaTransport: o.transport === 'udp' ? 'UDP' : 'WS',
          localHost: ch.host,
          localPort: ch.port,
          ruri: `sip:${o.domain}`,
          user,
          domain: o.domain,
          fromTag: 't',
          callId,
          expires: 600,
          authorization: null,
        };
        const r401 = await ch.request(buildRegister({ ...p, branch: `z9hG4bK${cseq}x${i}`, cseq: ++cseq }));
        const auth = authorization(cred, parseChallenge(r401.wwwAuthenticate[0]), `sip:${o.domain}`, 1, newCnonce());
        const r200 = await ch.request(
          buildRegister({ ...p, branch: `z9hG4bK${cseq}y${i}`, cseq: ++cseq, authorization: auth }),
        );
        if (r200.status === 200) regs++;
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (cpuTicks(pids) - cpu0) / CLK_TCK;
  for (const ch of channels) ch.close();
  return { regs, wallS, cpuS };
}

async function openChannel(transport, server) {
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
