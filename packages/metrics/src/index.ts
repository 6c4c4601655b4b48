// The root entry loads no peer dependency: the shapes the exporters read, for typing your own.
// Exporters: `@enhanced-pool/metrics/prometheus` and `@enhanced-pool/metrics/opentelemetry`.
export type {
  BreakerMetricsSource,
  LatencySummary,
  PoolMetricsEvents,
  PoolMetricsSource,
  PoolSnapshotForMetrics,
  PoolStatsForMetrics,
  QueryStatsForMetrics,
} from './sources.js';
