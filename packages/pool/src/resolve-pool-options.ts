import { resolveAdaptiveSizerOptions } from '@enhanced-pool/adaptive-sizer';
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
  loggerOption,
  numberOption,
  stringOption,
} from '@enhanced-pool/core';
import { resolveHealthCheckerOptions } from '@enhanced-pool/health-checker';
import { type ConnectionTypePoolOptions, driverForConnectionType } from './connection-type.js';
import { resolveFleetBudget } from './fleet-budget-options.js';
import {
  MAX_TIMER_DELAY_MS,
  type PoolOptions,
  type ResolvedConnectBackoff,
  type ResolvedPoolOptions,
} from './pool-options.js';

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'driver',
  'connectionType',
  'connectionParams',
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
  'outageGraceMs',
  'maxConnectionErrors',
  'healthCheckIntervalMs',
  'validationIntervalMs',
  'keepaliveMs',
  'maxValidationsPerRun',
  'validationTimeoutMs',
  'targetUtilization',
  'sizingIntervalMs',
  'adaptiveSizing',
  'metrics',
  'query',
  'name',
  'logger',
  'clock',
  'random',
  'fleetBudget',
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
  connection_type: 'connectionType',
  connection_params: 'connectionParams',
  connCircuitBreaker: 'circuitBreaker',
  breaker: 'circuitBreaker',
};

/**
 * Renamed options whose old value was in seconds (the seed's `timeout=30.0`, pg-pool's
 * `maxLifetimeSeconds`): ours are in milliseconds, and the hint says so with the figure.
 */
const SECONDS_OPTIONS: ReadonlySet<string> = new Set([
  'timeout',
  'max_lifetime',
  'validation_interval',
  'health_check_interval',
  'maxLifetimeSeconds',
]);

/** What an unknown option is told: the name to use, and the unit when it changed. */
function renamedHint(key: string, value: unknown): string {
  const renamed = RENAMED_OPTIONS[key];
  if (renamed === undefined) return 'no such option';
  const hint = `no such option; did you mean "${renamed}"?`;
  if (!SECONDS_OPTIONS.has(key)) return hint;
  const inMs =
    typeof value === 'number' && Number.isFinite(value)
      ? ` (${value} s is ${renamed}: ${Math.round(value * 1_000)})`
      : '';
  return `${hint} It is in milliseconds, not seconds${inMs}`;
}

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

/** `driver`, or a driver built from `connectionType` + `connectionParams`; never both. */
function resolvePoolDriver<TConnection>(given: Record<string, unknown>): Driver<TConnection> {
  const seedShape = given.connectionType !== undefined || given.connectionParams !== undefined;
  if (!seedShape) return resolveDriver<TConnection>(given.driver);
  if (given.driver !== undefined) {
    throw new InvalidOptionError(
      'connectionType',
      given.connectionType,
      'absent when driver is given (give a driver, or connectionType and connectionParams)',
    );
  }
  return driverForConnectionType(
    given.connectionType,
    given.connectionParams,
  ) as Driver<TConnection>;
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
  options: PoolOptions<TConnection> | ConnectionTypePoolOptions<TConnection>,
): ResolvedPoolOptions<TConnection> {
  if (!isObject(options)) {
    throw new InvalidOptionError('options', options, 'an object with at least a driver');
  }
  const given = options as unknown as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (KNOWN_OPTIONS.has(key)) continue;
    throw new InvalidOptionError(key, given[key], renamedHint(key, given[key]));
  }

  const driver = resolvePoolDriver<TConnection>(given);
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
  const metrics = booleanOption('metrics', options.metrics, true);

  const logger = loggerOption('logger', options.logger);
  const clock = clockOption('clock', options.clock);
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') {
    throw new InvalidOptionError('random', random, 'a function returning a number in [0, 1)');
  }

  const connectBackoff = resolveConnectBackoff(options.connectBackoff);
  const outageGraceMs = numberOption('outageGraceMs', options.outageGraceMs, 2_000, {
    min: 0,
    max: MAX_TIMER_DELAY_MS,
  });
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

  const fleetBudget = resolveFleetBudget(options.fleetBudget, driver);

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
    outageGraceMs,
    maxConnectionErrors,
    healthCheck,
    sizingIntervalMs,
    adaptiveSizing: sizingIntervalMs === 0 ? undefined : adaptiveSizing,
    metrics,
    name,
    logger,
    clock,
    random,
    fleetBudget,
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
