import { type Clock, clockOption, InvalidOptionError, numberOption } from '@enhanced-pool/core';

/**
 * Options of {@link createAdaptiveSizer}. Every field has a default that works without tuning;
 * the pool passes its own `minSize` and `maxSize`.
 */
export interface AdaptiveSizerOptions {
  /**
   * The fewest connections the sizer will ever ask for. Shrinking stops here, so a warm minimum
   * is always ready for the next burst.
   * @default 2
   */
  readonly minSize?: number;
  /**
   * The most connections the sizer will ever ask for: the database's budget for this process.
   * Growth stops here however high the demand.
   * @default 10
   */
  readonly maxSize?: number;
  /**
   * The share of connections that should be in use at steady state (the seed's
   * `target_utilization`). The sizer aims for `demand / targetUtilization` connections, so the
   * rest is headroom that absorbs bursts without queueing. Lower buys shorter waits with more
   * idle connections; higher saves connections at the price of waits during bursts.
   * @default 0.7
   */
  readonly targetUtilization?: number;
  /**
   * Utilisation under which the pool counts as oversized. It must be below
   * `targetUtilization`: the band between the two is the hysteresis that keeps a steady load from
   * growing and shrinking the pool in turn.
   * @default targetUtilization / 2
   */
  readonly shrinkUtilization?: number;
  /**
   * Half-life of the fast moving average of demand that growth follows. Samples are weighted
   * by the time they cover, so a sustained step (a whole sampling interval) moves it almost all
   * the way at once, while an on-demand sample a few milliseconds after the last one barely
   * moves it.
   * @default 500
   */
  readonly growthHalfLifeMs?: number;
  /**
   * Half-life of the slow moving average of demand that shrinking follows. Demand must have been
   * low for a while, not for one quiet sample, before a connection is retired.
   * @default 10_000
   */
  readonly shrinkHalfLifeMs?: number;
  /**
   * How long utilisation must stay continuously below `shrinkUtilization` (and since the last
   * growth) before the first connection is retired. Reconnecting costs far more than an idle
   * connection for half a minute, so a lull between bursts must not shrink the pool.
   * @default 30_000
   */
  readonly shrinkCooldownMs?: number;
  /**
   * The most connections one decision retires. Shrinking gradually means a returning load finds
   * most connections still open.
   * @default 2
   */
  readonly maxShrinkStep?: number;
  /**
   * The least time between two shrinking decisions, however often `decide()` is called, so the
   * rate of retirement is `maxShrinkStep` per this interval.
   * @default 1_000
   */
  readonly shrinkStepIntervalMs?: number;
  /**
   * The most connections one decision adds. Unlimited by default: the sizer estimates the
   * needed size and jumps to it, because growing one connection per tick leaves callers waiting
   * for many ticks. Set it to bound the connect storm a single decision can cause.
   * @default Infinity
   */
  readonly maxGrowthStep?: number;
  /**
   * The source of time for sample timestamps, cooldowns and shrink spacing. Inject the fake
   * clock from `@enhanced-pool/testing` in tests.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** {@link AdaptiveSizerOptions} with every default applied and every value validated. */
export interface ResolvedAdaptiveSizerOptions {
  readonly minSize: number;
  readonly maxSize: number;
  readonly targetUtilization: number;
  readonly shrinkUtilization: number;
  readonly growthHalfLifeMs: number;
  readonly shrinkHalfLifeMs: number;
  readonly shrinkCooldownMs: number;
  readonly maxShrinkStep: number;
  readonly shrinkStepIntervalMs: number;
  readonly maxGrowthStep: number;
  readonly clock: Clock;
}

/**
 * Merges defaults and validates every option once, at construction. Throws
 * `InvalidOptionError` naming the option, the value and the allowed range, including the
 * cross-field rules (`minSize ≤ maxSize`, `shrinkUtilization < targetUtilization`).
 */
export function resolveAdaptiveSizerOptions(
  options: AdaptiveSizerOptions = {},
): ResolvedAdaptiveSizerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', options, 'an AdaptiveSizerOptions object');
  }
  const maxSize = numberOption('maxSize', options.maxSize, 10, { min: 1, integer: true });
  const minSize = numberOption('minSize', options.minSize, Math.min(2, maxSize), {
    min: 0,
    integer: true,
  });
  if (minSize > maxSize) {
    throw new InvalidOptionError('minSize', minSize, `an integer ≥ 0 and ≤ maxSize (${maxSize})`);
  }
  const targetUtilization = numberOption('targetUtilization', options.targetUtilization, 0.7, {
    min: 0.01,
    max: 1,
  });
  const shrinkUtilization = numberOption(
    'shrinkUtilization',
    options.shrinkUtilization,
    targetUtilization / 2,
    { min: 0, max: 1 },
  );
  if (shrinkUtilization >= targetUtilization) {
    throw new InvalidOptionError(
      'shrinkUtilization',
      shrinkUtilization,
      `a number ≥ 0 and < targetUtilization (${targetUtilization})`,
    );
  }
  const clock = clockOption('clock', options.clock);
  return {
    minSize,
    maxSize,
    targetUtilization,
    shrinkUtilization,
    growthHalfLifeMs: numberOption('growthHalfLifeMs', options.growthHalfLifeMs, 500, { min: 1 }),
    shrinkHalfLifeMs: numberOption('shrinkHalfLifeMs', options.shrinkHalfLifeMs, 10_000, {
      min: 1,
    }),
    shrinkCooldownMs: numberOption('shrinkCooldownMs', options.shrinkCooldownMs, 30_000, {
      min: 0,
    }),
    maxShrinkStep: numberOption('maxShrinkStep', options.maxShrinkStep, 2, {
      min: 1,
      integer: true,
    }),
    shrinkStepIntervalMs: numberOption(
      'shrinkStepIntervalMs',
      options.shrinkStepIntervalMs,
      1_000,
      { min: 0 },
    ),
    maxGrowthStep: numberOption('maxGrowthStep', options.maxGrowthStep, Infinity, {
      min: 1,
      integer: true,
      allowInfinity: true,
    }),
    clock,
  };
}
