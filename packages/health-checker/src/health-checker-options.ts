import {
  type Clock,
  clockOption,
  InvalidOptionError,
  type Logger,
  loggerOption,
  numberOption,
} from '@enhanced-pool/core';

/** Options of {@link createHealthChecker}. Every field is optional and validated once. */
export interface HealthCheckerOptions {
  /**
   * Time between the end of one run and the start of the next (the seed's
   * `health_check_interval`). Runs never overlap: a slow run pushes the next one back.
   * `Infinity` disables the schedule; `runNow()` still works.
   * @default 60_000
   */
  readonly healthCheckIntervalMs?: number;
  /**
   * An idle connection not validated within this long is validated by the next run (the seed's
   * `validation_interval`). Catches connections the server or network dropped while idle.
   * `0` validates every idle connection every run (still bounded by `maxValidationsPerRun`);
   * `Infinity` never validates on a schedule.
   * @default 300_000
   */
  readonly validationIntervalMs?: number;
  /**
   * The most idle connections one run validates or pings; the checker also never takes more
   * than half of the idle connections at once (at least one). A check must not empty a big
   * pool's idle list under borrowers' feet; the least recently validated go first, so
   * successive runs rotate through the pool.
   * @default 5
   */
  readonly maxValidationsPerRun?: number;
  /**
   * Deadline of one validation or keepalive round trip. A connection that does not answer in
   * time is destroyed as failed: a hung socket is as useless as a closed one.
   * @default 5_000
   */
  readonly validationTimeoutMs?: number;
  /**
   * Pings idle connections that have been silent (no borrower, no validation) for this long, so
   * firewalls, NAT and load balancers don't silently drop them: the most reported problem with
   * pooled PostgreSQL connections. With keepalive on, runs happen at least every
   * `keepaliveMs / 2`, so a connection is silent for at most about `1.5 × keepaliveMs`.
   * `0` turns keepalive off; otherwise at least 1 000 ms (a firewall's idle timeout is minutes).
   * @default 0
   */
  readonly keepaliveMs?: number;
  /**
   * Time source for the schedule, the validation deadline and report timestamps.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where runs are logged: `debug` for a healthy run, `warn` for an unhealthy one, with the
   * report's figures as context. Messages are secret-free.
   * @default noopLogger
   */
  readonly logger?: Logger;
}

/** {@link HealthCheckerOptions} with defaults applied and values validated. */
export interface ResolvedHealthCheckerOptions {
  readonly healthCheckIntervalMs: number;
  readonly validationIntervalMs: number;
  readonly maxValidationsPerRun: number;
  readonly validationTimeoutMs: number;
  readonly keepaliveMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Merges defaults and validates every option once, at construction; an out-of-range value
 * throws `InvalidOptionError` naming the option, the value and the allowed range.
 */
export function resolveHealthCheckerOptions(
  options: HealthCheckerOptions = {},
): ResolvedHealthCheckerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'a HealthCheckerOptions object');
  }
  const clock = clockOption('clock', options.clock);
  const logger = loggerOption('logger', options.logger);
  const keepaliveMs = numberOption('keepaliveMs', options.keepaliveMs, 0, { min: 0 });
  if (keepaliveMs !== 0 && keepaliveMs < 1_000) {
    throw new InvalidOptionError('keepaliveMs', keepaliveMs, '0 (off) or a number ≥ 1000');
  }
  return {
    healthCheckIntervalMs: numberOption(
      'healthCheckIntervalMs',
      options.healthCheckIntervalMs,
      60_000,
      { min: 1, allowInfinity: true },
    ),
    validationIntervalMs: numberOption(
      'validationIntervalMs',
      options.validationIntervalMs,
      300_000,
      { min: 0, allowInfinity: true },
    ),
    maxValidationsPerRun: numberOption('maxValidationsPerRun', options.maxValidationsPerRun, 5, {
      min: 1,
      integer: true,
      allowInfinity: true,
    }),
    validationTimeoutMs: numberOption('validationTimeoutMs', options.validationTimeoutMs, 5_000, {
      min: 1,
    }),
    keepaliveMs,
    clock,
    logger,
  };
}
