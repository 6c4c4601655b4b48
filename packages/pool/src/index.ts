// The errors the pool throws, so catching them needs no direct dependency on core.
export {
  AcquireTimeoutError,
  ConnectError,
  EnhancedPoolError,
  type EnhancedPoolErrorCode,
  InvalidOptionError,
  InvalidReleaseError,
  type InvalidReleaseReason,
  PoolClosedError,
  PoolExhaustedError,
  ValidationError,
} from '@enhanced-pool/core';
export { createPool, EnhancedConnectionPool } from './enhanced-connection-pool.js';
export type { Lease } from './lease.js';
export type {
  AcquireOptions,
  CloseOptions,
  Pool,
  ReadyOptions,
  WithConnectionContext,
} from './pool.js';
export { DESTROY_REASONS, type DestroyReason, type PoolEvents } from './pool-events.js';
export {
  type PoolOptions,
  type ResolvedPoolOptions,
  resolvePoolOptions,
} from './pool-options.js';
export type { PoolStats } from './pool-stats.js';
