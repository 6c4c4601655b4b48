import type { CircuitBreaker } from '@enhanced-pool/circuit-breaker';
import type { TypedEvents } from '@enhanced-pool/core';
import type { HealthReport, Readiness } from '@enhanced-pool/health-checker';
import type { Lease } from './lease.js';
import type { PoolEvents } from './pool-events.js';
import type { PoolStats } from './pool-stats.js';
import type { QueryStats } from './query-stats.js';

/** Options of one `acquire()`. */
export interface AcquireOptions {
  /**
   * Abandons the acquire: a queued caller leaves the queue at once and its promise rejects
   * with `signal.reason`. The pool's own deadline (`acquireTimeoutMs`) still applies.
   */
  readonly signal?: AbortSignal;
}

/** Options of one `withConnection()`. */
export interface WithConnectionOptions extends AcquireOptions {
  /**
   * The callback is safe to run twice (a read, or a write guarded by its own idempotency key).
   * When it fails with an error the driver classifies `connection` on a connection that was
   * handed out without a round trip (trusted because it was used recently), the pool runs it
   * once more on a connection that has just made one: validated, or new. This hides the one
   * failure a pool cannot otherwise prevent: a socket that died while idle, noticed only by the
   * statement sent on it. Never set it for work that must not happen twice: the first attempt
   * may have reached the server before the connection died.
   * @default false
   */
  readonly idempotent?: boolean;
}

/** Options of one `pool.query()`. */
export interface QueryOptions {
  /**
   * Gives up on the statement: while it waits for room on a shared connection it leaves the
   * queue at once; once sent, the promise rejects at once with `signal.reason` and the
   * statement's result is dropped when it arrives (the statement itself still runs: cancelling it
   * on the server would cost the statements pipelined with it).
   */
  readonly signal?: AbortSignal;
  /**
   * The statement is safe to run twice. When the connection it was sent on dies (an error the
   * driver classifies `connection`), it is sent once more on another connection instead of
   * failing. Never set it for a write without its own idempotency key: the first attempt may
   * have reached the server before the connection died.
   * @default false
   */
  readonly idempotent?: boolean;
}

/** What `withConnection` passes to its callback besides the connection. */
export interface WithConnectionContext {
  /** The caller's signal, to forward to queries. */
  readonly signal: AbortSignal | undefined;
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long to wait for leased connections to come back before closing them anyway. `close()`
   * settles at the latest this long after it was called.
   * @default 30_000
   */
  readonly timeoutMs?: number;
}

/** Options of `runHealthCheck()`. */
export interface RunHealthCheckOptions {
  /** Stops waiting for the report (the promise rejects with `signal.reason`); the run goes on. */
  readonly signal?: AbortSignal;
}

/** Options of `ready()`. */
export interface ReadyOptions {
  /** Stops waiting; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A connection pool. Use `withConnection()` by default; `acquire()` when a connection must
 * outlive one callback (then prefer `await using`).
 *
 * @typeParam TConnection - the driver's connection type.
 * @typeParam TQueryResult - what the driver's `query()` resolves with, so what
 * {@link Pool.query} does (for `@enhanced-pool/driver-pg`, `pg`'s `QueryResult`).
 */
export interface Pool<TConnection, TQueryResult = unknown> extends TypedEvents<PoolEvents> {
  /** The `name` option: in errors, logs and metrics. */
  readonly name: string;

  /**
   * The breaker guarding connection creation (the seed's `conn_circuit_breaker`):
   * `getState()`, `on('stateChange')`, `metrics()`, `isolate()`, `reset()`. `undefined` with
   * `circuitBreaker: false`.
   */
  readonly connCircuitBreaker: CircuitBreaker | undefined;

  /**
   * Borrows a connection. Served at once from idle when one is available (no timer, no
   * round trip unless it sat idle past `validateAfterIdleMs`); otherwise queued first-in
   * first-out until a connection is released or opened, within `acquireTimeoutMs`.
   *
   * Rejects with `AcquireTimeoutError`, `PoolExhaustedError` (`maxWaiting`), `PoolClosedError`,
   * `ConnectError` (a connect made for this caller failed) or the signal's reason.
   */
  acquire(options?: AcquireOptions): Promise<Lease<TConnection>>;

  /** The seed's name for {@link Pool.acquire}. */
  getConnection(options?: AcquireOptions): Promise<Lease<TConnection>>;

  /**
   * The seed's release: `releaseConnection(lease.connection, lease.id)`. Throws
   * `InvalidReleaseError` for a connection this pool does not own (`foreign-connection`), an
   * id that is not the connection's current lease (`foreign-connection`), or a connection
   * already back in the pool (`already-released`).
   */
  releaseConnection(connection: TConnection, id: number): void;

