import type { BreakerStoreOperation } from './breaker-state-store.js';

/**
 * Every stable error code the circuit breaker throws or returns. Codes are part of the public
 * contract: match on `error.code`, never on messages.
 */
export type CircuitBreakerErrorCode =
  | 'BROKEN_CIRCUIT'
  | 'INVALID_OPTION'
  | 'PERMIT_ALREADY_REPORTED'
  | 'STORE_FAILED'
  | 'STORE_TIMEOUT';

/** The states in which a breaker refuses a call. */
export type RejectingState = 'open' | 'half-open' | 'isolated';

// The same registry symbol as `@enhanced-pool/core`'s EnhancedPoolError, so that
// `EnhancedPoolError.isInstance()` recognises breaker errors without this package importing core.
const BRAND: unique symbol = Symbol.for('@enhanced-pool/error') as never;

/**
 * Base class of every error from `@enhanced-pool/circuit-breaker`.
 *
 * `instanceof` fails when two copies of the package are installed, so each error carries the
 * enhanced-pool `Symbol.for` brand; the static `isInstance()` checks that brand and, on a
 * subclass, the code. Core's `EnhancedPoolError.isInstance()` accepts these errors too.
 */
export class CircuitBreakerError extends Error {
  /** Stable, machine-readable code; see {@link CircuitBreakerErrorCode}. */
  readonly code: CircuitBreakerErrorCode;
  /** @internal brand checked by `isInstance()` across duplicate installs. */
  readonly [BRAND] = true;

  constructor(code: CircuitBreakerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any breaker error (and any enhanced-pool error), from any installed copy. */
  static isInstance(error: unknown): error is CircuitBreakerError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [BRAND]?: unknown })[BRAND] === true
    );
  }
}

function hasCode(error: unknown, code: CircuitBreakerErrorCode): boolean {
  return CircuitBreakerError.isInstance(error) && error.code === code;
}

/** Formats a value for an error message without dumping large or secret objects. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * The breaker refused a call: it is open, isolated, or half-open with every trial slot taken.
 * `execute()` rejects with it; `tryAcquire()` returns it (creating it is the only cost of a
 * rejection, and returning it keeps a pool's hot path free of try/catch).
 */
export class BrokenCircuitError extends CircuitBreakerError {
  /** The state that refused the call. */
  readonly state: RejectingState;
  /**
   * Milliseconds until the breaker may admit a call again: the rest of the open period, or, when
   * half-open, until the earliest trial's probe deadline. `Infinity` while isolated: no amount
   * of waiting helps until the isolation is lifted (check `Number.isFinite` before scheduling).
   */
  readonly retryAfterMs: number;
  /** The last error that counted as a failure, if any; also the `cause`. */
  readonly lastFailure: unknown;

  constructor(
    state: RejectingState,
    retryAfterMs: number,
    lastFailure: unknown,
    options?: { breakerName?: string; sharedProbe?: boolean },
  ) {
    const circuit = options?.breakerName ? `Circuit "${options.breakerName}"` : 'Circuit';
    let message: string;
    if (state === 'isolated') message = `${circuit} is isolated; calls are refused until released`;
    else if (state === 'half-open' && options?.sharedProbe === true) {
      message = `${circuit} is half-open and its trial calls run in another instance; retry after ${Math.ceil(retryAfterMs)} ms`;
    } else if (state === 'half-open') {
      message = `${circuit} is half-open and its trial calls are in flight; retry after ${Math.ceil(retryAfterMs)} ms`;
    } else message = `${circuit} is open; retry after ${Math.ceil(retryAfterMs)} ms`;
    super('BROKEN_CIRCUIT', message, { cause: lastFailure });
    this.state = state;
    this.retryAfterMs = retryAfterMs;
    this.lastFailure = lastFailure;
  }

  static override isInstance(error: unknown): error is BrokenCircuitError {
    return hasCode(error, 'BROKEN_CIRCUIT');
  }
}

