import {
  booleanOption,
  type Clock,
  type Driver,
  InvalidOptionError,
  type Logger,
  noopLogger,
  numberOption,
  stringOption,
  systemClock,
} from '@enhanced-pool/core';

/** The longest delay a Node timer accepts; longer ones fire after 1 ms instead. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

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
   * An idle connection unused for this long is closed, down to `minSize`. `0` or `Infinity`
   * never closes idle connections.
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
   * Returns a number in [0, 1); used for lifetime jitter. Tests pass a fixed function.
   * @default Math.random
   */
  readonly random?: () => number;
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
  readonly maxUses: number;
  readonly maxWaiting: number;
  /** `0` when leak detection is off. */
  readonly leakDetectionMs: number;
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
  'maxUses',
  'maxWaiting',
  'leakDetectionMs',
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
};

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

  const logger = options.logger ?? noopLogger;
  if (!hasFunctions(logger, ['debug', 'info', 'warn', 'error'])) {
    throw new InvalidOptionError('logger', logger, 'a Logger (debug, info, warn, error)');
  }
  const clock = options.clock ?? systemClock;
  if (!hasFunctions(clock, ['now', 'setTimeout', 'clearTimeout'])) {
    throw new InvalidOptionError('clock', clock, 'a Clock (now, setTimeout, clearTimeout)');
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') {
    throw new InvalidOptionError('random', random, 'a function returning a number in [0, 1)');
  }

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
    maxUses,
    maxWaiting,
    leakDetectionMs,
    name,
    logger,
    clock,
    random,
  };
}
