import type { CircuitState } from '@enhanced-pool/circuit-breaker';
import { ERROR_REASONS, type ErrorReason } from '@enhanced-pool/core';
import type { LatencySummary } from './latency-histogram.js';
import { DESTROY_REASONS, type DestroyReason } from './pool-events.js';
import type { PoolStats } from './pool-stats.js';

/** The pool's gauges, read in one place (`PoolEngine.gauges()`). */
export interface PoolGauges {
  readonly size: number;
  readonly idle: number;
  readonly active: number;
  readonly pending: number;
  readonly connecting: number;
}

function zeroByErrorReason(): Record<ErrorReason, number> {
  const counts = {} as Record<ErrorReason, number>;
  for (const reason of ERROR_REASONS) counts[reason] = 0;
  return counts;
}

function zeroByReason(): Record<DestroyReason, number> {
  const counts = {} as Record<DestroyReason, number>;
  for (const reason of DESTROY_REASONS) counts[reason] = 0;
  return counts;
}

/**
 * What the pool counts, in plain fields each module increments where the event happens (no
 * events, no closures). Counters only grow; the sizer's sums are reset by its sample. The
 * figures the hot path keeps (`acquired`, `released`, the sums of waits and holds) are fields of
 * the engine itself: one object hop per acquire and release measured about 2 % there. The gauges (size, idle, active, pending) are not here: they are read from the
 * structures that hold them, in `PoolEngine.gauges()`, and joined to the counters
 * by {@link PoolCounters.toStats}.
 */
export class PoolCounters {
  created = 0;
  destroyed = 0;
  errors = 0;
  timeouts = 0;
  connectErrors = 0;
  connectAttempts = 0;
  circuitRejections = 0;
  validationFailures = 0;
  resetFailures = 0;
  exhausted = 0;
  aborted = 0;
  waited = 0;
  leaks = 0;
  retries = 0;
  suspected = 0;
  readonly destroyedByReason = zeroByReason();
  /** `connectErrors`, split by the driver's reason. */
  readonly connectErrorsByReason = zeroByErrorReason();

  /** The public snapshot: these counters, `gauges`, and what only the pool knows. */
  toStats(
    gauges: PoolGauges,
    pool: {
      readonly name: string;
      readonly state: PoolStats['state'];
      readonly acquired: number;
      readonly released: number;
      readonly healthChecking: number;
      readonly minSize: number;
      readonly maxSize: number;
      readonly targetSize: number;
      readonly breakerState: CircuitState | 'disabled';
      readonly acquireWaitSeconds: LatencySummary;
      readonly useSeconds: LatencySummary;
      readonly connectSeconds: LatencySummary;
    },
  ): PoolStats {
    return {
      name: pool.name,
      state: pool.state,
      poolSize: gauges.size,
      idleConnections: gauges.idle,
      activeConnections: gauges.active,
      healthChecking: pool.healthChecking,
      connecting: gauges.connecting,
      pending: gauges.pending,
      minSize: pool.minSize,
      maxSize: pool.maxSize,
      acquired: pool.acquired,
      released: pool.released,
      created: this.created,
      destroyed: this.destroyed,
      errors: this.errors,
      timeouts: this.timeouts,
      connectErrors: this.connectErrors,
      connectAttempts: this.connectAttempts,
      circuitRejections: this.circuitRejections,
      breakerState: pool.breakerState,
      targetSize: pool.targetSize,
      validationFailures: this.validationFailures,
      resetFailures: this.resetFailures,
      exhausted: this.exhausted,
      aborted: this.aborted,
      waited: this.waited,
      leaks: this.leaks,
      retries: this.retries,
      suspected: this.suspected,
      destroyedByReason: { ...this.destroyedByReason },
      connectErrorsByReason: { ...this.connectErrorsByReason },
      acquireWaitSeconds: pool.acquireWaitSeconds,
      useSeconds: pool.useSeconds,
      connectSeconds: pool.connectSeconds,
    };
  }

  /** Counts one connection closed by the pool. */
  countDestroyed(reason: DestroyReason): void {
    this.destroyed++;
    this.destroyedByReason[reason]++;
  }
}