  /**
   * Acquires, runs `fn`, and releases, even when `fn` throws. If `fn` throws an error the
   * driver classifies as connection-fatal, the connection is destroyed instead (and the idle
   * connections are validated before their next use: they may have died with it). Returns or
   * rethrows what `fn` did. The recommended way to use the pool.
   *
   * With `{ idempotent: true }`, a `connection` failure on a connection trusted without a round
   * trip runs `fn` once more on a validated or new connection (see
   * {@link WithConnectionOptions.idempotent}).
   */
  withConnection<TResult>(
    fn: (connection: TConnection, context: WithConnectionContext) => TResult | PromiseLike<TResult>,
    options?: WithConnectionOptions,
  ): Promise<TResult>;

  /**
   * Runs one statement outside any transaction, on a connection the pool shares among
   * callers, and resolves with the driver's result (for `pg`, `{ rows, rowCount, … }`). With a
   * driver that pipelines (`driver.pipelining`, as `@enhanced-pool/driver-pg` does), statements
   * from many callers are on the wire of one connection at once, up to
   * `query.maxInFlightPerConnection`; otherwise each borrows a connection for its statement.
   * Shared connections are the pool's own: counted in its size, checked, replaced and closed
   * like any other.
   *
   * A failed statement rejects alone, with the driver's own error; a connection that dies fails
   * only the statements on its wire (the driver classifies that `connection`; see
   * {@link QueryOptions.idempotent}). Statements that would leave session state behind
   * (`BEGIN`/`COMMIT`/`SAVEPOINT`…, `SET` without `LOCAL`, `LISTEN`, cursors, `PREPARE`,
   * temporary tables, session advisory locks) are refused with `StatementRefusedError`: run
   * those on a lease (`withConnection`). Also rejects with `AcquireTimeoutError` (no room within
   * `acquireTimeoutMs`), `PoolExhaustedError` (`maxWaiting`), `PoolClosedError`, the error of
   * the acquire that could not get a connection, or the signal's reason.
   *
   * @typeParam TResult - the result's type, when it is narrower than the driver's (e.g. pg's
   * row type: `pool.query<PgQueryResult<{ id: number }>>(…)`).
   */
  query<TResult = TQueryResult>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<TResult>;

  /** {@link Pool.query}'s own figures (statements in flight, queued, …), in O(1). */
  getQueryStats(): QueryStats;

  /**
   * Resolves once `minSize` connections are open (at once when `minSize` is 0). Rejects with
   * the `ConnectError` of a connect that fails while the pool is below `minSize` (the pool
   * keeps retrying in the background, so a later `ready()` can still resolve), with
   * `PoolClosedError` if the pool closes first, or with the signal's reason.
   */
  ready(options?: ReadyOptions): Promise<void>;

  /**
   * Shuts the pool down and always finishes: stops creating, rejects waiters with
   * `PoolClosedError`, aborts connects in flight, closes idle connections, waits up to
   * `timeoutMs` for leased ones to come back, then closes those anyway. Idempotent; concurrent
   * calls share one promise. Later acquires reject at once.
   */
  close(options?: CloseOptions): Promise<void>;

  /** The seed's name for {@link Pool.close}. */
  closeAll(options?: CloseOptions): Promise<void>;

  /** Counters and gauges, in O(1). */
  getStats(): PoolStats;

  /**
   * Runs a health check now (the seed's `run_health_check_async`), or joins the one in
   * progress: validates idle connections due for it, closes the broken and expired, tops up to
   * `minSize`, and resolves with the report. Never rejects for database trouble (that is in the
   * report); rejects with `PoolClosedError` once the pool is closed.
   */
  runHealthCheck(options?: RunHealthCheckOptions): Promise<HealthReport>;

  /** The report of the last finished health check, if any. */
  lastHealthReport(): HealthReport | undefined;

  /**
   * Liveness: `false` only once `close()` was called. It never depends on the database, so a
   * database outage does not make an orchestrator restart every replica.
   */
  isLive(): boolean;

  /**
   * Readiness: the pool is open and can serve: its breaker is not open (nor isolated) and no
   * authentication/configuration failure holds creation off. Half-open counts as ready.
   */
  isReady(): boolean;

  /** {@link Pool.isReady} with the reasons in words, for a readiness endpoint's body. */
  readiness(): Readiness;

  /** `await using pool = createPool(…)` closes it with the default timeout. */
  [Symbol.asyncDispose](): Promise<void>;
}
