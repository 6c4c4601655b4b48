import type {
  AdaptiveSizerOptions,
  ResolvedAdaptiveSizerOptions,
} from '@enhanced-pool/adaptive-sizer';
import type { CircuitBreakerOptions } from '@enhanced-pool/circuit-breaker';
import type { Clock, Driver, Logger } from '@enhanced-pool/core';
import type { ResolvedHealthCheckerOptions } from '@enhanced-pool/health-checker';
import type { FleetBudgetOptions, ResolvedFleetBudget } from './fleet-budget-options.js';

export { MAX_TIMER_DELAY_MS } from './timer-delay.js';

/**
 * How the pool spaces out connects after a failure. Delays are "full jitter"
 * (`random(0, min(capMs, baseMs · 2^(n−1)))` before attempt `n + 1`), so many processes whose
 * connects failed together don't all retry at the same instant, and a database that is down
 * sees one attempt per step from this pool, not one per waiting caller.
 */
export interface ConnectBackoffOptions {
  /**
   * The ceiling of the first delay; each further failure in a row doubles it.
   * @default 20
   */
  readonly baseMs?: number;
  /**
   * The largest ceiling, however many connects failed. It bounds how long the pool can take to
   * notice that the database is back (the target is 100 ms). Raise it (e.g. to 5 000)
   * when many processes share one database that may be overloaded rather than down.
   * @default 100
   */
  readonly capMs?: number;
  /**
   * After an `authentication` or `configuration` failure, which retrying can't fix, the pool
   * opens no connection for this long: callers that need one fail at once with
   * that `ConnectError`, and the breaker is held `isolated`. `connCircuitBreaker.reset()` ends
   * the hold early (after fixing the credentials).
   * @default 30_000
   */
  readonly fatalMs?: number;
}

/**
 * The adaptive sizer's knobs besides `minSize`, `maxSize` and `targetUtilization` (which are
 * pool options). See `@enhanced-pool/adaptive-sizer` for what each does; the defaults are its
 * own.
 */
export type AdaptiveSizingOptions = Omit<
  AdaptiveSizerOptions,
  'minSize' | 'maxSize' | 'targetUtilization' | 'clock'
>;

/** How `pool.query()` shares connections among callers. */
export interface QueryPoolOptions {
  /**
   * Statements on the wire of one shared connection at most, with a driver that pipelines. A
   * slow statement delays at most the statements sent behind it on its connection, so this
   * bounds how many one slow statement can hold back; new statements go to the least loaded
   * connection. Statements beyond it on every shared connection wait (within
   * `acquireTimeoutMs`, `maxWaiting`). `1` turns pipelining off.
   * @default 8
   */
  readonly maxInFlightPerConnection?: number;
  /**
   * Connections `pool.query()` shares at once at most. Shared connections are handed back as
   * soon as nothing is on their wire, and early when a lease caller waits, so this is a ceiling,
   * not a reservation; lower it to keep connections free for transactions under heavy
   * `pool.query()` load.
   * @default maxSize
   */
  readonly maxSharedConnections?: number;
}

/**
 * How to build a pool. Durations are milliseconds (`…Ms`). Every field but `driver` is optional;
 * the defaults are chosen to be safe for a web service talking to PostgreSQL.
 *
 * @typeParam TConnection - the driver's connection type, which `lease.connection` has.
 * @typeParam TQueryResult - what the driver's `query()` resolves with (what `pool.query()` does).
 */
