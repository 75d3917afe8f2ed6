/**
 * CPU accounting from /proc: per-process utime+stime (/proc/PID/stat fields 14-15, descendants included, for a
 * server that forks) and the box's busy time (ncpu x wall - idle; the nohz idle counter is the precise one).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // Linux default
}
export const CLK_TCK = clkTck;

/**
 * @param {number} pid
 * @returns {{ ppid: number, ticks: number } | null}
 */
function statOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return null;
  }
}

/**
 * The PIDs and all their live descendants.
 * @param {number[]} roots
 * @returns {number[]}
 */
export function withDescendants(roots) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = statOf(Number(e));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e));
    children.set(st.ppid, list);
  }
  const out = new Set();
  const stack = [...roots];
  while (stack.length > 0) {
    const p = /** @type {number} */ (stack.pop());
    if (out.has(p)) continue;
    out.add(p);
    stack.push(...(children.get(p) ?? []));
  }
  return [...out];
}

/**
 * Sum of utime+stime in clock ticks over the PIDs (a vanished PID counts 0).
 * @param {number[]} pids
 * @returns {number}
 */
export function cpuTicks(pids) {
  let t = 0;
  for (const p of pids) t += statOf(p)?.ticks ?? 0;
  return t;
}

/** @returns {number} idle+iowait ticks of the whole box */
export function idleTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/);
  return Number(f[4]) + Number(f[5]);
}

/**
 * @typedef {object} CpuSnapshot
 * @property {number[]} pids
 * @property {number} server ticks of the watched PIDs
 * @property {number} idle
 * @property {number} wallNs
 * @property {NodeJS.CpuUsage} self  this process (all its threads)
 */

/**
 * @param {number[]} rootPids  server PIDs (descendants are added)
 * @param {CpuSnapshot} [start]  for the end of a window: the same PIDs as at its start
 * @returns {CpuSnapshot}
 */
export function snapshot(rootPids, start) {
  const pids = start ? start.pids : withDescendants(rootPids);
  return {
    pids,
    server: cpuTicks(pids),
    idle: idleTicks(),
    wallNs: Number(process.hrtime.bigint()),
    self: process.cpuUsage(),
  };
}

/**
 * CPU used between two snapshots, in CPU-seconds, plus the window.
 * @param {CpuSnapshot} a
 * @param {CpuSnapshot} b
 * @returns {{ wallS: number, serverS: number, loadgenS: number, boxS: number, ncpu: number }}
 */
export function delta(a, b) {
  const wallS = (b.wallNs - a.wallNs) / 1e9;
  const ncpu = availableParallelism();
  const serverS = (b.server - a.server) / CLK_TCK;
  const loadgenS = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  const boxS = Math.max(0, ncpu * wallS - (b.idle - a.idle) / CLK_TCK);
  return { wallS, serverS, loadgenS, boxS, ncpu };
}
