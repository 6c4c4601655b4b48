import {
  type AdaptiveSizerOptions,
  type ResolvedAdaptiveSizerOptions,
  resolveAdaptiveSizerOptions,
} from '@enhanced-pool/adaptive-sizer';
import {
  type CircuitBreakerOptions,
  exponentialBackoff,
  InvalidBreakerOptionError,
  resolveCircuitBreakerOptions,
} from '@enhanced-pool/circuit-breaker';
import {
  booleanOption,
  type Clock,
  clockOption,
  type Driver,
  InvalidOptionError,
  type Logger,
  loggerOption,
  numberOption,
  stringOption,
} from '@enhanced-pool/core';
import {
  type ResolvedHealthCheckerOptions,
  resolveHealthCheckerOptions,
} from '@enhanced-pool/health-checker';

/** The longest delay a Node timer accepts; longer ones fire after 1 ms instead. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

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

/**
 * How to build a pool. Durations are milliseconds (`…Ms`). Every field but `driver` is optional;
 * the defaults are chosen to be safe for a web service talking to PostgreSQL.
 *
 * @typeParam TConnection - the driver's connection type, which `lease.connection` has.
 */
export interface PoolOptions<TConnection> {
  /**
   * Opens, checks and closes physical connections (e.g. `createPgDriver()` from
   * `@enhanced-pool/driver-pg`). Must implement the `v1` driver contract.
   */
  readonly driver: Driver<TConnection>;
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
  readonly maxConnectionErrors: number;
  /** The health checker's options (`healthCheckIntervalMs` is `Infinity` when off). */
  readonly healthCheck: ResolvedHealthCheckerOptions;
  /** `0` when adaptive sizing is off. */
  readonly sizingIntervalMs: number;
  /** The sizer's options, pool sizes merged in; `undefined` when adaptive sizing is off. */
  readonly adaptiveSizing: ResolvedAdaptiveSizerOptions | undefined;
  readonly name: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'driver',
  'minSize',
  'maxSize',
  'acquireTimeoutMs',
  'maxLifetimeMs',
  'maxLifetimeJitter',
  'idleTimeoutMs',
  'validateAfterIdleMs',
  'validateOnRelease',
  'idleOrder',
  'maxUses',
  'maxWaiting',
  'leakDetectionMs',
  'circuitBreaker',
  'connectBackoff',
  'maxConnectionErrors',
  'healthCheckIntervalMs',
  'validationIntervalMs',
  'keepaliveMs',
  'maxValidationsPerRun',
  'validationTimeoutMs',
  'targetUtilization',
  'sizingIntervalMs',
  'adaptiveSizing',
  'name',
  'logger',
  'clock',
  'random',
]);

/** Option names of pg-pool, tarn, generic-pool and the seed, mapped to ours. */
const RENAMED_OPTIONS: Readonly<Record<string, string>> = {
  max: 'maxSize',
  min: 'minSize',
  max_size: 'maxSize',
  min_size: 'minSize',
  idleTimeoutMillis: 'idleTimeoutMs',
  connectionTimeoutMillis: 'acquireTimeoutMs',
  acquireTimeoutMillis: 'acquireTimeoutMs',
  timeout: 'acquireTimeoutMs',
  maxLifetimeSeconds: 'maxLifetimeMs',
  max_lifetime: 'maxLifetimeMs',
  maxWaitingClients: 'maxWaiting',
  testOnBorrow: 'validateAfterIdleMs',
  log: 'logger',
  target_utilization: 'targetUtilization',
  validation_interval: 'validationIntervalMs',
  health_check_interval: 'healthCheckIntervalMs',
  healthCheckInterval: 'healthCheckIntervalMs',
  validationInterval: 'validationIntervalMs',
  conn_circuit_breaker: 'circuitBreaker',
  connCircuitBreaker: 'circuitBreaker',
  breaker: 'circuitBreaker',
};

const BACKOFF_KEYS: ReadonlySet<string> = new Set(['baseMs', 'capMs', 'fatalMs']);

/** Runs a sibling package's resolver, renaming the option in its error to the pool's path. */
function nested<T>(prefix: string, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (InvalidBreakerOptionError.isInstance(error) || InvalidOptionError.isInstance(error)) {
      const { option, value, allowed } = error as InvalidOptionError;
      throw new InvalidOptionError(`${prefix}${option}`, value, allowed);
    }
    throw error;
  }
}