/** True when `error` is a {@link BrokenCircuitError} from any installed copy of this package. */
export function isBrokenCircuitError(error: unknown): error is BrokenCircuitError {
  return hasCode(error, 'BROKEN_CIRCUIT');
}

/**
 * An option (or `initialState` snapshot field) is missing, of the wrong type, or out of range.
 * Thrown once, by `resolveCircuitBreakerOptions()` at construction. Same code and message shape
 * as core's `InvalidOptionError`, so one `catch` handles both.
 */
export class InvalidBreakerOptionError extends CircuitBreakerError {
  /** The option's path, e.g. `window.size`. */
  readonly option: string;
  /** The value that was given. */
  readonly value: unknown;
  /** The allowed range in words, e.g. `an integer ≥ 1`. */
  readonly allowed: string;

  constructor(option: string, value: unknown, allowed: string) {
    super(
      'INVALID_OPTION',
      `Invalid option "${option}": got ${describeValue(value)}, expected ${allowed}`,
    );
    this.option = option;
    this.value = value;
    this.allowed = allowed;
  }

  static override isInstance(error: unknown): error is InvalidBreakerOptionError {
    return hasCode(error, 'INVALID_OPTION');
  }
}

/**
 * A permit's outcome was reported a second time (e.g. `success()` then `failure()`). The second
 * report is refused and changes nothing; the error exists to surface the caller's bug. A report
 * on a trial permit the breaker already settled (its probe deadline passed) is not this error: it
 * is accepted and ignored, because the caller could not have known.
 */
export class PermitAlreadyReportedError extends CircuitBreakerError {
  constructor(options?: { breakerName?: string }) {
    const circuit = options?.breakerName ? ` of circuit "${options.breakerName}"` : '';
    super('PERMIT_ALREADY_REPORTED', `A permit${circuit} reported its outcome twice`);
  }

  static override isInstance(error: unknown): error is PermitAlreadyReportedError {
    return hasCode(error, 'PERMIT_ALREADY_REPORTED');
  }
}

/**
 * A shared-state store operation failed: the store rejected, threw, or answered with data that
 * isn't a breaker state. Never thrown to callers: the breaker keeps working on its local state
 * and reports this through its `storeError` event. `cause` is the store's own error.
 */
export class BreakerStoreError extends CircuitBreakerError {
  /** Which store operation failed. */
  readonly operation: BreakerStoreOperation;

  constructor(
    operation: BreakerStoreOperation,
    message: string,
    options?: { cause?: unknown; breakerName?: string; code?: 'STORE_FAILED' | 'STORE_TIMEOUT' },
  ) {
    const circuit = options?.breakerName ? ` for circuit "${options.breakerName}"` : '';
    super(
      options?.code ?? 'STORE_FAILED',
      `Breaker store ${operation}${circuit} failed: ${message}`,
      {
        cause: options?.cause,
      },
    );
    this.operation = operation;
  }

  /** True for a failed or timed-out store operation, from any installed copy. */
  static override isInstance(error: unknown): error is BreakerStoreError {
    return hasCode(error, 'STORE_FAILED') || hasCode(error, 'STORE_TIMEOUT');
  }
}

/**
 * A shared-state store operation did not settle within `storeTimeoutMs`. The breaker stopped
 * waiting (and aborted the operation's signal) and went on with its local state.
 */
export class BreakerStoreTimeoutError extends BreakerStoreError {
  /** The bound that was exceeded (`storeTimeoutMs`). */
  readonly timeoutMs: number;

  constructor(
    operation: BreakerStoreOperation,
    timeoutMs: number,
    options?: { breakerName?: string },
  ) {
    super(operation, `no answer within ${timeoutMs} ms`, {
      breakerName: options?.breakerName,
      code: 'STORE_TIMEOUT',
    });
    this.timeoutMs = timeoutMs;
  }

  static override isInstance(error: unknown): error is BreakerStoreTimeoutError {
    return hasCode(error, 'STORE_TIMEOUT');
  }
}
