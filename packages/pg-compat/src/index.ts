// The errors callers may want to tell apart, so catching them needs no direct dependency on core.
export {
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  EnhancedPoolError,
  InvalidOptionError,
  InvalidReleaseError,
  PoolClosedError,
  PoolExhaustedError,
} from '@enhanced-pool/pool';
export { Pool } from './pool.js';
export type {
  EnhancedDriverOptions,
  EnhancedOptions,
  MappedPoolOption,
  PoolConfig,
} from './pool-config.js';
