import {
  booleanOption,
  type Clock,
  clockOption,
  InvalidOptionError,
  numberOption,
  stringOption,
} from '@enhanced-pool/core';
import type { PgClientConfig, PgClientConstructor, PgClientLike } from './pg-client-like.js';

/** The largest delay a Node timer honours; longer ones fire after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;
/** PostgreSQL truncates `application_name` to NAMEDATALEN - 1 bytes. */
const MAX_APPLICATION_NAME_LENGTH = 63;

/**
 * Options of {@link createPgDriver}. Give exactly one of `connectionString` and `config`.
 *
 * @typeParam TClient - the client class's instance type; inferred from `Client`, so passing
 * `Client: pg.Client` gives `lease.connection` all of `pg`'s types.
 */
export interface PgDriverOptions<TClient extends PgClientLike = PgClientLike> {
  /**
   * A PostgreSQL connection URL, e.g. `postgresql://app:secret@db.internal:5432/orders`. Its
   * password never reaches our errors, logs or `describe()`.
   */
  readonly connectionString?: string;
  /**
   * A `pg` client config (host, port, user, password, database, ssl, …), passed to `pg` as is
   * apart from the settings below. Everything in it, including what is not listed in
   * {@link PgClientConfig}, reaches the client.
   */
  readonly config?: PgClientConfig;
  /**
   * Names this pool's connections in `pg_stat_activity`, so they can be counted and told apart.
   * Sent as PostgreSQL's `fallback_application_name`: an `application_name` already set in the
   * connection string, in `config` or in `PGAPPNAME` wins.
   * @default 'enhanced-pool'
   */
  readonly applicationName?: string;
  /**
   * The statement `validate()` runs to prove a connection can serve.
   * @default 'SELECT 1'
   */
  readonly validationQuery?: string;
  /**
   * How long the validation query, and `reset()`'s `ROLLBACK`, may take before the connection
   * is marked broken (a statement stuck on the wire can't be cancelled cheaply). The caller's
   * signal bounds both as well. `Infinity` leaves only the signal.
   * @default 5000
   */
  readonly validationTimeoutMs?: number;
  /**
   * TCP keepalive on every connection, so an idle connection dropped by a NAT, load balancer or
   * firewall is noticed and reported by `isBroken()` instead of failing the next query. A
   * `keepAlive` in `config` is used when this is not given.
   * @default true
   */
  readonly keepAlive?: boolean;
  /**
   * Idle time before the first keepalive probe. The operating system's default (two hours on
   * Linux) is longer than most NAT idle timeouts. A `keepAliveInitialDelayMillis` in `config`
   * is used when this is not given.
   * @default 10000
   */
  readonly keepAliveInitialDelayMs?: number;
  /**
   * Server-side `statement_timeout` for every statement on these connections, sent in the
   * startup packet (no extra round trip). The server's default applies when omitted. A
   * `statement_timeout` in the connection string wins over this (pg's precedence).
   * @default undefined
   */
  readonly statementTimeoutMs?: number;
  /**
   * How long `close()` waits for a graceful goodbye (`Terminate`, then the server closing the
   * socket) before destroying the socket.
   * @default 1000
   */
  readonly closeTimeoutMs?: number;
  /**
   * The client class. Pass `pg.Client` for `pg`'s full types on connections, `pg.native.Client`
   * for libpq, or a test double.
   * @default pg.Client
   */
  readonly Client?: PgClientConstructor<TClient>;
  /**
   * The clock that times validation, reset and close deadlines.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** {@link PgDriverOptions} with defaults applied and checked; built once per driver. */
export interface ResolvedPgDriverOptions<TClient extends PgClientLike> {
  /** What each `new Client()` receives. Holds the password: never log or expose it. */
  readonly clientConfig: PgClientConfig;
  /** `connectionString` or `config`: which option to name in errors about the target. */
  readonly targetOption: 'connectionString' | 'config';
  readonly validationQuery: string;
  readonly validationTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly Client: PgClientConstructor<TClient> | undefined;
  readonly clock: Clock;
}

/**
 * Merges defaults into {@link PgDriverOptions} and validates every field once. Throws
 * {@link InvalidOptionError} naming the option, a secret-free rendering of the value and the
 * allowed range.
 */
export function resolvePgDriverOptions<TClient extends PgClientLike>(
  options: PgDriverOptions<TClient>,
): ResolvedPgDriverOptions<TClient> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an object with connectionString or config');
  }
  const { connectionString, config } = options;
  let base: PgClientConfig;
  let targetOption: 'connectionString' | 'config';
  if (connectionString !== undefined && config !== undefined) {
    throw new InvalidOptionError(
      'connectionString',
      '[connection string]',
      'exactly one of connectionString and config, not both',
    );
  } else if (connectionString !== undefined) {
    if (typeof connectionString !== 'string' || connectionString.trim().length === 0) {
      throw new InvalidOptionError(
        'connectionString',
        describeConfigValue(connectionString),
        'a non-empty PostgreSQL connection string',
      );
    }
    base = { connectionString };
    targetOption = 'connectionString';
  } else if (config !== undefined) {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new InvalidOptionError('config', describeConfigValue(config), 'a pg client config');
    }
    base = { ...config };
    targetOption = 'config';
  } else {
    throw new InvalidOptionError(
      'connectionString',
      undefined,
      'a PostgreSQL connection string, or a pg client config in `config`',
    );
  }

  const applicationName = stringOption('applicationName', options.applicationName, 'enhanced-pool');
  if (applicationName.length > MAX_APPLICATION_NAME_LENGTH) {
    throw new InvalidOptionError(
      'applicationName',
      applicationName,
      `a non-empty string of at most ${MAX_APPLICATION_NAME_LENGTH} characters`,
    );
  }
  const keepAlive = booleanOption('keepAlive', options.keepAlive, base.keepAlive ?? true);
  const keepAliveInitialDelayMs = numberOption(
    'keepAliveInitialDelayMs',
    options.keepAliveInitialDelayMs,
    base.keepAliveInitialDelayMillis ?? 10_000,
    { min: 0, max: MAX_TIMER_MS, integer: true },
  );
  const statementTimeoutMs =
    options.statementTimeoutMs === undefined
      ? undefined
      : numberOption('statementTimeoutMs', options.statementTimeoutMs, 0, {
          min: 1,
          max: MAX_TIMER_MS,
          integer: true,
        });

  const Client = options.Client;
  if (Client !== undefined && typeof Client !== 'function') {
    throw new InvalidOptionError('Client', Client, 'a pg Client class (constructor)');
  }
  const clock = clockOption('clock', options.clock);

  const clientConfig: PgClientConfig = {
    ...base,
    fallback_application_name:
      options.applicationName ?? base.fallback_application_name ?? applicationName,
    keepAlive,
    keepAliveInitialDelayMillis: keepAliveInitialDelayMs,
    ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs }),
  };

  return {
    clientConfig,
    targetOption,
    validationQuery: stringOption('validationQuery', options.validationQuery, 'SELECT 1'),
    validationTimeoutMs: numberOption('validationTimeoutMs', options.validationTimeoutMs, 5_000, {
      min: 1,
      max: MAX_TIMER_MS,
      allowInfinity: true,
    }),
    closeTimeoutMs: numberOption('closeTimeoutMs', options.closeTimeoutMs, 1_000, {
      min: 0,
      max: MAX_TIMER_MS,
    }),
    Client,
    clock,
  };
}

/** Never put an object (a config may hold a password) into an error's `value`. */
function describeConfigValue(value: unknown): unknown {
  return typeof value === 'object' && value !== null ? '[config object]' : value;
}
