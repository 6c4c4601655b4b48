// `@enhanced-pool/metrics/prometheus`: the one module that loads prom-client (an optional peer).
export type {
  PrometheusBreakerMetricsOptions,
  PrometheusPoolMetricsOptions,
} from './prometheus-options.js';
export { registerBreakerMetrics } from './register-breaker-metrics.js';
export { registerPoolMetrics } from './register-pool-metrics.js';
