/** The part of the pool's `LatencySummary` an interval's percentiles are computed from. */
export interface CumulativeHistogram {
  readonly count: number;
  readonly sumSeconds: number;
  /** Observations at or below `le` seconds, for every finite bound, in increasing order. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

/** Percentiles of the observations recorded between two readings of a histogram. */
export interface IntervalPercentiles {
  /** Observations in the interval. */
  readonly count: number;
  /** Milliseconds; `null` when nothing was observed. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/**
 * The pool's wait histogram is cumulative since it started, so its own p99 barely moves once
 * it holds a million leases. The difference of two readings is the histogram of what happened
 * between them; its percentiles, interpolated inside their bucket like the pool's, show an
 * outage's waits the second they happen.
 */
export function intervalPercentiles(
  before: CumulativeHistogram | undefined,
  after: CumulativeHistogram,
): IntervalPercentiles {
  const count = after.count - (before?.count ?? 0);
  if (count <= 0) return { count: 0, p50Ms: null, p99Ms: null };
  const deltas = after.buckets.map((bucket, index) => ({
    le: bucket.le,
    count: bucket.count - (before?.buckets[index]?.count ?? 0),
  }));
  const quantile = (q: number): number => {
    const rank = q * count;
    let lower = 0;
    let below = 0;
    for (const bucket of deltas) {
      if (bucket.count >= rank) {
        const inBucket = bucket.count - below;
        const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
        return (lower + (bucket.le - lower) * fraction) * 1_000;
      }
      lower = bucket.le;
      below = bucket.count;
    }
    // Above the last finite bound: report the bound, the most the histogram can tell.
    return lower * 1_000;
  };
  return { count, p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}
