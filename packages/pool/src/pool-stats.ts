import type { CircuitState } from '@enhanced-pool/circuit-breaker';
import type { ErrorReason } from '@enhanced-pool/core';
import type { FleetBudgetStats } from './fleet-budget.js';
import type { LatencySummary } from './latency-histogram.js';
import type { DestroyReason } from './pool-events.js';

/**
 * A snapshot of the pool, built in O(1) from counters (never by walking connections). Gauges
 * describe now; counters only grow from construction on.
 */
export interface PoolStats {
  readonly name: string;
  /** `open`, `closing` (close() called, waiting for leases) or `closed`. */
  readonly state: 'open' | 'closing' | 'closed';
  /** Open connections the pool holds: idle + active. Excludes connects in flight. */
  readonly poolSize: number;
  /** Connections waiting in the pool, ready to hand out. */
  readonly idleConnections: number;
  /** Connections leased, being validated or reset around a lease, or under a health check. */
  readonly activeConnections: number;
  /** Of `activeConnections`, those the health checker is validating or pinging. */
  readonly healthChecking: number;
  /** Connects in flight; they count toward `maxSize`. */
  readonly connecting: number;
  /** Acquires not yet settled: queued, or being validated for. */
  readonly pending: number;
  readonly minSize: number;
  readonly maxSize: number;
  /** Leases handed out. */
  readonly acquired: number;
  /** Leases ended by `release()` or `destroy()`. */
  readonly released: number;
  /** Connections opened. */
  readonly created: number;
  /** Connections closed by the pool, for any reason (see `destroyedByReason`). */
  readonly destroyed: number;
  /** Driver operations that failed: connects, validations and resets. */
  readonly errors: number;
  /** Acquires that hit their deadline. */
  readonly timeouts: number;
  /** Failed connects (part of `errors`). */
  readonly connectErrors: number;
  /** Every `driver.connect()` the pool started (successful, failed or aborted). */
  readonly connectAttempts: number;
  /**
   * Acquires failed at once because no connection could be opened: the breaker was open, or
   * an authentication/configuration failure holds creation off (see `connectBackoff.fatalMs`).
   */
  readonly circuitRejections: number;
  /** The connection breaker's state, `disabled` when `circuitBreaker: false`. */
  readonly breakerState: CircuitState | 'disabled';
  /** The size the adaptive sizer aims for (`minSize` when adaptive sizing is off). */
  readonly targetSize: number;
  /** Failed or timed-out validations (part of `errors`). */
  readonly validationFailures: number;
  /** Failed resets (part of `errors`). */
  readonly resetFailures: number;
  /** Acquires refused at once because `maxWaiting` callers were already waiting. */
  readonly exhausted: number;
  /** Acquires abandoned through their `signal`. */
  readonly aborted: number;
  /** Acquires that had to wait (not served at once by an idle connection). */
  readonly waited: number;
  /** Leases reported by leak detection. */
  readonly leaks: number;
  /**
   * `withConnection({ idempotent: true })` callbacks run a second time after a `connection`
   * failure on a connection trusted without a round trip.
   */
  readonly retries: number;
  /**
   * Idle connections marked for validation before their next hand-out because another
   * connection was found dead (a connection-class error, a failed validation, a broken socket).
   */
  readonly suspected: number;
  /** `destroyed`, split by reason. */
  readonly destroyedByReason: Readonly<Record<DestroyReason, number>>;
  /** `connectErrors`, split by the driver's classification. */
  readonly connectErrorsByReason: Readonly<Record<ErrorReason, number>>;
  /**
   * From `acquire()` to the lease, for every lease handed out (those served from idle at once
   * count as 0). Empty with `metrics: false`.
   */
  readonly acquireWaitSeconds: LatencySummary;
  /** From the lease to its release or destroy, for every lease ended. */
  readonly useSeconds: LatencySummary;
  /** Duration of every successful connect. */
  readonly connectSeconds: LatencySummary;
  /** The fleet-wide budget's figures; absent without the `fleetBudget` option. */
  readonly fleetBudget?: FleetBudgetStats;
}
