import type { LatencySummary } from '../sources.js';

/** One rendered line of a histogram: `<name>_bucket{…,le="…"}`, `<name>_sum` or `<name>_count`. */
export interface HistogramSample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** What `get()` hands the registry: the shape prom-client's own `Histogram.get()` returns. */
export interface HistogramValues {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: HistogramSample[];
}

/**
 * A histogram metric object prom-client's `Registry` renders (`# TYPE … histogram`, with the
 * `_bucket`/`_sum`/`_count` lines it writes for its own histograms). The registry reads only
 * `name`, `type`, `get()` and, from `resetMetrics()`, `reset()`.
 */
export interface ScrapedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<HistogramValues>;
  /** Nothing to reset: the figures belong to the sources. */
  reset(): void;
}

/** Emits one source's distribution under its labels. */
export type EmitSummary<TLabel extends string> = (
  labels: Readonly<Record<TLabel, string>>,
  summary: LatencySummary,
) => void;

export interface ScrapedHistogramConfig<TLabel extends string> {
  /** The full metric name, prefix included, without `_bucket`. */
  readonly name: string;
  /** What the histogram measures, for `# HELP`. */
  readonly help: string;
  /** Emits every source's summary, once per scrape. */
  readonly collect: (emit: EmitSummary<TLabel>) => void;
}

/**
 * A histogram rendered from summaries the sources already keep. prom-client's `Histogram` can only
 * be fed one `observe()` per observation, and the pool has counted its latencies into buckets
 * already; so this object hands the registry the buckets as they are, at scrape time.
 */
export function createScrapedHistogram<TLabel extends string>(
  config: ScrapedHistogramConfig<TLabel>,
): ScrapedHistogram {
  const { name, help, collect } = config;
  const bucketName = `${name}_bucket`;
  const sumName = `${name}_sum`;
  const countName = `${name}_count`;
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: HistogramSample[] = [];
      collect((labels, summary) => {
        let infinite = false;
        for (const bucket of summary.buckets) {
          infinite = bucket.le === Number.POSITIVE_INFINITY;
          values.push({
            metricName: bucketName,
            labels: { ...labels, le: formatBound(bucket.le) },
            value: bucket.count,
          });
        }
        // Prometheus requires the +Inf bucket; it holds every observation.
        if (!infinite) {
          values.push({
            metricName: bucketName,
            labels: { ...labels, le: '+Inf' },
            value: summary.count,
          });
        }
        values.push({ metricName: sumName, labels, value: summary.sumSeconds });
        values.push({ metricName: countName, labels, value: summary.count });
      });
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    reset() {},
  };
}

/** `le` as Prometheus writes it: the number, or `+Inf` (never JavaScript's `Infinity`). */
function formatBound(le: number): string {
  return le === Number.POSITIVE_INFINITY ? '+Inf' : String(le);
}