function resolveConnectBackoff(value: unknown): ResolvedConnectBackoff {
  if (value === undefined) return { baseMs: 20, capMs: 100, fatalMs: 30_000 };
  if (!isObject(value)) {
    throw new InvalidOptionError('connectBackoff', value, 'an object { baseMs, capMs, fatalMs }');
  }
  for (const key of Object.keys(value)) {
    if (!BACKOFF_KEYS.has(key)) {
      throw new InvalidOptionError(`connectBackoff.${key}`, value[key], 'no such option');
    }
  }
  const baseMs = numberOption('connectBackoff.baseMs', value.baseMs, 20, {
    min: 1,
    max: MAX_TIMER_DELAY_MS,
  });
  const capMs = numberOption('connectBackoff.capMs', value.capMs, Math.max(100, baseMs), {
    min: baseMs,
    max: MAX_TIMER_DELAY_MS,
  });
  const fatalMs = numberOption('connectBackoff.fatalMs', value.fatalMs, 30_000, {
    min: 1,
    max: MAX_TIMER_DELAY_MS,
  });
  return { baseMs, capMs, fatalMs };
}

const DRIVER_SHAPE = 'a Driver with specificationVersion "v1" (connect, validate, close, …)';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function hasFunctions(value: unknown, names: readonly string[]): boolean {
  return isObject(value) && names.every((name) => typeof value[name] === 'function');
}

function resolveDriver<TConnection>(value: unknown): Driver<TConnection> {
  if (!hasFunctions(value, ['connect', 'validate', 'close', 'classifyError', 'describe'])) {
    throw new InvalidOptionError('driver', value, DRIVER_SHAPE);
  }
  const version = (value as { specificationVersion?: unknown }).specificationVersion;
  if (version !== 'v1') {
    throw new InvalidOptionError(
      'driver.specificationVersion',
      version,
      '"v1" (this pool implements driver contract v1)',
    );
  }
  return value as unknown as Driver<TConnection>;
}

/** `0` and `Infinity` both mean "off" for these durations. */
function offIsInfinity(option: string, value: unknown, fallback: number): number {
  const resolved = numberOption(option, value, fallback, { min: 0, allowInfinity: true });
  return resolved === 0 ? Infinity : resolved;
}

/**
 * Applies defaults and validates every pool option once, at construction. Throws
 * `InvalidOptionError` naming the option, the value and the allowed range; an unknown option
 * (often a name from another pool, such as pg-pool's `max`) is refused with the name to use.
 */
