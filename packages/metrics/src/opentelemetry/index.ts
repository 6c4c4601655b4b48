// `@enhanced-pool/metrics/opentelemetry`: the one module that loads `@opentelemetry/api` (the
// API only, as a library should; the application picks and configures the SDK).
export { instrumentBreaker } from './instrument-breaker.js';
export type { InstrumentBreakerOptions } from './instrument-breaker-options.js';
export {
  instrumentPool,
  METRIC_QUERY_IN_FLIGHT,
  METRIC_QUERY_QUEUED,
  METRIC_QUERY_SHARED_CONNECTIONS,
} from './instrument-pool.js';
