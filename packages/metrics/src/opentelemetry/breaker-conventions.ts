/*
 * Names of the circuit-breaker instruments. OpenTelemetry has no convention for breakers, so
 * they live under our own `enhanced_pool.` namespace (as the conventions ask of custom
 * instruments), spelled the way the conventions spell theirs: dotted, snake_case within a
 * segment, a plural count without `.total`, the unit in `unit` rather than in the name.
 */

/** Names the breaker on every breaker instrument (its `name` option, never a call's data). */
export const ATTR_BREAKER_NAME = 'enhanced_pool.breaker.name';
/** On `enhanced_pool.breaker.state`: `closed`, `open`, `half-open` or `isolated`. */
export const ATTR_BREAKER_STATE = 'enhanced_pool.breaker.state';
/** On `enhanced_pool.breaker.calls`: `success`, `failure` or `ignored`. */
export const ATTR_BREAKER_OUTCOME = 'enhanced_pool.breaker.outcome';

/** UpDownCounter, `{breaker}`: 1 for the state the breaker is in, 0 for the others. */
export const METRIC_BREAKER_STATE = 'enhanced_pool.breaker.state';
/** Counter, `{call}`: admitted calls that settled, by outcome. */
export const METRIC_BREAKER_CALLS = 'enhanced_pool.breaker.calls';
/** Counter, `{call}`: calls refused without running. */
export const METRIC_BREAKER_REJECTIONS = 'enhanced_pool.breaker.rejections';
/** Counter, `{call}`: successes and failures slower than `slowCallDurationMs`. */
export const METRIC_BREAKER_SLOW_CALLS = 'enhanced_pool.breaker.slow_calls';
/** Counter, `{timeout}`: half-open trials that did not settle within `halfOpenProbeTimeoutMs`. */
export const METRIC_BREAKER_PROBE_TIMEOUTS = 'enhanced_pool.breaker.probe_timeouts';
/** Gauge, `1`: failures / calls in the breaker's window. */
export const METRIC_BREAKER_FAILURE_RATE = 'enhanced_pool.breaker.failure_rate';

/**
 * Every state a breaker can be in. Each is reported on every collection (0 when not current),
 * so a backend sees a state go to 0 instead of a series that stops. A state outside this list
 * (a future breaker's) reads as 0 everywhere rather than becoming an unvetted attribute value.
 */
export const BREAKER_STATES: readonly string[] = Object.freeze([
  'closed',
  'open',
  'half-open',
  'isolated',
]);
