#!/usr/bin/env node
/**
 * peer.sh's report: reads the run list ("target rate rep summary.json" per line; summary.json written by
 * ../shared/peer-bench/parse-run.js), prints every run and, per rate, the median of each target and the ratio
 * sipreg / Kamailio; writes OUT.md and OUT.json.
 *
 * usage: node bench/lib/peer-report.mjs LIST SCENARIO TRANSPORT KAM_VARIANT KAM_CHILDREN OUT_BASE
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const [list, scen, transport, kamVariant, kamChildren, outBase] = process.argv.slice(2);
if (!list || !outBase) {
  console.error('usage: peer-report.mjs LIST SCENARIO TRANSPORT KAM_VARIANT KAM_CHILDREN OUT_BASE');
  process.exit(2);
}

/** @typedef {{ target: string, rate: number, rep: number, s: Record<string, any> | null }} Run */

/** @type {Run[]} */
const runs = readFileSync(list, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => {
    const [target = '', rate = '0', rep = '0', file = ''] = l.split(' ');
    const s = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
    return { target, rate: Number(rate), rep: Number(rep), s };
  });

/** @param {Run} r */
function row(r) {
  const s = r.s;
  if (s === null)
    return {
      achieved: null,
      failed: null,
      p50: null,
      p99: null,
      refreshP50: null,
      refreshP99: null,
      us: null,
      sippUs: null,
      serverPct: null,
      boxPct: null,
    };
  const l1 = s.latency_ms?.rtd1 ?? {};
  const l2 = s.latency_ms?.rtd2 ?? {};
  return {
    achieved: s.achieved_regs_per_s,
    failed: s.failed + (s.created - s.successful - s.failed > 0 ? s.created - s.successful - s.failed : 0),
    failures: s.failures,
    p50: l1.p50 ?? null,
    p99: l1.p99 ?? null,
    refreshP50: l2.p50 ?? null,
    refreshP99: l2.p99 ?? null,
    us: s.cpu_us_per_reg?.server ?? null,
    sippUs: s.cpu_us_per_reg?.sipp ?? null,
    serverPct: s.cpu_pct?.server ?? null,
    boxPct: s.cpu_pct?.system_busy ?? null,
  };
}

/** @param {Array<number | null>} xs */
function median(xs) {
  const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  const x = v.length % 2 ? (v[m] ?? 0) : ((v[m - 1] ?? 0) + (v[m] ?? 0)) / 2;
  return Number(x.toFixed(1));
}

/** @param {number | null} a @param {number | null} b */
const ratio = (a, b) => (a === null || b === null || b === 0 ? '-' : (a / b).toFixed(2));
/** @param {unknown} v */
const cell = (v) => (v === null || v === undefined ? '-' : v === 0 ? '<1' : String(v));

const rtd2 = scen === 'refresh' ? 'refresh' : 'auth tx';
const out = [];
out.push(
  `# sipreg vs Kamailio (${kamVariant}, ${kamChildren} children), sipp ${scen} scenario, ${transport}, ${new Date().toISOString()}`,
  '',
  scen === 'refresh'
    ? 'One sipp call = 1 full digest registration + 3 one-round-trip refreshes (same nonce, nc 2..4). µs/call = server CPU-µs (Redis included) per call.'
    : 'One sipp call = 1 full digest registration (REGISTER, 401, REGISTER+Authorization, 200). µs/call = server CPU-µs (Redis included) per registration.',
  'Latencies in ms (sipp resolution 1 ms, 0 shown as <1).',
  '',
  `| target | rate/s | run | achieved/s | failed | p50 | p99 | ${rtd2} p50 | ${rtd2} p99 | server µs/call | sipp µs/call | server CPU % | box CPU % |`,
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
);
for (const r of runs) {
  const x = row(r);
  out.push(
    `| ${r.target} | ${r.rate} | ${r.rep} | ${cell(x.achieved)} | ${x.failed ?? '-'}${x.failures && Object.keys(x.failures).length ? ' ' + JSON.stringify(x.failures) : ''} | ${cell(x.p50)} | ${cell(x.p99)} | ${cell(x.refreshP50)} | ${cell(x.refreshP99)} | ${cell(x.us)} | ${cell(x.sippUs)} | ${cell(x.serverPct)} | ${cell(x.boxPct)} |`,
  );
}
out.push(
  '',
  'Medians per rate, and sipreg / Kamailio (cost: < 1 means sipreg is cheaper; rate: > 1 means sipreg achieved more):',
  '',
);
out.push(
  '| rate/s | sipreg achieved/s | Kamailio achieved/s | ratio | sipreg µs/call | Kamailio µs/call | ratio | sipreg p99 | Kamailio p99 | sipreg failed | Kamailio failed |',
);
out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const summary = [];
for (const rate of [...new Set(runs.map((r) => r.rate))]) {
  const pick = (/** @type {string} */ t) => runs.filter((r) => r.rate === rate && r.target === t).map(row);
  const a = pick('sipreg');
  const k = pick('kamailio');
  const m = {
    rate,
    sipreg: {
      achieved: median(a.map((x) => x.achieved)),
      us: median(a.map((x) => x.us)),
      p99: median(a.map((x) => x.p99)),
      failed: a.reduce((s, x) => s + (x.failed ?? 0), 0),
    },
    kamailio: {
      achieved: median(k.map((x) => x.achieved)),
      us: median(k.map((x) => x.us)),
      p99: median(k.map((x) => x.p99)),
      failed: k.reduce((s, x) => s + (x.failed ?? 0), 0),
    },
  };
  summary.push(m);
  out.push(
    `| ${rate} | ${cell(m.sipreg.achieved)} | ${cell(m.kamailio.achieved)} | ${ratio(m.sipreg.achieved, m.kamailio.achieved)} | ${cell(m.sipreg.us)} | ${cell(m.kamailio.us)} | ${ratio(m.sipreg.us, m.kamailio.us)} | ${cell(m.sipreg.p99)} | ${cell(m.kamailio.p99)} | ${m.sipreg.failed} | ${m.kamailio.failed} |`,
  );
}
const text = out.join('\n') + '\n';
console.log(text);
writeFileSync(`${outBase}.md`, text);
writeFileSync(
  `${outBase}.json`,
  JSON.stringify(
    { scenario: scen, transport, kamailio: { variant: kamVariant, children: Number(kamChildren) }, runs, summary },
    null,
    2,
  ) + '\n',
);
console.log(`results: ${outBase}.md`);
