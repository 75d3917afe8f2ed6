/**
 * Per-source-address flood guard (what Kamailio's pike module does): a token bucket per address, refilled at
 * `ratePerSec` up to `burst`. Checked before parsing, so a flood costs one Map lookup per datagram. The table is
 * bounded: idle buckets are swept, and at the cap the oldest entries go.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly exempt: (address: string) => boolean = () => false,
    private readonly maxEntries = 100_000,
  ) {}

  admit(address: string, now: number): boolean {
    let b = this.buckets.get(address);
    if (b === undefined) {
      if (this.exempt(address)) return true;
      if (this.buckets.size >= this.maxEntries) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(address, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.ratePerSec) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private sweep(now: number): void {
    const fullAfterMs = (this.burst / this.ratePerSec) * 1000;
    for (const [address, b] of this.buckets) {
      if (now - b.at >= fullAfterMs || this.buckets.size >= this.maxEntries) this.buckets.delete(address);
      else break;
    }
  }
}
