/**
 * Runs sipreg in-process with the CPU profiler started only after set-up (accounts loaded), so a profile shows the
 * SIP path alone while an outside generator (sipp, bench/loadgen.mjs) drives it.
 * usage: npm run build && node bench/profile-server.mjs [--seconds 15] [--accounts 5000] [--out /tmp/sipreg.cpuprofile]
 *        (ports and store from the usual environment: SIP_UDP_PORT, REDIS_URL, ...)
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../dist/config.js';
import { createLogger } from '../dist/observability/log.js';
import { startApp } from '../dist/app.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    accounts: { type: 'string', default: '5000' },
    out: { type: 'string', default: '/tmp/sipreg.cpuprofile' },
  },
});
const config = loadConfig(process.env);
const app = await startApp(config, { logger: createLogger(config.log.level) });
const lines = [];
for (let i = 0; i < Number(values.accounts); i++) {
  const d = String(i).padStart(5, '0');
  lines.push({ username: `u${d}`, domain: 'bench.test', password: `bench-pass-${d}` });
}
await app.accounts.import(lines);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');
console.log(`profiling for ${values.seconds} s (pid ${process.pid})`);
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
const { profile } = await session.post('Profiler.stop');
writeFileSync(values.out, JSON.stringify(profile));
console.log(`profile written to ${values.out}`);
await app.stop(100);
process.exit(0);
