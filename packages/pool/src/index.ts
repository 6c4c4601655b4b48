// The errors the pool throws, so catching them needs no direct dependency on core.

// The types of what the pool hands out from its siblings (the breaker, health reports).
export type {
  CircuitBreaker,
  CircuitBreakerOptions,
  CircuitState,
} from '@enhanced-pool/circuit-breaker';
export {
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  EnhancedPoolError,
  type EnhancedPoolErrorCode,
  type ErrorReason,
  InvalidOptionError,
  InvalidReleaseError,
  type InvalidReleaseReason,
  PoolClosedError,
  PoolExhaustedError,
  ValidationError,
} from '@enhanced-pool/core';
export type { HealthReport, Readiness } from '@enhanced-pool/health-checker';
export type {
  ConnectionType,
  ConnectionTypeOptions,
  ConnectionTypePoolOptions,
  DirectConnectionParams,
  SupabaseConnectionParams,
  SupabaseHealthCheckParams,
} from './connection-type.js';
export { createPool, EnhancedConnectionPool } from './enhanced-connection-pool.js';
export type { FleetBudgetStats } from './fleet-budget.js';
export { FleetBudgetUnsupportedError } from './fleet-budget-error.js';
export type { FleetBudgetOptions, ResolvedFleetBudget } from './fleet-budget-options.js';
export { LATENCY_BUCKETS_SECONDS, type LatencySummary } from './latency-histogram.js';
export type { Lease } from './lease.js';
export type {
  AcquireOptions,
  CloseOptions,
  Pool,
  QueryOptions,
  ReadyOptions,
  RunHealthCheckOptions,
  WithConnectionContext,
  WithConnectionOptions,
} from './pool.js';
export { DESTROY_REASONS, type DestroyReason, type PoolEvents } from './pool-events.js';
export type {
  AdaptiveSizingOptions,
  ConnectBackoffOptions,
  PoolOptions,
  QueryPoolOptions,
  ResolvedConnectBackoff,
  ResolvedPoolOptions,
} from './pool-options.js';
export type { PoolStats } from './pool-stats.js';
export type { QueryStats } from './query-stats.js';
export { resolvePoolOptions } from './resolve-pool-options.js';
export type { ResolvedQueryPoolOptions } from './shared-query-options.js';
export {
  StatementRefusedError,
  type StatementRefusedReason,
} from './statement-guard-error.js';
