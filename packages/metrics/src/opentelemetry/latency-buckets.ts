/**
 * Explicit histogram bucket bounds, in seconds, advised for the pool's three latency histograms.
 * The same bounds `pool.getStats()` and the Prometheus exporter use, so an OpenTelemetry
 * backend's percentiles agree with theirs; the SDK's default bounds (0 to 10 000, made for
 * milliseconds) would put every sub-second latency in the first two buckets. The pool package's
 * constant is not imported: this package depends on `core` only.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);
