import { EnhancedPoolError, type EnhancedPoolErrorCode } from '@enhanced-pool/core';

/** Why `pool.query()` refused a statement without sending it. */
export type StatementRefusedReason =
  /** It would leave session state (a transaction, a setting, a cursor, …) on a shared connection. */
  | 'session-state'
  /** The pool's driver has no `query()`, so the pool can't run statements itself. */
  | 'no-driver-query';

const BRAND: unique symbol = Symbol.for('@enhanced-pool/error') as never;
const CODE: EnhancedPoolErrorCode = 'STATEMENT_REFUSED';

/**
 * `pool.query()` refused a statement before sending it. Statements that leave state behind in
 * the session (`BEGIN`, `SET` without `LOCAL`, `LISTEN`, cursors, `PREPARE`, temporary tables,
 * session advisory locks) would leak it to every other caller of the shared connection, so they
 * belong on a lease: `pool.withConnection(fn)` or `pool.acquire()`. Nothing was sent, and the
 * pool's accounting is unchanged.
 */
export class StatementRefusedError extends EnhancedPoolError {
  /** See {@link StatementRefusedReason}. */
  readonly reason: StatementRefusedReason;
  /**
   * What was refused, in words (e.g. `BEGIN (a transaction)`, `statement 2: LISTEN`); never the
   * statement's text, which may hold secrets. `undefined` for `no-driver-query`.
   */
  readonly statement: string | undefined;

  constructor(
    reason: StatementRefusedReason,
    statement: string | undefined,
    options?: { poolName?: string; driverName?: string },
  ) {
    const pool = options?.poolName ? `Pool "${options.poolName}": ` : '';
    super(
      CODE,
      reason === 'session-state'
        ? `${pool}pool.query() refused ${statement}: it would leave session state on a connection ` +
            'other callers share. Run it on a lease: pool.withConnection((connection) => …) or ' +
            'pool.acquire()'
        : `${pool}pool.query() needs a driver with query(); the driver ` +
            `${options?.driverName ? `"${options.driverName}" ` : ''}has none. Run statements on ` +
            'a lease: pool.withConnection((connection) => …)',
    );
    this.reason = reason;
    this.statement = statement;
  }

  static override isInstance(error: unknown): error is StatementRefusedError {
    return (
      typeof error === 'object' &&
      error !== null &&
      (error as { [BRAND]?: unknown })[BRAND] === true &&
      (error as { code?: unknown }).code === CODE
    );
  }
}
