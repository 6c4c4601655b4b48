import { ConnectError } from '@enhanced-pool/core';

const BRAND: unique symbol = Symbol.for('@enhanced-pool/fleet-budget-unsupported') as never;

/**
 * The pool has a `fleetBudget`, but its connections can't hold a slot for their lifetime: the
 * session the slot's lock was taken on does not stay with the connection, as behind PgBouncer
 * in transaction mode (where the lock would stay on a server connection other clients share,
 * and would not be freed when this process dies). Point the pool at PostgreSQL itself or at a
 * session-mode pooler, or drop `fleetBudget`.
 *
 * A {@link ConnectError} with reason `configuration`: no connection is pooled, the pool opens
 * none for `connectBackoff.fatalMs` (callers that need one get this error at once, `ready()`
 * rejects with it, readiness says why), then checks again.
 */
export class FleetBudgetUnsupportedError extends ConnectError {
  /** What the driver saw, in words. */
  readonly detail: string;
  /** The budget's key as the database sees it (a string key is hashed). */
  readonly key: number;
  /** @internal */
  readonly [BRAND] = true;

  constructor(detail: string, key: number, options?: { driverName?: string }) {
    super('configuration', undefined, options);
    this.detail = detail;
    this.key = key;
    this.message = `fleetBudget (key ${key}) can't be kept on these connections: ${detail}`;
  }

  /** True for this error, from this install or another copy of the package. */
  static override isInstance(error: unknown): error is FleetBudgetUnsupportedError {
    return ConnectError.isInstance(error) && (error as { [BRAND]?: unknown })[BRAND] === true;
  }
}
