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
const FIRST_BOUND_MS = BOUNDS_MS[0] as number;

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
 * one comparison for the common case (under the first bound), else a short loop over the
 * bounds; a typed array of counts and one sum, no allocation.
 */
export class LatencyHistogram {
  /** Observations at or under the first bound: a field of its own, the common case. */
  private first = 0;
  /** Per bucket above the first, not cumulative; the last slot counts what is above every bound. */
  private readonly counts = new Float64Array(BOUNDS_MS.length + 1);
  private totalMs = 0;

  /** The sum of every observation, in milliseconds. */
  get sumMs(): number {
    return this.totalMs;
  }

  get count(): number {
    let total = this.first;
    for (const count of this.counts) total += count;
    return total;
  }

  record(ms: number): void {
    // Most waits and holds of a healthy pool are under the first bound, and in a busy pool many
    // are exactly 0 (the release reuses the acquire's clock reading): one comparison, one
    // increment, and no floating-point addition for a 0.
    if (ms <= FIRST_BOUND_MS) {
      this.first++;
      if (ms !== 0) this.totalMs += ms;
      return;
    }
    this.totalMs += ms;
    const counts = this.counts;
    let index = 1;
    while (index < BOUNDS_MS.length && ms > (BOUNDS_MS[index] as number)) index++;
    counts[index] = (counts[index] as number) + 1;
  }

  /**
   * The summary, with `zeroes` more observations of 0 ms counted in (acquires served from idle at
   * once: the pool counts them instead of recording each).
   */
  summary(zeroes = 0): LatencySummary {
    const count = this.count + zeroes;
    const buckets: { le: number; count: number }[] = [];
    let cumulative = 0;
    for (let index = 0; index < BOUNDS_MS.length; index++) {
      cumulative += index === 0 ? this.first + zeroes : (this.counts[index] as number);
      buckets.push({ le: LATENCY_BUCKETS_SECONDS[index] as number, count: cumulative });
    }
    return {
      count,
      sumSeconds: this.totalMs / 1_000,
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
