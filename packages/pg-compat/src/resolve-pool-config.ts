import {
  booleanOption,
  type Clock,
  clockOption,
  InvalidOptionError,
  type Logger,
  loggerOption,
  numberOption,
} from '@enhanced-pool/core';
import type {
  PgClientConfig,
  PgClientConstructor,
  PgDriverOptions,
} from '@enhanced-pool/driver-pg';
import type { PoolOptions } from '@enhanced-pool/pool';
import type { ClientBase, PoolOptions as PgPoolOptions, PoolClient } from 'pg';
import type { EnhancedDriverOptions, EnhancedOptions, PoolConfig } from './pool-config.js';

/** The longest delay a Node timer honours: "no deadline" for the enhanced pool. */
const MAX_TIMER_MS = 2_147_483_647;

const DRIVER_OPTION_KEYS: ReadonlySet<string> = new Set([
  'validationQuery',
  'validationTimeoutMs',
  'closeTimeoutMs',
  'applicationName',
]);

/** Enhanced options that pg-pool already names: set through the pg-pool option instead. */
const MAPPED: Readonly<Record<string, string>> = {
  driver: 'the pg driver is built from the connection fields; set those instead',
  minSize: 'set "min" instead',
  maxSize: 'set "max" instead',
  idleTimeoutMs: 'set "idleTimeoutMillis" instead',
  acquireTimeoutMs: 'set "connectionTimeoutMillis" instead',
  maxLifetimeMs: 'set "maxLifetimeSeconds" instead',
  maxUses: 'set "maxUses" instead',
};

/** A pg-pool log function: any number of arguments, usually a message and a detail. */
export type LogFunction = (...messages: unknown[]) => void;

