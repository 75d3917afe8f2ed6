/** The figures table printed at the end of a bench run (Markdown, so it can be pasted into docs). */

/**
 * @param {Array<Record<string, any>>} rows  runLoad() figures (+ store)
 */
export function printTable(rows) {
  const head = [
    'store',
    'transport',
    'mode',
    'target/s',
    'achieved/s',
    'ok',
    'failed',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'server CPU %',
    'server µs/reg',
    'loadgen µs/reg',
    'box CPU %',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const fails = Object.entries(r.failures ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const cells = [
      r.store ?? '',
      r.transport,
      r.mode,
      r.targetRate,
      r.achievedRate,
      r.success,
      r.failed + (fails ? ` (${fails})` : '') + (r.notStarted > 0 ? ` +${r.notStarted} not started` : ''),
      r.latencyMs.p50,
      r.latencyMs.p95,
      r.latencyMs.p99,
      r.latencyMs.max,
      r.cpu.serverPct,
      r.cpu.serverUsPerReg ?? '-',
      r.cpu.loadgenUsPerReg ?? '-',
      `${r.cpu.boxPct}/${r.cpu.ncpu * 100}`,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  console.log(lines.join('\n'));
}
