import type { ErrorReason } from './error-reason.js';
import { redactSecrets } from './redact.js';

/**
 * Every stable error code in the enhanced-pool family. Codes are part of the public contract:
 * match on `error.code`, never on messages.
 */
export type EnhancedPoolErrorCode =
  | 'INVALID_OPTION'
  | 'ACQUIRE_TIMEOUT'
  | 'POOL_EXHAUSTED'
  | 'POOL_CLOSED'
  | 'INVALID_RELEASE'
  | 'CONNECT_FAILED'
  | 'CIRCUIT_OPEN'
  | 'VALIDATION_FAILED'
  // Thrown by the standalone circuit breaker, which carries the same brand but can't import core.
  | 'BROKEN_CIRCUIT'
  | 'PERMIT_ALREADY_REPORTED'
  // pool.query() refused a statement that would leave session state on a shared connection.
  | 'STATEMENT_REFUSED';

const BRAND: unique symbol = Symbol.for('@enhanced-pool/error') as never;

/**
 * Base class of every error thrown by enhanced-pool packages.
 *
 * `instanceof` fails when two copies of a package are installed (a common monorepo accident),
 * so each error carries a `Symbol.for` brand and the static `isInstance()` checks that brand and,
 * on a subclass, the code.
 */
export class EnhancedPoolError extends Error {
  /** Stable, machine-readable code; see {@link EnhancedPoolErrorCode}. */
  readonly code: EnhancedPoolErrorCode;
  /** @internal brand checked by `isInstance()` across duplicate installs. */
  readonly [BRAND] = true;

  constructor(code: EnhancedPoolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any enhanced-pool error, from this install or another copy of the package. */
  static isInstance(error: unknown): error is EnhancedPoolError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [BRAND]?: unknown })[BRAND] === true
    );
  }
}

function hasCode<T extends EnhancedPoolError>(
  error: unknown,
  code: EnhancedPoolErrorCode,
): error is T {
  return EnhancedPoolError.isInstance(error) && error.code === code;
}

/**
 * The cause's message for our own message, with credentials removed: a client library's error
 * can quote a connection string, and our messages end up in logs.
 */
function causeDetail(cause: unknown): string {
  return cause instanceof Error ? `: ${redactSecrets(cause.message)}` : '';
}

/** Formats an option value for an error message without dumping large or secret objects. */
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
 * An option is missing, of the wrong type, or out of range. Thrown once, at construction, by
 * each package's `resolve…Options()`.
 */
export class InvalidOptionError extends EnhancedPoolError {
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

  static override isInstance(error: unknown): error is InvalidOptionError {
    return hasCode(error, 'INVALID_OPTION');
  }
}

/** Figures describing the pool at the moment an acquire gave up. */
export interface AcquireTimeoutDetails {
  readonly waitedMs: number;
  readonly poolSize: number;
  readonly active: number;
  readonly pending: number;
}

/**
 * `acquire()` did not get a connection within `acquireTimeoutMs` (queue wait, connect and
 * validation together). The message carries the figures needed to diagnose exhaustion.
 */
export class AcquireTimeoutError extends EnhancedPoolError implements AcquireTimeoutDetails {
  readonly waitedMs: number;
  readonly poolSize: number;
  readonly active: number;
  readonly pending: number;

  constructor(details: AcquireTimeoutDetails, options?: { cause?: unknown; poolName?: string }) {
    const pool = options?.poolName ? `Pool "${options.poolName}": a` : 'A';
    super(
      'ACQUIRE_TIMEOUT',
      `${pool}cquire timed out after waiting ${Math.round(details.waitedMs)} ms ` +
        `(pool size ${details.poolSize}, active ${details.active}, pending ${details.pending})`,
      options,
    );
    this.waitedMs = details.waitedMs;
    this.poolSize = details.poolSize;
    this.active = details.active;
    this.pending = details.pending;
  }

  static override isInstance(error: unknown): error is AcquireTimeoutError {
    return hasCode(error, 'ACQUIRE_TIMEOUT');
  }
}

