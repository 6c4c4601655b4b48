/**
 * Bucket upper bounds, in seconds, of every latency the pool records (acquire wait, connection
 * use, connect): fine below a millisecond, where a healthy pool's waits and holds live, and up to
 * ten seconds, past any sensible acquire deadline. Fixed, so a Prometheus histogram or an
 * OpenTelemetry one can use the same bounds and percentiles are comparable across pools.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

const BOUNDS_MS: readonly number[] = LATENCY_BUCKETS_SECONDS.map((seconds) => seconds * 1_000);

/**
 * A latency distribution in the shape `getStats()` reports: plain JSON, cumulative buckets (as
 * Prometheus reads them), and percentile estimates.
 */
export interface LatencySummary {
  /** Observations. */
  readonly count: number;
  /** Their sum, in seconds. */
  readonly sumSeconds: number;
  /** Estimated median, in seconds, interpolated inside its bucket (0 when empty). */
  readonly p50: number;
  /** Estimated 95th percentile, in seconds. */
  readonly p95: number;
  /** Estimated 99th percentile, in seconds. */
  readonly p99: number;
  /**
   * `count` observations at or below `le` seconds, for every finite bound (the `+Inf` bucket is
   * `count` itself), so the summary stays plain JSON.
   */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

/**
 * Counts milliseconds into the fixed buckets. `record()` is on the pool's release path, so it is
 * a plain loop over 14 bounds that stops at the first (most latencies there are under a
 * millisecond: one comparison), two additions and no allocation.
 */
export class LatencyHistogram {
  /** Per bucket, not cumulative; the last slot counts what is above every bound. */
  private readonly counts = new Array<number>(BOUNDS_MS.length + 1).fill(0);
  private total = 0;
  private sumMs = 0;

  get count(): number {
    return this.total;
  }

  record(ms: number): void {
    let index = 0;
    while (index < BOUNDS_MS.length && ms > (BOUNDS_MS[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.total++;
    this.sumMs += ms;
  }

  /**
   * The summary, with `zeroes` more observations of 0 ms counted in (acquires served from idle at
   * once: the pool counts them instead of recording each).
   */
  summary(zeroes = 0): LatencySummary {
    const count = this.total + zeroes;
    const buckets: { le: number; count: number }[] = [];
    let cumulative = 0;
    for (let index = 0; index < BOUNDS_MS.length; index++) {
      cumulative += (this.counts[index] as number) + (index === 0 ? zeroes : 0);
      buckets.push({ le: LATENCY_BUCKETS_SECONDS[index] as number, count: cumulative });
    }
    return {
      count,
      sumSeconds: this.sumMs / 1_000,
      p50: quantile(buckets, count, 0.5),
      p95: quantile(buckets, count, 0.95),
      p99: quantile(buckets, count, 0.99),
      buckets,
    };
  }
}

/**
 * The `fraction` quantile, interpolated linearly inside the bucket that holds it (as
 * Prometheus's `histogram_quantile` does). Past the last bound it is the last bound: the honest
 * answer is "more than 10 s".
 */
function quantile(
  buckets: readonly { readonly le: number; readonly count: number }[],
  count: number,
  fraction: number,
): number {
  if (count === 0) return 0;
  const rank = fraction * count;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      const inBucket = bucket.count - below;
      return inBucket === 0 ? bucket.le : lower + ((bucket.le - lower) * (rank - below)) / inBucket;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  // Beyond the last bound: the honest answer is "more than that".
  return lower;
}
