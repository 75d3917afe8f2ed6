/**
 * Counters and histograms for the per-message path. prom-client's own hash the label object on every update (a
 * child from labels() does too), which showed as about 5% of a registration's CPU in profiles. These keep one slot
 * per label set, found once by the caller, and an update is a plain number change. They register in a prom-client
 * Registry like any metric (it calls get() at scrape time), so rendering, Node's default metrics and worker-mode
 * aggregation stay prom-client's.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string | number>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface MetricJson {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

abstract class FastMetric<Slot> {
  readonly aggregator = 'sum';
  private readonly slots = new Map<string, { labels: Labels; slot: Slot }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // prom-client's registry needs only name and get() of a metric.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract newSlot(): Slot;

  /** The slot of one label set (values in the order of the label names); keep it, updates are then free. */
  child(...values: string[]): Slot {
    const key = values.join('\u0000');
    let entry = this.slots.get(key);
    if (entry === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      entry = { labels, slot: this.newSlot() };
      this.slots.set(key, entry);
    }
    return entry.slot;
  }

  protected entries(): Iterable<{ labels: Labels; slot: Slot }> {
    return this.slots.values();
  }

  reset(): void {
    this.slots.clear();
  }
}

export class CounterSlot {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class FastCounter extends FastMetric<CounterSlot> {
  protected newSlot(): CounterSlot {
    return new CounterSlot();
  }

  get(): MetricJson {
    const values = [...this.entries()].map(({ labels, slot }) => ({ value: slot.value, labels }));
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: this.aggregator };
  }
}

export class HistogramSlot {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= (b[i] as number)) {
        (this.counts[i] as number)++;
        return;
      }
    }
  }
}

export class FastHistogram extends FastMetric<HistogramSlot> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  protected newSlot(): HistogramSlot {
    return new HistogramSlot(this.buckets);
  }

  /** Cumulative buckets, +Inf, _sum and _count, as the Prometheus text format wants them. */
  get(): MetricJson {
    const values: Sample[] = [];
    for (const { labels, slot } of this.entries()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += slot.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: slot.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: slot.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: slot.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: this.aggregator };
  }
}
