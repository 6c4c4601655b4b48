import type { Driver } from '@enhanced-pool/core';

/**
 * What the checker may know about an idle connection: timestamps on the checker's clock, no
 * connection internals. The pool keeps these figures anyway for idle reaping and lifetimes.
 */
export interface IdleConnectionInfo {
  /** Stable identity within the pool, for log lines. */
  readonly id: string | number;
  readonly createdAt: number;
  /** When the connection was last returned by a borrower (or created, if never lent). */
  readonly lastUsedAt: number;
  /** When a validation last succeeded (creation counts as one). */
  readonly lastValidatedAt: number;
  /** When the connection reaches its maximum lifetime; `Infinity` when it has none. */
  readonly expiresAt: number;
}

/** Why the checker asks the pool to destroy a connection. */
export type HealthCheckDestroyReason =
  | 'broken'
  | 'validation-failed'
  | 'expired'
  | 'keepalive-failed';

/**
 * An idle connection the pool has taken out of circulation for the checker, so no borrower can
 * get it mid-check. Exactly one of the two methods is called, exactly once.
 */
export interface CheckoutForCheck<TConnection> {
  readonly connection: TConnection;
  readonly info: IdleConnectionInfo;
  /**
   * Puts the connection back as idle. With `validated`, the pool records `lastValidatedAt = now`
   * (and may count the round trip as traffic); `lastUsedAt` is left alone, so keepalive pings
   * never keep a connection past the pool's idle timeout. If the pool is closing meanwhile, it
   * closes the connection instead.
   */
  returnToIdle(options?: { readonly validated?: boolean }): void;
  /** Closes and forgets the connection; the pool frees its slot and counts the reason. */
  destroy(reason: HealthCheckDestroyReason): void;
}

/** The pool figures a health report quotes. */
export interface HealthCheckPoolStats {
  readonly size: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly idle: number;
  readonly active: number;
  readonly pending: number;
}

/**
 * The seam between the checker and a pool: the handful of operations a check needs, so the
 * checker works with any pool (and with a twenty-line fake in tests). `@enhanced-pool/pool`
 * implements it.
 */
export interface HealthCheckTarget<TConnection> {
  /** The pool's driver: the checker calls `validate` (with a deadline) and `isBroken`. */
  readonly driver: Pick<Driver<TConnection>, 'validate' | 'classifyError'> &
    Partial<Pick<Driver<TConnection>, 'isBroken'>>;
  /**
   * Takes up to `limit` idle connections for which `select` returns true out of circulation,
   * least recently validated first (so successive bounded runs rotate through a big pool).
   * `select` is synchronous and cheap (timestamps, `isBroken`); the pool must not hand the
   * returned connections to borrowers until the checker calls `returnToIdle` or `destroy`.
   */
  checkoutIdle(
    select: (info: IdleConnectionInfo, connection: TConnection) => boolean,
    limit: number,
  ): CheckoutForCheck<TConnection>[];
  /**
   * Opens connections until the pool holds at least `minSize` (through the pool's normal
   * creation path: breaker, backoff). Resolves with how many it created; rejects with the last
   * error if it could not reach `minSize`. Must stop promptly when `signal` aborts.
   */
  fillToMinimum(options: { readonly signal: AbortSignal }): Promise<number>;
  /** Current figures, read after the run for the report. */
  stats(): HealthCheckPoolStats;
  /** The connection breaker's state (`closed`, `open`, `half-open`, `isolated`), if the pool has one. */
  breakerState?(): string;
}
