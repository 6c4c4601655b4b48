import { stringOption } from '@enhanced-pool/core';
import type { BreakerMetricsSource } from '../sources.js';

/** Options of {@link instrumentBreaker}. */
export interface InstrumentBreakerOptions {
  /**
   * The `enhanced_pool.breaker.name` attribute, which tells breakers sharing a meter apart. Keep
   * it to a fixed, low-cardinality label (a database role, a host alias): never a URL with
   * credentials (those are redacted anyway) nor anything per request.
   * @default the breaker's own `name` option, else `'circuit-breaker'`
   */
  readonly name?: string;
}

/** {@link InstrumentBreakerOptions} with its default applied. */
export interface ResolvedInstrumentBreakerOptions {
  readonly name: string;
}

const DEFAULT_BREAKER_NAME = 'circuit-breaker';

/**
 * Validates the options once and applies the default. The breaker's own name is read here, not
 * per collection: a breaker's name is fixed at construction, and an attribute that changed
 * between collections would split one breaker into two series.
 *
 * @throws InvalidOptionError when `name` is given but is not a non-empty string.
 */
export function resolveInstrumentBreakerOptions(
  breaker: BreakerMetricsSource,
  options: InstrumentBreakerOptions = {},
): ResolvedInstrumentBreakerOptions {
  const own = breaker.metrics().name;
  const fallback = own !== undefined && own.length > 0 ? own : DEFAULT_BREAKER_NAME;
  return { name: stringOption('name', options.name, fallback) };
}
