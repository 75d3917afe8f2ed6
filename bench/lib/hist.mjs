/**
 * Latency histogram with ~1 % relative precision (log buckets), mergeable across worker threads, in microseconds.
 * Fixed size (values above 120 s land in the last bucket), so memory does not grow with the run's length.
 */
const GROWTH = 1.01;
const LOG_G = Math.log(GROWTH);
export const HIST_BUCKETS = Math.ceil(Math.log(120e6) / LOG_G) + 1;

/** @returns {Float64Array} */
export function newHist() {
  return new Float64Array(HIST_BUCKETS);
}

/**
 * @param {Float64Array} h
 * @param {number} us
 */
export function record(h, us) {
  const i = us <= 1 ? 0 : Math.min(HIST_BUCKETS - 1, Math.floor(Math.log(us) / LOG_G));
  h[i] = (h[i] ?? 0) + 1;
}

/**
 * @param {Float64Array} into
 * @param {ArrayLike<number>} from
 */
export function merge(into, from) {
  for (let i = 0; i < HIST_BUCKETS; i++) into[i] = (into[i] ?? 0) + (from[i] ?? 0);
}

/**
 * @param {Float64Array} h
 * @returns {number}
 */
export function count(h) {
  let n = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) n += h[i] ?? 0;
  return n;
}

/**
 * Quantile in milliseconds (bucket midpoint); null when empty.
 * @param {Float64Array} h
 * @param {number} q  0..1
 * @returns {number | null}
 */
export function quantileMs(h, q) {
  const n = count(h);
  if (n === 0) return null;
  const target = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    seen += h[i] ?? 0;
    if (seen >= target) return (GROWTH ** i * Math.sqrt(GROWTH)) / 1000;
  }
  return null;
}

/**
 * @param {Float64Array} h
 * @returns {{ n: number, p50: number | null, p95: number | null, p99: number | null, max: number | null }}
 */
export function summary(h) {
  return {
    n: count(h),
    p50: quantileMs(h, 0.5),
    p95: quantileMs(h, 0.95),
    p99: quantileMs(h, 0.99),
    max: quantileMs(h, 1),
  };
}
