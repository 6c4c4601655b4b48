export type {
  BreakerStateStore,
  BreakerStoreCallOptions,
  BreakerStoreOperation,
  BreakerStoreSubscription,
  ProbeLease,
  SharedBreakerState,
} from './breaker-state-store.js';
export {
  type CircuitBreaker,
  type CircuitBreakerMetrics,
  createCircuitBreaker,
  type ExecuteOptions,
  type ExecutionContext,
  type Permit,
} from './circuit-breaker.js';
export { type Clock, systemClock } from './clock.js';
export {
  BreakerStoreError,
  BreakerStoreTimeoutError,
  BrokenCircuitError,
  CircuitBreakerError,
  type CircuitBreakerErrorCode,
  InvalidBreakerOptionError,
  isBrokenCircuitError,
  PermitAlreadyReportedError,
  type RejectingState,
} from './errors.js';
export type {
  CircuitBreakerEvents,
  CircuitBreakerListener,
  Disposable,
  OutcomeEvent,
  RejectedEvent,
  StateChangeEvent,
  StateChangeReason,
  StoreErrorEvent,
} from './events.js';
export {
  type ExponentialBackoffOptions,
  exponentialBackoff,
  type OpenDurationFunction,
} from './exponential-backoff.js';
export {
  type CallOutcome,
  type CircuitBreakerOptions,
  type Classification,
  defaultClassify,
  type ResolvedCircuitBreakerOptions,
  type ResolvedWindowOptions,
  resolveCircuitBreakerOptions,
  type WindowOptions,
} from './options.js';
export type {
  CircuitBreakerSnapshot,
  CircuitState,
  ConsecutiveWindowSnapshot,
  CountWindowSnapshot,
  RecordedCall,
  TimeWindowSnapshot,
  WindowSnapshot,
} from './snapshot.js';
