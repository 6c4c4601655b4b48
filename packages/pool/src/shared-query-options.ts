import { InvalidOptionError, numberOption } from '@enhanced-pool/core';
import type { QueryPoolOptions } from './pool-options.js';

/** {@link QueryPoolOptions} with defaults applied. */
export interface ResolvedQueryPoolOptions {
  readonly maxInFlightPerConnection: number;
  readonly maxSharedConnections: number;
}

const QUERY_KEYS: ReadonlySet<string> = new Set([
  'maxInFlightPerConnection',
  'maxSharedConnections',
]);

/**
 * Applies the defaults of the pool's `query` option and validates it once, at construction;
 * `maxSize` is the pool's. Throws `InvalidOptionError` naming `query.<field>`, the value and the
 * allowed range.
 */
export function resolveQueryPoolOptions(
  value: QueryPoolOptions | undefined,
  maxSize: number,
): ResolvedQueryPoolOptions {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new InvalidOptionError(
      'query',
      value,
      'an object { maxInFlightPerConnection, maxSharedConnections }',
    );
  }
  const given = (value ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!QUERY_KEYS.has(key)) {
      throw new InvalidOptionError(`query.${key}`, given[key], 'no such option');
    }
  }
  return {
    maxInFlightPerConnection: numberOption(
      'query.maxInFlightPerConnection',
      given.maxInFlightPerConnection,
      8,
      { min: 1, max: 1_000, integer: true },
    ),
    maxSharedConnections: numberOption(
      'query.maxSharedConnections',
      given.maxSharedConnections,
      maxSize,
      { min: 1, max: maxSize, integer: true },
    ),
  };
}