export function resolvePoolOptions<TConnection>(
  options: PoolOptions<TConnection>,
): ResolvedPoolOptions<TConnection> {
  if (!isObject(options)) {
    throw new InvalidOptionError('options', options, 'an object with at least a driver');
  }
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(key)) continue;
    const renamed = RENAMED_OPTIONS[key];
    throw new InvalidOptionError(
      key,
      (options as unknown as Record<string, unknown>)[key],
      renamed === undefined ? 'no such option' : `no such option; did you mean "${renamed}"?`,
    );
  }

  const driver = resolveDriver<TConnection>(options.driver);
  const maxSize = numberOption('maxSize', options.maxSize, 10, { min: 1, integer: true });
  const minSize = numberOption('minSize', options.minSize, 0, { min: 0, integer: true });
  if (minSize > maxSize) {
    throw new InvalidOptionError('minSize', minSize, `an integer ≥ 0 and ≤ maxSize (${maxSize})`);
  }
  const acquireTimeoutMs = numberOption('acquireTimeoutMs', options.acquireTimeoutMs, 30_000, {
    min: 1,
    max: MAX_TIMER_DELAY_MS,
  });
  const maxLifetimeMs = offIsInfinity('maxLifetimeMs', options.maxLifetimeMs, 3_600_000);
  const maxLifetimeJitter = numberOption('maxLifetimeJitter', options.maxLifetimeJitter, 0.1, {
    min: 0,
    max: 0.5,
  });
  const idleTimeoutMs = offIsInfinity('idleTimeoutMs', options.idleTimeoutMs, 600_000);
  const validateAfterIdleMs = numberOption(
    'validateAfterIdleMs',
    options.validateAfterIdleMs,
    500,
    { min: 0, allowInfinity: true },
  );
  const validateOnRelease = booleanOption('validateOnRelease', options.validateOnRelease, false);
  const idleOrder = options.idleOrder ?? 'lifo';
  if (idleOrder !== 'lifo' && idleOrder !== 'fifo') {
    throw new InvalidOptionError('idleOrder', idleOrder, '"lifo" or "fifo"');
  }
  const maxUses = numberOption('maxUses', options.maxUses, Infinity, {
    min: 1,
    integer: true,
    allowInfinity: true,
  });
  const maxWaiting = numberOption('maxWaiting', options.maxWaiting, Infinity, {
    min: 0,
    integer: true,
    allowInfinity: true,
  });
  const leakDetectionMs = numberOption('leakDetectionMs', options.leakDetectionMs, 0, {
    min: 0,
    max: MAX_TIMER_DELAY_MS,
  });
  const name = stringOption('name', options.name, 'pool');

  const logger = loggerOption('logger', options.logger);
  const clock = clockOption('clock', options.clock);
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') {
    throw new InvalidOptionError('random', random, 'a function returning a number in [0, 1)');
  }

  const connectBackoff = resolveConnectBackoff(options.connectBackoff);
  const circuitBreaker = resolveBreaker(options.circuitBreaker, {
    acquireTimeoutMs,
    connectBackoff,
    clock,
    random,
    name,
  });
  const maxConnectionErrors = numberOption('maxConnectionErrors', options.maxConnectionErrors, 3, {
    min: 1,
    integer: true,
    allowInfinity: true,
  });
  const healthCheckIntervalMs = offIsInfinity(
    'healthCheckIntervalMs',
    options.healthCheckIntervalMs,
    60_000,
  );
  const healthCheck = resolveHealthCheckerOptions({
    healthCheckIntervalMs,
    validationIntervalMs: options.validationIntervalMs,
    keepaliveMs: options.keepaliveMs,
    maxValidationsPerRun: options.maxValidationsPerRun,
    validationTimeoutMs: options.validationTimeoutMs,
    clock,
    logger,
  });
  const sizingIntervalMs = numberOption('sizingIntervalMs', options.sizingIntervalMs, 1_000, {
    min: 0,
    max: MAX_TIMER_DELAY_MS,
  });
  const targetUtilization = numberOption('targetUtilization', options.targetUtilization, 0.7, {
    min: 0.01,
    max: 1,
  });
  if (options.adaptiveSizing !== undefined && !isObject(options.adaptiveSizing)) {
    throw new InvalidOptionError(
      'adaptiveSizing',
      options.adaptiveSizing,
      'an object of adaptive sizer options',
    );
  }
  for (const key of ['minSize', 'maxSize', 'targetUtilization', 'clock']) {
    if (options.adaptiveSizing !== undefined && key in options.adaptiveSizing) {
      throw new InvalidOptionError(
        `adaptiveSizing.${key}`,
        (options.adaptiveSizing as Record<string, unknown>)[key],
        `no such option here; set the pool's own "${key}"`,
      );
    }
  }
  const adaptiveSizing = nested('adaptiveSizing.', () =>
    resolveAdaptiveSizerOptions({
      ...options.adaptiveSizing,
      minSize,
      maxSize,
      targetUtilization,
      clock,
    }),
  );

  return {
    driver,
    minSize,
    maxSize,
    acquireTimeoutMs,
    maxLifetimeMs,
    maxLifetimeJitter,
    idleTimeoutMs,
    validateAfterIdleMs,
    validateOnRelease,
    idleOrder,
    maxUses,
    maxWaiting,
    leakDetectionMs,
    circuitBreaker,
    connectBackoff,
    maxConnectionErrors,
    healthCheck,
    sizingIntervalMs,
    adaptiveSizing: sizingIntervalMs === 0 ? undefined : adaptiveSizing,
    name,
    logger,
    clock,
    random,
  };
}

/**
 * The breaker options the pool creates its breaker with: the pool's defaults, then the
 * caller's options on top. Validated here, once, so a bad one names `circuitBreaker.<option>`.
 */
function resolveBreaker(
  value: unknown,
  pool: {
    readonly acquireTimeoutMs: number;
    readonly connectBackoff: ResolvedConnectBackoff;
    readonly clock: Clock;
    readonly random: () => number;
    readonly name: string;
  },
): CircuitBreakerOptions | false {
  if (value === false) return false;
  if (value !== undefined && !isObject(value)) {
    throw new InvalidOptionError(
      'circuitBreaker',
      value,
      'circuit breaker options (an object) or false',
    );
  }
  const merged: CircuitBreakerOptions = {
    window: { kind: 'consecutive', failures: 5 },
    openDurationMs: exponentialBackoff({
      baseMs: pool.connectBackoff.baseMs,
      capMs: pool.connectBackoff.capMs,
      jitter: 'full',
    }),
    halfOpenPermits: 1,
    halfOpenProbeTimeoutMs: Math.min(pool.acquireTimeoutMs + 1_000, MAX_TIMER_DELAY_MS),
    clock: pool.clock,
    random: pool.random,
    name: pool.name,
    ...(value as CircuitBreakerOptions | undefined),
  };
  nested('circuitBreaker.', () => resolveCircuitBreakerOptions(merged));
  return merged;
}