export interface PoolOptions<TConnection, TQueryResult = unknown> {
  /**
   * Opens, checks and closes physical connections (e.g. `createPgDriver()` from
   * `@enhanced-pool/driver-pg`). Must implement the `v1` driver contract.
   */
  readonly driver: Driver<TConnection, TQueryResult>;
  /**
   * Connections kept open even when idle, opened in the background at construction so the
   * first requests don't pay for connecting (`ready()` says when they exist). Idle timeout
   * never takes the pool below this.
   * @default 0
   */
  readonly minSize?: number;
  /**
   * Most connections open at once, counting those being opened. Acquires beyond it wait.
   * @default 10
   */
  readonly maxSize?: number;
  /**
   * One deadline per `acquire()`, covering the wait in the queue, a connect made for it and
   * validation. On expiry the caller gets an `AcquireTimeoutError` with the pool's figures.
   * Also bounds each connect the pool starts.
   * @default 30_000
   */
  readonly acquireTimeoutMs?: number;
  /**
   * A connection older than this is closed instead of reused (when it is released or found
   * idle), so server-side memory, DNS changes and failovers are picked up. `0` or `Infinity`
   * keeps connections forever.
   * @default 3_600_000 (one hour)
   */
  readonly maxLifetimeMs?: number;
  /**
   * Each connection's lifetime is shortened by a random fraction up to this, so connections
   * opened together don't all expire (and reconnect) together. `0.1` means "between 90 % and
   * 100 % of `maxLifetimeMs`".
   * @default 0.1
   */
  readonly maxLifetimeJitter?: number;
  /**
   * An idle connection unused for this long is closed, down to `minSize` or, with adaptive
   * sizing, the sizer's current target (its headroom is retired by the sizer itself, after its
   * cooldown). `0` or `Infinity` never closes idle connections.
   * @default 600_000 (ten minutes)
   */
  readonly idleTimeoutMs?: number;
  /**
   * A connection that sat idle at least this long is validated (one round trip) before it is
   * handed out; one used more recently is trusted, as in HikariCP's alive-bypass window. `0`
   * validates every idle connection on hand-out; `Infinity` never validates (only the
   * driver's `isBroken()` is consulted).
   * @default 500
   */
  readonly validateAfterIdleMs?: number;
  /**
   * Which idle connection is handed out next. `'lifo'` (the most recently released) keeps the
   * busy set small, so surplus connections age out through `idleTimeoutMs` and each backend's
   * caches stay warm, as PgBouncer and HikariCP do. `'fifo'` rotates through every idle
   * connection (round robin), which spreads load when the address balances across several
   * servers (PgBouncer's `server_round_robin`); but every connection stays in use, so idle ones
   * are rarely reaped and more of them pass `validateAfterIdleMs`.
   * @default 'lifo'
   */
  readonly idleOrder?: 'lifo' | 'fifo';
  /**
   * Validate a connection when it is released, before it goes back to idle or to a waiter.
   * Costs a round trip per release; the idle check above is usually enough.
   * @default false
   */
  readonly validateOnRelease?: boolean;
  /**
   * Close a connection after it has been leased this many times. `Infinity` for no limit.
   * @default Infinity
   */
  readonly maxUses?: number;
  /**
   * Most acquires allowed to wait at once; one more fails at once with `PoolExhaustedError`
   * (load shedding instead of a queue that only grows). `Infinity` for no limit.
   * @default Infinity
   */
  readonly maxWaiting?: number;
  /**
   * Warn (through `logger` and the `leakDetected` event) when a lease is held longer than
   * this, with the stack of the code that acquired it. `0` turns leak detection off, and with
   * it the cost of capturing a stack per acquire.
   * @default 0
   */
  readonly leakDetectionMs?: number;
  /**
   * The breaker guarding connection creation (`pool.connCircuitBreaker`). It counts only
   * connects that failed because the database is unreachable (driver reasons `connection`,
   * `timeout`, `resource-exhausted`); while it is open, callers that need a new connection
   * fail at once with `CircuitOpenError`, and idle connections are still served. Any
   * `@enhanced-pool/circuit-breaker` option may be given; the pool's defaults are
   * `window: { kind: 'consecutive', failures: 5 }`, `openDurationMs` following
   * `connectBackoff` (exponential, full jitter), `halfOpenPermits: 1` (one probe connect),
   * `halfOpenProbeTimeoutMs: acquireTimeoutMs + 1 000`, and the pool's `clock`, `random` and
   * `name`. `false` turns the breaker off (connects are still spaced by `connectBackoff`).
   * @default the pool defaults above
   */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /**
   * How long, from the first failed connect of an outage, callers that need a new connection
   * wait for the breaker's next probe instead of being refused at once. A database restart or
   * failover often takes well under a second; for such a blip, a caller with seconds of
   * deadline left is better served by waiting a few hundred milliseconds than by an error. A
   * caller waits only if the probe is due before its own deadline, and connect attempts stay
   * one per backoff step however many wait. Once the outage is older than this, callers that
   * need a new connection fail at once with `CircuitOpenError`, so requests don't pile up
   * behind a database that is really down. `0`: always refuse at once while the breaker is open.
   * The trade-off: during the grace, waiting callers hold their request slots (and their own
   * callers) for up to this long.
   * @default 2_000
   */
  readonly outageGraceMs?: number;
  /**
   * Spacing of connects after failures. See {@link ConnectBackoffOptions}.
   * @default { baseMs: 20, capMs: 100, fatalMs: 30_000 }
   */
  readonly connectBackoff?: ConnectBackoffOptions;
  /**
   * A connection is discarded and replaced once this many of its operations failed with an
   * error the driver classifies `timeout` (a client-side read timeout can leave a connection
   * busy; one `statement_timeout` does not, so one is tolerated). An error classified
   * `connection` discards the connection at once, whatever this says. Errors are seen by
   * `withConnection()` and `lease.reportError()`. `Infinity`: timeouts never discard.
   * @default 3
   */
  readonly maxConnectionErrors?: number;
  /**
   * Time between two background health checks (the seed's `health_check_interval`): validate
   * idle connections due for it, close the broken and expired, top up to `minSize`. `0` or
   * `Infinity`: no schedule (`pool.runHealthCheck()` still works; keepalive still schedules).
   * @default 60_000
   */
  readonly healthCheckIntervalMs?: number;
  /**
   * A health check validates idle connections not validated for this long (the seed's
   * `validation_interval`). `0`: every check; `Infinity`: never on a schedule.
   * @default 300_000
   */
  readonly validationIntervalMs?: number;
  /**
   * Pings idle connections silent for this long, so NAT, firewalls and load balancers don't
   * drop them unnoticed. `0` turns it off; otherwise at least 1 000.
   * @default 0
   */
  readonly keepaliveMs?: number;
  /**
   * Most validations or pings one health check makes (never more than half the idle
   * connections), so a check never empties a big pool's idle list under borrowers.
   * @default 5
   */
  readonly maxValidationsPerRun?: number;
  /**
   * Deadline of one health-check validation or ping; a connection that misses it is closed.
   * @default 5_000
   */
  readonly validationTimeoutMs?: number;
  /**
   * The share of connections that should be in use at steady state (the seed's
   * `target_utilization`); the adaptive sizer aims for `demand / targetUtilization`.
   * @default 0.7
   */
  readonly targetUtilization?: number;
  /**
   * How often the adaptive sizer samples the load and resizes the pool: it pre-opens
   * connections under rising load and retires idle surplus (never below `minSize`, never a
   * leased one). The tick only runs while the pool has something to size. `0` turns
   * adaptive sizing off.
   * @default 1_000
   */
  readonly sizingIntervalMs?: number;
  /**
   * The adaptive sizer's other knobs (cooldowns, half-lives, step limits).
   * @default the sizer's defaults (e.g. shrinkCooldownMs 30 000)
   */
  readonly adaptiveSizing?: AdaptiveSizingOptions;
  /**
   * Record the latency histograms `getStats()` reports (`acquireWaitSeconds`, `useSeconds`,
   * `connectSeconds`) and `@enhanced-pool/metrics` exports. It costs a few nanoseconds per
   * release; `false` leaves the histograms empty (counters and gauges are always kept).
   * @default true
   */
  readonly metrics?: boolean;
  /**
   * How `pool.query()` shares connections. See {@link QueryPoolOptions}.
   * @default { maxInFlightPerConnection: 8, maxSharedConnections: maxSize }
   */
  readonly query?: QueryPoolOptions;
  /**
   * Names the pool in errors, log lines and metrics.
   * @default 'pool'
   */
  readonly name?: string;
  /**
   * Where the pool reports connect failures, leaks and forced closes. `console` works.
   * @default noopLogger (silent)
   */
  readonly logger?: Logger;
  /**
   * The source of time for deadlines, idle and lifetime. Tests pass a fake clock.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Returns a number in [0, 1); used for lifetime jitter, connect backoff and the breaker's
   * open durations. Tests pass a fixed function.
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * A connection budget shared by every process using the same `key` on the same database:
   * each physical connection claims one of `slots` through the database itself, so the fleet
   * holds at most `slots` connections (plus, for a moment, one per process), and a slot frees
   * itself when its connection or process dies. Needs a driver offering fleet slots
   * (`@enhanced-pool/driver-pg`), and connections that keep their session: not through
   * PgBouncer in transaction mode, which is refused with `FleetBudgetUnsupportedError`. See
   * {@link FleetBudgetOptions} and the README's "Many instances".
   * @default undefined (no fleet-wide budget)
   */
  readonly fleetBudget?: FleetBudgetOptions;
}