/** `new Pool(config)` taken apart: what the enhanced pool, the driver and this package need. */
export interface ResolvedPoolConfig {
  /** `pool.options`: the config with pg-pool's defaults filled in, credentials hidden. */
  readonly publicOptions: PgPoolOptions;
  /** Every option but the pool ones, for the pg driver (holds the password: never expose). */
  readonly driverOptions: PgDriverOptions<PoolClient & ClientBase>;
  /** For `createPool()`, without its driver (built from `driverOptions`). */
  readonly poolOptions: Omit<PoolOptions<PoolClient>, 'driver'>;
  /** Keys the user set in `enhanced`, so an error about one can be named `enhanced.<key>`. */
  readonly enhancedKeys: ReadonlySet<string>;
  readonly log: LogFunction;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly allowExitOnIdle: boolean;
  /** Milliseconds; `Infinity` when connections live forever. */
  readonly maxLifetimeMs: number;
  readonly endTimeoutMs: number;
  readonly onConnect: ((client: PoolClient) => unknown) | undefined;
  readonly verify:
    | ((client: PoolClient, done: (error?: Error | undefined) => void) => void)
    | undefined;
  readonly Promise: PromiseConstructorLike | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function functionOption<T>(option: string, value: unknown, allowed: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError(option, value, allowed);
  return value as T;
}

/** pg-pool reads `0`, `null` and `undefined` alike as "not set" for its numeric options. */
function unset(value: unknown): boolean {
  return value === undefined || value === null || value === 0;
}

/** A logger that hands the enhanced pool's messages to a pg-pool `log` function. */
function logFunctionLogger(log: LogFunction): Logger {
  return {
    debug: (message, context) => (context === undefined ? log(message) : log(message, context)),
    info: (message, context) => (context === undefined ? log(message) : log(message, context)),
    warn: (message, context) => (context === undefined ? log(message) : log(message, context)),
    error: (message, context) => (context === undefined ? log(message) : log(message, context)),
  };
}

const noopLog: LogFunction = () => {};

function hide(target: Record<string, unknown>, key: string): void {
  if (!(key in target)) return;
  Object.defineProperty(target, key, {
    configurable: true,
    enumerable: false,
    writable: true,
    value: target[key],
  });
}

/**
 * Reads pg-pool's configuration the way pg-pool 3.14 does (its defaults, `0` meaning "not set"
 * for `max`, `maxUses` and the timeouts) but refuses what pg-pool would silently misuse: a
 * non-number, a negative or fractional size, `min` above `max`. Throws `InvalidOptionError`
 * naming the option, the value and the allowed range.
 */
export function resolvePoolConfig(
  config: PoolConfig | undefined,
  ClientArgument: unknown,
): ResolvedPoolConfig {
  if (config !== undefined && config !== null && !isObject(config)) {
    throw new InvalidOptionError('config', config, 'a pg Pool config object, or nothing');
  }
  const input: Record<string, unknown> = { ...(config ?? {}) };
  // A non-enumerable password (pg-pool hides it so) must still reach the clients.
  if (config !== undefined && config !== null && 'password' in config) {
    input.password = config.password;
  }
  const { enhanced: enhancedInput, ...clientFields } = input;

  const max = unset(input.max)
    ? unset(input.poolSize)
      ? 10
      : numberOption('poolSize', input.poolSize, 10, { min: 1, integer: true })
    : numberOption('max', input.max, 10, { min: 1, integer: true });
  const min = unset(input.min) ? 0 : numberOption('min', input.min, 0, { min: 0, integer: true });
  if (min > max) throw new InvalidOptionError('min', min, `an integer ≥ 0 and ≤ max (${max})`);
  const idleTimeoutMillis =
    input.idleTimeoutMillis === undefined
      ? 10_000
      : input.idleTimeoutMillis === null
        ? null
        : numberOption('idleTimeoutMillis', input.idleTimeoutMillis, 10_000, {
            min: 0,
            max: MAX_TIMER_MS,
          });
  const connectionTimeoutMillis = unset(input.connectionTimeoutMillis)
    ? 0
    : numberOption('connectionTimeoutMillis', input.connectionTimeoutMillis, 0, {
        min: 1,
        max: MAX_TIMER_MS,
      });
  const maxLifetimeSeconds = unset(input.maxLifetimeSeconds)
    ? 0
    : numberOption('maxLifetimeSeconds', input.maxLifetimeSeconds, 0, {
        min: 0,
        max: MAX_TIMER_MS / 1000,
      });
  const maxUses = unset(input.maxUses)
    ? Infinity
    : numberOption('maxUses', input.maxUses, Infinity, {
        min: 1,
        integer: true,
        allowInfinity: true,
      });
  const allowExitOnIdle =
    input.allowExitOnIdle === null
      ? false
      : booleanOption('allowExitOnIdle', input.allowExitOnIdle, false);
  const log =
    functionOption<LogFunction>('log', input.log, 'a function taking log messages') ?? noopLog;
  const Client = functionOption<PgClientConstructor<PoolClient & ClientBase>>(
    'Client',
    input.Client ?? ClientArgument,
    'a pg Client class (constructor)',
  );
  const onConnect = functionOption<(client: PoolClient) => unknown>(
    'onConnect',
    input.onConnect,
    'a function (client) => void | Promise<void>',
  );
  const verify = functionOption<ResolvedPoolConfig['verify']>(
    'verify',
    input.verify,
    'a function (client, done) => void',
  );
  const PromiseOption = functionOption<PromiseConstructorLike>(
    'Promise',
    input.Promise,
    'a Promise constructor',
  );

  const enhanced = resolveEnhanced(enhancedInput);
  const {
    endTimeoutMs: endTimeoutInput,
    driverOptions: driverInput,
    maxLifetimeJitter,
    sizingIntervalMs,
    name,
    logger: loggerInput,
    clock: clockInput,
    ...rest
  } = enhanced;
  const endTimeoutMs = numberOption('enhanced.endTimeoutMs', endTimeoutInput, 30_000, {
    min: 0,
    max: MAX_TIMER_MS,
  });
  const logger =
    loggerInput === undefined
      ? logFunctionLogger(log)
      : loggerOption('enhanced.logger', loggerInput);
  const clock = clockOption('enhanced.clock', clockInput);
  const driverSettings = resolveDriverSettings(driverInput);

  const publicOptions = {
    ...clientFields,
    max,
    min,
    idleTimeoutMillis,
    connectionTimeoutMillis,
    maxLifetimeSeconds,
    maxUses,
    allowExitOnIdle,
  } as Record<string, unknown>;
  hide(publicOptions, 'password');
  // A connection string can hold a password too.
  hide(publicOptions, 'connectionString');
  if (isObject(publicOptions.ssl) && 'key' in publicOptions.ssl) {
    const ssl = { ...publicOptions.ssl };
    hide(ssl, 'key');
    publicOptions.ssl = ssl;
  }

  const clientConfig = { ...clientFields } as PgClientConfig & Record<string, unknown>;
  const maxLifetimeMs = maxLifetimeSeconds === 0 ? Infinity : maxLifetimeSeconds * 1000;
  return {
    publicOptions: publicOptions as unknown as PgPoolOptions,
    driverOptions: {
      config: clientConfig,
      ...driverSettings,
      ...(Client === undefined ? {} : { Client }),
      clock,
    },
    poolOptions: {
      ...rest,
      name: name ?? 'pg-compat',
      minSize: min,
      maxSize: max,
      idleTimeoutMs: idleTimeoutMillis ?? 0,
      acquireTimeoutMs: connectionTimeoutMillis === 0 ? MAX_TIMER_MS : connectionTimeoutMillis,
      maxLifetimeMs: maxLifetimeMs === Infinity ? 0 : maxLifetimeMs,
      maxLifetimeJitter: maxLifetimeJitter ?? 0,
      sizingIntervalMs: sizingIntervalMs ?? 0,
      maxUses,
      logger,
      clock,
    },
    enhancedKeys: new Set(Object.keys(enhanced)),
    log,
    logger,
    clock,
    allowExitOnIdle,
    maxLifetimeMs,
    endTimeoutMs,
    onConnect,
    verify,
    Promise: PromiseOption,
  };
}

function resolveEnhanced(value: unknown): EnhancedOptions {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    throw new InvalidOptionError('enhanced', value, 'an object of enhanced pool options');
  }
  for (const key of Object.keys(value)) {
    const hint = MAPPED[key];
    if (hint !== undefined) {
      throw new InvalidOptionError(`enhanced.${key}`, value[key], `no such option here; ${hint}`);
    }
  }
  return value as EnhancedOptions;
}

function resolveDriverSettings(value: unknown): EnhancedDriverOptions {
  if (value === undefined) return {};
  if (!isObject(value)) {
    throw new InvalidOptionError(
      'enhanced.driverOptions',
      value,
      'an object { validationQuery, validationTimeoutMs, closeTimeoutMs, applicationName }',
    );
  }
  for (const key of Object.keys(value)) {
    if (!DRIVER_OPTION_KEYS.has(key)) {
      throw new InvalidOptionError(`enhanced.driverOptions.${key}`, value[key], 'no such option');
    }
  }
  return value as EnhancedDriverOptions;
}
