export { type Clock, systemClock, type TimerHandle, unrefTimer } from './clock.js';
export { type Disposable, toDisposable } from './disposable.js';
export type {
  ConnectionOf,
  Driver,
  DriverCallOptions,
  DriverDescription,
  FleetSlotBudget,
  FleetSlotClaim,
  FleetSlotCount,
  FleetSlots,
  FleetSlotsCapable,
} from './driver.js';
export {
  ERROR_REASONS,
  type ErrorReason,
  isConnectionFatalReason,
  isRetryableReason,
  isUnreachableReason,
} from './error-reason.js';
export {
  type AcquireTimeoutDetails,
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  EnhancedPoolError,
  type EnhancedPoolErrorCode,
  InvalidOptionError,
  InvalidReleaseError,
  type InvalidReleaseReason,
  PoolClosedError,
  PoolExhaustedError,
  ValidationError,
} from './errors.js';
export { type EventMap, type Listener, TypedEmitter, type TypedEvents } from './events.js';
export { type LogContext, type Logger, type LogMethod, noopLogger } from './logger.js';
export {
  booleanOption,
  clockOption,
  loggerOption,
  type NumberRange,
  numberOption,
  stringOption,
} from './options.js';
export { redactSecrets, redactValue } from './redact.js';
