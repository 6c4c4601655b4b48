/**
 * The closed set of reasons a driver sorts its errors into. Pool policy (retry, discard the
 * connection, feed the breaker) is decided from the reason alone, so adapters stay dumb and
 * the pool stays database-agnostic.
 *
 * - `connection`: the network path or the server process failed (refused, reset, terminated).
 * - `timeout`: the server or the driver gave up on a deadline (statement timeout, connect timeout).
 * - `authentication`: credentials were rejected.
 * - `configuration`: the request can never succeed as configured (unknown database, bad host).
 * - `resource-exhausted`: the server is up but refuses more work (too many connections).
 * - `query`: the statement itself failed (syntax, constraint); the connection is fine.
 * - `unknown`: anything the adapter could not place.
 */
export type ErrorReason =
  | 'connection'
  | 'timeout'
  | 'authentication'
  | 'configuration'
  | 'resource-exhausted'
  | 'query'
  | 'unknown';

/** Every reason, in a stable order (for tables, metrics labels and exhaustive tests). */
export const ERROR_REASONS: readonly ErrorReason[] = Object.freeze([
  'connection',
  'timeout',
  'authentication',
  'configuration',
  'resource-exhausted',
  'query',
  'unknown',
]);

/**
 * True when the reason means "the database is unreachable": the only reasons that feed a
 * circuit breaker. A constraint violation (`query`) must never trip it.
 */
export function isUnreachableReason(reason: ErrorReason): boolean {
  return reason === 'connection' || reason === 'timeout' || reason === 'resource-exhausted';
}

/**
 * True when retrying later may succeed without anyone changing configuration. Authentication
 * and configuration errors are fatal: retrying them only hammers the server and hides the bug.
 */
export function isRetryableReason(reason: ErrorReason): boolean {
  return isUnreachableReason(reason) || reason === 'unknown';
}

/**
 * True when the reason says the connection itself can no longer be trusted, so the pool should
 * destroy it rather than return it to idle.
 */
export function isConnectionFatalReason(reason: ErrorReason): boolean {
  return reason === 'connection';
}
