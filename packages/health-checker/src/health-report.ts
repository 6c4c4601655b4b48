import type { ErrorReason } from '@enhanced-pool/core';

/** Which step of a run an error came from. */
export type HealthCheckStep = 'validation' | 'keepalive' | 'fill' | 'run';

/**
 * The last error a run met, safe to log or serve on a status page: the message went through
 * `redactSecrets`, and the original error object is not kept (its `cause` chain or fields could
 * hold a connection string).
 */
export interface HealthCheckFailure {
  /** The error's message with passwords in URLs and `password=` pairs replaced by `***`. */
  readonly message: string;
  /** The driver's classification, or `timeout` when the checker's deadline expired. */
  readonly reason: ErrorReason;
  readonly during: HealthCheckStep;
  /** The connection involved, for validation and keepalive failures. */
  readonly connectionId?: string | number;
}

/**
 * The outcome of one health-check run: what a status endpoint or an alert needs. All times are
 * on the checker's clock.
 */
export interface HealthReport {
  /** False when the pool holds fewer than `minSize` connections, the breaker is open, filling failed, or the run was cut short. */
  readonly healthy: boolean;
  /** Why it is unhealthy, in words; empty when healthy. */
  readonly reasons: readonly string[];
  readonly startedAt: number;
  readonly durationMs: number;
  /** Round trips made (validations plus keepalive pings). */
  readonly checked: number;
  /** Of `checked`, the pings made only because the connection had been silent for `keepaliveMs`. */
  readonly keepalives: number;
  /** Validations or pings that failed or timed out; each such connection was destroyed. */
  readonly failed: number;
  /** Idle connections the driver already knew were dead (`isBroken`), destroyed without a round trip. */
  readonly broken: number;
  /** Idle connections past their maximum lifetime, destroyed. */
  readonly expired: number;
  /** Connections opened to bring the pool back to `minSize`. */
  readonly replaced: number;
  /** The connection breaker's state after the run, when the pool has a breaker. */
  readonly breakerState: string | undefined;
  /** Pool size after the run. */
  readonly size: number;
  readonly minSize: number;
  /** The last error of this run, secret-free; `undefined` when nothing failed. */
  readonly lastError: HealthCheckFailure | undefined;
}
