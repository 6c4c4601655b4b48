import { InvalidOptionError, stringOption } from '@enhanced-pool/core';

/** Options of `registerPoolMetrics()`. */
export interface PrometheusPoolMetricsOptions {
  /**
   * Prepended to every metric name. Letters, digits and underscores, not starting with a digit;
   * end it with `_`. Pools registered with the same prefix on one registry share the metric names.
   * @default 'enhanced_pool_'
   */
  readonly prefix?: string;
}

/** Options of `registerBreakerMetrics()`. */
export interface PrometheusBreakerMetricsOptions {
  /**
   * The `breaker` label value. Must be unique among the breakers registered on one registry with
   * the same prefix.
   * @default the breaker's own `name`, else `'breaker'`
   */
  readonly name?: string;
  /**
   * Prepended to every metric name, as for pools.
   * @default 'enhanced_breaker_'
   */
  readonly prefix?: string;
}

export interface ResolvedPoolMetricsOptions {
  readonly prefix: string;
}

export interface ResolvedBreakerMetricsOptions {
  readonly name: string;
  readonly prefix: string;
}

/** No colons: Prometheus keeps those for recording rules. Empty is allowed (bare names). */
const PREFIX_PATTERN = /^(?:[a-zA-Z_][a-zA-Z0-9_]*)?$/;
const PREFIX_ALLOWED =
  'letters, digits and underscores, not starting with a digit (e.g. "app_db_")';

function prefixOption(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !PREFIX_PATTERN.test(value)) {
    throw new InvalidOptionError('prefix', value, PREFIX_ALLOWED);
  }
  return value;
}

/** Merges the defaults and validates, once, at registration. */
export function resolvePoolMetricsOptions(
  options: PrometheusPoolMetricsOptions = {},
): ResolvedPoolMetricsOptions {
  return { prefix: prefixOption(options.prefix, 'enhanced_pool_') };
}

/**
 * Merges the defaults and validates, once, at registration. `breakerName` is the breaker's own
 * `metrics().name` (`'breaker'` when it has none), read then: the label stays fixed for the registration's lifetime.
 */
export function resolveBreakerMetricsOptions(
  options: PrometheusBreakerMetricsOptions = {},
  breakerName: string | undefined,
): ResolvedBreakerMetricsOptions {
  return {
    name: stringOption('name', options.name, breakerName || 'breaker'),
    prefix: prefixOption(options.prefix, 'enhanced_breaker_'),
  };
}
