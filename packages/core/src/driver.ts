import type { ErrorReason } from './error-reason.js';

/** Options every driver operation receives. The signal is always present: honour it promptly. */
export interface DriverCallOptions {
  /** Aborted when the caller gave up (acquire deadline, abort, pool close). */
  readonly signal: AbortSignal;
}

/**
 * A secret-free identity of the database a driver talks to, keyed by OpenTelemetry semantic
 * convention names so it can be attached to metrics and log lines as is. Never include
 * passwords, tokens or full connection strings.
 */
export interface DriverDescription {
  /** e.g. `postgresql` (OpenTelemetry `db.system.name`). */
  readonly 'db.system.name': string;
  /** Host name or socket path. */
  readonly 'server.address'?: string;
  readonly 'server.port'?: number;
  /** Database name. */
  readonly 'db.namespace'?: string;
}

/**
 * The contract between the pool and a database client library, version `v1`.
 *
 * An adapter is deliberately dumb: it opens, checks and closes one physical connection at a
 * time and sorts errors into {@link ErrorReason}s. Everything stateful (retries, backoff,
 * deadlines, close-twice safety, accounting) lives in the pool, so a contributor writes only
 * what is specific to their database. See `docs/adding-a-driver.md`, and run
 * `runDriverConformance()` from `@enhanced-pool/testing` against a real server.
 *
 * @typeParam TConnection - what `lease.connection` is: the client library's own connection
 * object, so users keep the API they know.
 * @typeParam TQueryResult - what {@link Driver.query} resolves with (for pg, its `QueryResult`).
 */
export interface Driver<TConnection, TQueryResult = unknown> {
  /** Lets the pool refuse an adapter written against a future contract. */
  readonly specificationVersion: 'v1';
  /** Short, stable name used in metrics labels and error messages (e.g. `pg`). */
  readonly name: string;

  /**
   * Opens a new physical connection. Must reject promptly (with `signal.reason` or an error
   * the adapter classifies) once `signal` aborts, and must not leave a half-open socket behind.
   */
  connect(options: DriverCallOptions): Promise<TConnection>;

  /**
   * A cheap round trip proving the connection can serve (e.g. `SELECT 1`). Rejects if it can't;
   * must settle once `signal` aborts. The pool bounds it with its own deadline too.
   */
  validate(connection: TConnection, options: DriverCallOptions): Promise<void>;

  /**
   * Brings a returned connection back to a clean state (e.g. roll back an open transaction).
   * Rejecting tells the pool to discard the connection. Optional: omit when nothing can leak
   * between borrowers.
   */
  reset?(connection: TConnection, options: DriverCallOptions): Promise<void>;

  /**
   * A synchronous look at what the client already knows (socket closed, error event seen),
   * so the pool can skip a dead connection without a round trip. No I/O; must be cheap.
   */
  isBroken?(connection: TConnection): boolean;

  /** Closes the physical connection. Idempotent, and never rejects for an already-dead one. */
  close(connection: TConnection): Promise<void>;

  /** Sorts any error this driver's client can produce into the closed set of reasons. */
  classifyError(error: unknown): ErrorReason;

  /** Secret-free identity for metrics attributes and log lines. */
  describe(): DriverDescription;

  // Statements the pool sends itself (`pool.query()`): an optional capability.

  /**
   * Optional: runs one statement on `connection` and resolves with the client library's own
   * result, or rejects with its own error (which `classifyError` sorts). `pool.query()` uses it;
   * without it, `pool.query()` is refused and callers run statements on a lease. A failed
   * statement must leave the connection usable unless the error is classified `connection`.
   *
   * The pool aborts `signal` only when it gives up on the connection itself (a forced close). A
   * caller who gives up on one statement does not abort it: with several statements on the wire,
   * cancelling one would cost the others, so the pool drops that statement's result instead.
   */
  query?(
    connection: TConnection,
    text: string,
    values: readonly unknown[] | undefined,
    options: DriverCallOptions,
  ): Promise<TQueryResult>;

  /**
   * With {@link Driver.query}: `true` when a connection takes further statements before earlier
   * ones are answered (pipelining), answers them in order, and one statement's failure fails
   * none of the others. The pool then sends statements from many callers down a few shared
   * connections at once, up to its bound per connection. Absent or `false`: each
   * `pool.query()` borrows a connection for its one statement.
   */
  readonly pipelining?: boolean;
}

/** The connection type a driver produces. */
export type ConnectionOf<TDriver> = TDriver extends Driver<infer TConnection> ? TConnection : never;

// ---------------------------------------------------------------------------------------------
// Optional capability: fleet connection slots, behind the pool's `fleetBudget` option.

/** The budget a connection claims a slot of: `slots` slots named by `key`. */
export interface FleetSlotBudget {
  /** Names the budget on the server; every process sharing the budget uses the same key. */
  readonly key: number;
  /** How many slots the budget has (slots `0 … slots − 1`). */
  readonly slots: number;
}

/**
 * What {@link FleetSlots.claim} found:
 * - `claimed`: the connection holds `slot` until it closes; `free` slots were left after it;
 * - `full`: no slot was free; the pool closes the connection at once;
 * - `unsupported`: the connection can't hold a slot for its lifetime (e.g. behind a pooler in
 *   transaction mode, where a session lock stays on a server connection other clients share);
 *   `detail` says what was seen, in words for an error message.
 */
export type FleetSlotClaim =
  | { readonly status: 'claimed'; readonly slot: number; readonly free: number }
  | { readonly status: 'full'; readonly free: 0 }
  | { readonly status: 'unsupported'; readonly detail: string };

/** What {@link FleetSlots.countFree} found: the free slots, or why the count can't be trusted. */
export type FleetSlotCount =
  | { readonly status: 'counted'; readonly free: number }
  | { readonly status: 'unsupported'; readonly detail: string };

/**
 * A driver's way to bound connections across every process sharing a database: each physical
 * connection claims one of a budget's slots through the server itself (PostgreSQL: a session
 * advisory lock), so the server frees a slot the moment the connection or its process dies.
 * The pool decides when to claim and what to do without a slot; the adapter only runs the
 * statements. Optional: a pool given `fleetBudget` over a driver without it throws
 * `InvalidOptionError` at construction.
 */
export interface FleetSlots<TConnection> {
  /**
   * Claims one free slot for `connection`, a connection just opened and not yet used. Must
   * claim at most one, and must detect (and report as `unsupported`) a connection whose
   * session state does not persist between statements.
   */
  claim(
    connection: TConnection,
    budget: FleetSlotBudget,
    options: DriverCallOptions,
  ): Promise<FleetSlotClaim>;
  /** Counts the budget's free slots, on a connection that already holds one. */
  countFree(
    connection: TConnection,
    budget: FleetSlotBudget,
    options: DriverCallOptions,
  ): Promise<FleetSlotCount>;
}

/** A driver that offers {@link FleetSlots} (`driver.fleetSlots`). */
export interface FleetSlotsCapable<TConnection> {
  readonly fleetSlots: FleetSlots<TConnection>;
}
