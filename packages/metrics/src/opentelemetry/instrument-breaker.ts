import { type Disposable, redactSecrets, toDisposable } from '@enhanced-pool/core';
import {
  type Attributes,
  type BatchObservableCallback,
  type Meter,
  type Observable,
  ValueType,
} from '@opentelemetry/api';
import type { BreakerMetricsSource } from '../sources.js';
import {
  ATTR_BREAKER_NAME,
  ATTR_BREAKER_OUTCOME,
  ATTR_BREAKER_STATE,
  BREAKER_STATES,
  METRIC_BREAKER_CALLS,
  METRIC_BREAKER_FAILURE_RATE,
  METRIC_BREAKER_PROBE_TIMEOUTS,
  METRIC_BREAKER_REJECTIONS,
  METRIC_BREAKER_SLOW_CALLS,
  METRIC_BREAKER_STATE,
} from './breaker-conventions.js';
import {
  type InstrumentBreakerOptions,
  resolveInstrumentBreakerOptions,
} from './instrument-breaker-options.js';

const CALL = '{call}';

/**
 * Reports a circuit breaker through `meter` as `enhanced_pool.breaker.*` instruments (no
 * OpenTelemetry convention covers breakers), each tagged `enhanced_pool.breaker.name`.
 *
 * Every instrument is observable, read by one batch callback that calls `breaker.metrics()` once
 * per collection: the breaker already keeps these counters, so instrumenting it adds no work to
 * its call path and no timer (an idle breaker still holds none). Attributes are a closed set:
 * the name, fixed at instrumentation, one of four states and one of three outcomes.
 *
 * @returns a handle whose `dispose()` removes the callback; the instruments stay registered on
 * the meter but observe nothing more from this breaker.
 * @throws InvalidOptionError when `options.name` is not a non-empty string.
 */
export function instrumentBreaker(
  breaker: BreakerMetricsSource,
  meter: Meter,
  options?: InstrumentBreakerOptions,
): Disposable {
  const resolved = resolveInstrumentBreakerOptions(breaker, options);
  const breakerAttributes: Attributes = { [ATTR_BREAKER_NAME]: redactSecrets(resolved.name) };
  const withAttribute = (key: string, value: string): Attributes => ({
    ...breakerAttributes,
    [key]: value,
  });
  // Built once: a collection allocates no attribute objects for the known states.
  const stateAttributes = new Map<string, Attributes>(
    BREAKER_STATES.map((state) => [state, withAttribute(ATTR_BREAKER_STATE, state)]),
  );
  const successAttributes = withAttribute(ATTR_BREAKER_OUTCOME, 'success');
  const failureAttributes = withAttribute(ATTR_BREAKER_OUTCOME, 'failure');
  const ignoredAttributes = withAttribute(ATTR_BREAKER_OUTCOME, 'ignored');

  const state = meter.createObservableUpDownCounter(METRIC_BREAKER_STATE, {
    description:
      'Whether the breaker is in the state named by `enhanced_pool.breaker.state` (1) or not (0).',
    unit: '{breaker}',
    valueType: ValueType.INT,
  });
  const calls = meter.createObservableCounter(METRIC_BREAKER_CALLS, {
    description: 'Calls the breaker admitted and saw settle, by `enhanced_pool.breaker.outcome`.',
    unit: CALL,
    valueType: ValueType.INT,
  });
  const rejections = meter.createObservableCounter(METRIC_BREAKER_REJECTIONS, {
    description: 'Calls the breaker refused without running them.',
    unit: CALL,
    valueType: ValueType.INT,
  });
  const slowCalls = meter.createObservableCounter(METRIC_BREAKER_SLOW_CALLS, {
    description: 'Admitted calls that took longer than the slow-call threshold.',
    unit: CALL,
    valueType: ValueType.INT,
  });
  const probeTimeouts = meter.createObservableCounter(METRIC_BREAKER_PROBE_TIMEOUTS, {
    description: 'Half-open trial calls that did not settle within the probe timeout.',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });
  const failureRate = meter.createObservableGauge(METRIC_BREAKER_FAILURE_RATE, {
    description: 'Failures over calls in the breaker window (0 when the window is empty).',
    unit: '1',
    valueType: ValueType.DOUBLE,
  });
  const observables: Observable[] = [
    state,
    calls,
    rejections,
    slowCalls,
    probeTimeouts,
    failureRate,
  ];

  const observeMetrics: BatchObservableCallback = (result) => {
    const metrics = breaker.metrics();
    for (const [name, attributes] of stateAttributes) {
      result.observe(state, name === metrics.state ? 1 : 0, attributes);
    }
    result.observe(calls, metrics.successes, successAttributes);
    result.observe(calls, metrics.failures, failureAttributes);
    result.observe(calls, metrics.ignored, ignoredAttributes);
    result.observe(rejections, metrics.rejections, breakerAttributes);
    result.observe(slowCalls, metrics.slowCalls, breakerAttributes);
    result.observe(probeTimeouts, metrics.probeTimeouts, breakerAttributes);
    result.observe(failureRate, metrics.failureRate, breakerAttributes);
  };
  meter.addBatchObservableCallback(observeMetrics, observables);

  return toDisposable(() => {
    meter.removeBatchObservableCallback(observeMetrics, observables);
  });
}
