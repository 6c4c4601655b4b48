import type { SizingAction } from '@enhanced-pool/adaptive-sizer';
import type { AcquireTimeoutError, ConnectError, ErrorReason } from '@enhanced-pool/core';
import type { HealthReport } from '@enhanced-pool/health-checker';

/**
 * Why the pool closed a connection. Part of the `connectionDestroyed` event and of
 * `getStats().destroyedByReason`, so an operator can tell churn from failure:
 *
 * - `idle-timeout`: idle longer than `idleTimeoutMs` while the pool was above `minSize`.
 * - `lifetime`: older than its (jittered) `maxLifetimeMs`.
 * - `max-uses`: leased `maxUses` times.
 * - `broken`: the driver's `isBroken()` said so.
 * - `validation-failed`: `validate()` rejected or did not answer before the deadline.
 * - `reset-failed`: `reset()` rejected on release.
 * - `destroyed-by-user`: `lease.destroy()`, or `withConnection` saw a connection-class error.
 * - `aborted`: the caller aborted while the connection was being validated for it, so its
 *   state is unknown.
 * - `keepalive-failed`: a health check's keepalive ping failed.
 * - `connection-errors`: its operations failed with connection-class errors
 *   (`maxConnectionErrors` timeouts, or a `connection` error reported with `lease.reportError`).
 * - `shrink`: the adaptive sizer retired it as idle surplus.
 * - `close`: the pool is closing.
 */
export type DestroyReason =
  | 'idle-timeout'
  | 'lifetime'
  | 'max-uses'
  | 'broken'
  | 'validation-failed'
  | 'reset-failed'
  | 'destroyed-by-user'
  | 'aborted'
  | 'keepalive-failed'
  | 'connection-errors'
  | 'shrink'
  | 'close';

/** Every {@link DestroyReason}, in a stable order. */
export const DESTROY_REASONS: readonly DestroyReason[] = Object.freeze([
  'idle-timeout',
  'lifetime',
  'max-uses',
  'broken',
  'validation-failed',
  'reset-failed',
  'destroyed-by-user',
  'aborted',
  'keepalive-failed',
  'connection-errors',
  'shrink',
  'close',
]);

/**
 * What the pool tells listeners (`pool.on(event, listener)`). Payloads are built only when
 * someone listens, so an unobserved event costs nothing on the hot path. Connection ids are
 * 1, 2, 3, … in creation order; lease ids are unique per acquire.
 */
export type PoolEvents = {
  /** A physical connection was opened and joined the pool. */
  connectionCreated: { readonly connectionId: number; readonly durationMs: number };
  /** A connection left the pool and is being closed. */
  connectionDestroyed: {
    readonly connectionId: number;
    readonly reason: DestroyReason;
    /** The error behind the decision, when there was one. */
    readonly error?: unknown;
  };
  /** An acquire got its lease. `waitMs` is 0 when an idle connection served it at once. */
  acquired: {
    readonly connectionId: number;
    readonly leaseId: number;
    readonly waitMs: number;
    readonly isNew: boolean;
  };
  /** A lease ended (released or destroyed); `holdMs` is how long it was held. */
  released: { readonly connectionId: number; readonly leaseId: number; readonly holdMs: number };
  /** An acquire gave up at its deadline; the error carries waited ms, size, active, pending. */
  acquireTimeout: { readonly error: AcquireTimeoutError };
  /** A connect failed; `reason` is the driver's classification. */
  connectError: {
    readonly error: ConnectError;
    readonly reason: ErrorReason;
    readonly durationMs: number;
  };
  /** A lease was held longer than `leakDetectionMs`; `stack` is where it was acquired. */
  leakDetected: {
    readonly connectionId: number;
    readonly leaseId: number;
    readonly heldMs: number;
    readonly stack: string | undefined;
  };
  /** `close()` finished; `forced` counts leased connections closed at the deadline. */
  closed: { readonly forced: number };
  /** A health check finished (scheduled or `runHealthCheck()`). */
  healthCheck: HealthReport;
  /**
   * The adaptive sizer moved the pool's target size: `grow` (connections are being opened
   * toward `to`) or `shrink` (idle connections were retired). `reason` says why, with figures.
   */
  resized: {
    readonly action: Exclude<SizingAction, 'hold'>;
    readonly from: number;
    readonly to: number;
    readonly reason: string;
  };
};
