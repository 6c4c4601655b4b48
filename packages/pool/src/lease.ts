import type { ErrorReason } from '@enhanced-pool/core';

/**
 * One borrowing of a connection. Hand it back exactly once with `release()` (or `destroy()` if
 * the connection is suspect); `await using lease = await pool.acquire()` does that for you.
 *
 * Destructuring works (`const { connection, id, isNew } = await pool.getConnection()`), which
 * is the seed's `conn, conn_id, is_new` triple.
 */
export interface Lease<TConnection> {
  /**
   * The driver's connection. Reading it after `release()` or `destroy()` throws
   * `InvalidReleaseError` (reason `use-after-release`), so a stale reference fails loudly
   * instead of running a query on someone else's connection.
   */
  readonly connection: TConnection;
  /** Unique per acquire; `pool.releaseConnection(connection, id)` takes it. */
  readonly id: number;
  /** True the first time this physical connection is handed out. */
  readonly isNew: boolean;
  /**
   * Returns the connection to the pool (after the driver's `reset()`, when it has one). A
   * second call throws `InvalidReleaseError` (reason `already-released`) and changes nothing.
   */
  release(): void;
  /**
   * Closes the connection instead of returning it (use after a connection-class error); the
   * slot is freed and a waiter gets a new connection. `error` is reported in the
   * `connectionDestroyed` event.
   */
  destroy(error?: unknown): void;
  /**
   * Tells the pool that an operation on this connection failed, without ending the lease, for
   * code that uses leases rather than `withConnection()` (which does this itself). Returns the
   * driver's classification. An error classified `connection` retires the connection when the
   * lease ends; errors classified `timeout` retire it once `maxConnectionErrors` have been
   * seen. Other reasons (a constraint violation) change nothing. Throws `InvalidReleaseError`
   * after the lease ended.
   */
  reportError(error: unknown): ErrorReason;
  /** Releases unless already released or destroyed, so `await using` is always safe. */
  [Symbol.asyncDispose](): Promise<void>;
}