/** {@link ConnectBackoffOptions} with defaults applied. */
export interface ResolvedConnectBackoff {
  readonly baseMs: number;
  readonly capMs: number;
  readonly fatalMs: number;
}

/** {@link PoolOptions} with defaults applied and "off" normalised to `Infinity`. */
export interface ResolvedPoolOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly minSize: number;
  readonly maxSize: number;
  readonly acquireTimeoutMs: number;
  /** `Infinity` when lifetime is unlimited. */
  readonly maxLifetimeMs: number;
  readonly maxLifetimeJitter: number;
  /** `Infinity` when idle connections are never closed. */
  readonly idleTimeoutMs: number;
  readonly validateAfterIdleMs: number;
  readonly validateOnRelease: boolean;
  readonly idleOrder: 'lifo' | 'fifo';
  readonly maxUses: number;
  readonly maxWaiting: number;
  /** `0` when leak detection is off. */
  readonly leakDetectionMs: number;
  /** The breaker's options, pool defaults merged in; `false` when it is off. */
  readonly circuitBreaker: CircuitBreakerOptions | false;
  readonly connectBackoff: ResolvedConnectBackoff;
  readonly outageGraceMs: number;
  readonly maxConnectionErrors: number;
  /** The health checker's options (`healthCheckIntervalMs` is `Infinity` when off). */
  readonly healthCheck: ResolvedHealthCheckerOptions;
  /** `0` when adaptive sizing is off. */
  readonly sizingIntervalMs: number;
  /** The sizer's options, pool sizes merged in; `undefined` when adaptive sizing is off. */
  readonly adaptiveSizing: ResolvedAdaptiveSizerOptions | undefined;
  readonly metrics: boolean;
  readonly name: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** `undefined` without a fleet-wide budget. */
  readonly fleetBudget: ResolvedFleetBudget | undefined;
}