/** The wait queue is full (`maxWaiting`): the acquire fails at once instead of queueing. */
export class PoolExhaustedError extends EnhancedPoolError {
  readonly maxWaiting: number;

  constructor(maxWaiting: number, options?: { poolName?: string }) {
    const pool = options?.poolName ? `Pool "${options.poolName}"` : 'Pool';
    super(
      'POOL_EXHAUSTED',
      `${pool} exhausted: ${maxWaiting} callers already waiting (maxWaiting), failing fast`,
    );
    this.maxWaiting = maxWaiting;
  }

  static override isInstance(error: unknown): error is PoolExhaustedError {
    return hasCode(error, 'POOL_EXHAUSTED');
  }
}

/** The pool is closing or closed; no connection will be handed out. */
export class PoolClosedError extends EnhancedPoolError {
  constructor(options?: { poolName?: string }) {
    const pool = options?.poolName ? `Pool "${options.poolName}"` : 'Pool';
    super('POOL_CLOSED', `${pool} is closed`);
  }

  static override isInstance(error: unknown): error is PoolClosedError {
    return hasCode(error, 'POOL_CLOSED');
  }
}

/** Why a release (or use of a lease) was refused. */
export type InvalidReleaseReason = 'already-released' | 'foreign-connection' | 'use-after-release';

/**
 * A release the pool refuses: twice, a connection it does not own, or a lease used after it was
 * released. The pool's accounting is unchanged when this is thrown.
 */
export class InvalidReleaseError extends EnhancedPoolError {
  readonly reason: InvalidReleaseReason;

  constructor(reason: InvalidReleaseReason, message: string) {
    super('INVALID_RELEASE', message);
    this.reason = reason;
  }

  static override isInstance(error: unknown): error is InvalidReleaseError {
    return hasCode(error, 'INVALID_RELEASE');
  }
}

/** Opening a physical connection failed. `reason` is the driver's classification of `cause`. */
export class ConnectError extends EnhancedPoolError {
  readonly reason: ErrorReason;

  constructor(reason: ErrorReason, cause: unknown, options?: { driverName?: string }) {
    const driver = options?.driverName ? ` (${options.driverName})` : '';
    const detail = causeDetail(cause);
    super('CONNECT_FAILED', `Could not connect${driver}, reason "${reason}"${detail}`, { cause });
    this.reason = reason;
  }

  static override isInstance(error: unknown): error is ConnectError {
    return hasCode(error, 'CONNECT_FAILED');
  }
}

/**
 * The pool's connection breaker is open: the database is considered unreachable, so a caller
 * that needs a new connection fails at once instead of waiting for a doomed connect.
 */
export class CircuitOpenError extends EnhancedPoolError {
  /** Milliseconds until the breaker will let a probe through; 0 when unknown or imminent. */
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number, options?: { cause?: unknown; poolName?: string }) {
    const pool = options?.poolName ? `Pool "${options.poolName}": c` : 'C';
    // An isolated breaker has no scheduled end: say so rather than "retry after Infinity ms".
    const retry = Number.isFinite(retryAfterMs)
      ? `retry after ${Math.max(0, Math.round(retryAfterMs))} ms`
      : 'it stays open until it is reset';
    super('CIRCUIT_OPEN', `${pool}onnection circuit is open; ${retry}`, options);
    this.retryAfterMs = retryAfterMs;
  }

  static override isInstance(error: unknown): error is CircuitOpenError {
    return hasCode(error, 'CIRCUIT_OPEN');
  }
}

/** A connection failed the driver's validation; the pool discards it and replaces it. */
export class ValidationError extends EnhancedPoolError {
  readonly reason: ErrorReason;

  constructor(reason: ErrorReason, cause: unknown) {
    const detail = causeDetail(cause);
    super('VALIDATION_FAILED', `Connection failed validation, reason "${reason}"${detail}`, {
      cause,
    });
    this.reason = reason;
  }

  static override isInstance(error: unknown): error is ValidationError {
    return hasCode(error, 'VALIDATION_FAILED');
  }
}
