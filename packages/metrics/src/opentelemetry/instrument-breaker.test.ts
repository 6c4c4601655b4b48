import {
  type CircuitBreaker,
  createCircuitBreaker,
  type Permit,
} from '@enhanced-pool/circuit-breaker';
import { InvalidOptionError } from '@enhanced-pool/core';
import { createFakeClock, type FakeClock } from '@enhanced-pool/testing';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createOtelHarness,
  metricNamed,
  numberPoints,
  type OtelHarness,
  shapeOf,
} from '../../test/otel-harness.js';
import { instrumentBreaker } from './index.js';

function permitFrom(breaker: CircuitBreaker): Permit {
  const permit = breaker.tryAcquire();
  if (!('success' in permit)) throw new Error(`the breaker refused a call: ${permit.message}`);
  return permit;
}

describe('instrumentBreaker', () => {
  let harness: OtelHarness;
  let clock: FakeClock;
  let breaker: CircuitBreaker;
  beforeEach(() => {
    harness = createOtelHarness();
    clock = createFakeClock();
    breaker = createCircuitBreaker({
      name: 'primary',
      clock,
      window: { kind: 'count', size: 4 },
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      slowCallDurationMs: 100,
      openDurationMs: 1_000,
      halfOpenProbeTimeoutMs: 500,
    });
  });
  afterEach(async () => {
    await harness.shutdown();
  });

  const named = { 'enhanced_pool.breaker.name': 'primary' };
  const stateValues = (metrics: Awaited<ReturnType<OtelHarness['collect']>>) =>
    Object.fromEntries(
      numberPoints(metricNamed(metrics, 'enhanced_pool.breaker.state')).map((point) => {
        expect(point.attributes).toEqual({
          ...named,
          'enhanced_pool.breaker.state': point.attributes['enhanced_pool.breaker.state'],
        });
        return [point.attributes['enhanced_pool.breaker.state'], point.value];
      }),
    );
  const single = (metrics: Awaited<ReturnType<OtelHarness['collect']>>, name: string) =>
    numberPoints(metricNamed(metrics, name));

  it('emits enhanced_pool.breaker.* instruments with their kinds and units', async () => {
    instrumentBreaker(breaker, harness.meter);
    const metrics = await harness.collect();
    const counter = (unit: string) => ({
      kind: 'ObservableCounter',
      unit,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
    });
    expect(
      Object.fromEntries(
        metrics.map((metric) => [metric.descriptor.name, shapeOf(harness, metric)]),
      ),
    ).toEqual({
      'enhanced_pool.breaker.state': {
        kind: 'ObservableUpDownCounter',
        unit: '{breaker}',
        dataPointType: DataPointType.SUM,
        isMonotonic: false,
      },
      'enhanced_pool.breaker.calls': counter('{call}'),
      'enhanced_pool.breaker.rejections': counter('{call}'),
      'enhanced_pool.breaker.slow_calls': counter('{call}'),
      'enhanced_pool.breaker.probe_timeouts': counter('{timeout}'),
      'enhanced_pool.breaker.failure_rate': {
        kind: 'ObservableGauge',
        unit: '1',
        dataPointType: DataPointType.GAUGE,
        isMonotonic: undefined,
      },
    });
    expect(stateValues(metrics)).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });
  });

  it('follows a breaker through calls, opening, a rejection and a probe timeout', async () => {
    instrumentBreaker(breaker, harness.meter);
    permitFrom(breaker).success(10);
    permitFrom(breaker).success(150); // slow
    permitFrom(breaker).ignore();
    permitFrom(breaker).failure(new Error('connection refused'), 20);

    let metrics = await harness.collect();
    expect(stateValues(metrics)).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });
    expect(single(metrics, 'enhanced_pool.breaker.calls')).toEqual([
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'success' }, value: 2 },
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'failure' }, value: 1 },
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'ignored' }, value: 1 },
    ]);
    expect(single(metrics, 'enhanced_pool.breaker.slow_calls')).toEqual([
      { attributes: named, value: 1 },
    ]);
    expect(single(metrics, 'enhanced_pool.breaker.failure_rate')).toEqual([
      { attributes: named, value: 1 / 3 },
    ]);

    // The fourth judged call makes the rate 2/4 = 0.5: open; the next call is refused.
    permitFrom(breaker).failure(new Error('connection refused'), 20);
    expect(breaker.tryAcquire()).toBeInstanceOf(Error);
    metrics = await harness.collect();
    expect(stateValues(metrics)).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    expect(single(metrics, 'enhanced_pool.breaker.rejections')).toEqual([
      { attributes: named, value: 1 },
    ]);
    expect(single(metrics, 'enhanced_pool.breaker.failure_rate')).toEqual([
      { attributes: named, value: 0.5 },
    ]);

    // After the open period a trial is let through; it never settles and times out.
    clock.advance(1_000);
    const trial = permitFrom(breaker);
    expect(trial.trial).toBe(true);
    metrics = await harness.collect();
    expect(stateValues(metrics)).toEqual({ closed: 0, open: 0, 'half-open': 1, isolated: 0 });
    clock.advance(500);
    metrics = await harness.collect();
    expect(stateValues(metrics)).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    expect(single(metrics, 'enhanced_pool.breaker.probe_timeouts')).toEqual([
      { attributes: named, value: 1 },
    ]);
    expect(single(metrics, 'enhanced_pool.breaker.calls')).toEqual([
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'success' }, value: 2 },
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'failure' }, value: 3 },
      { attributes: { ...named, 'enhanced_pool.breaker.outcome': 'ignored' }, value: 1 },
    ]);

    const isolation = breaker.isolate();
    metrics = await harness.collect();
    expect(stateValues(metrics)).toEqual({ closed: 0, open: 0, 'half-open': 0, isolated: 1 });
    isolation.dispose();
  });

  it('names the breaker by the option, else its own name, else circuit-breaker', async () => {
    instrumentBreaker(breaker, harness.meter, { name: 'replica' });
    instrumentBreaker(createCircuitBreaker({ clock }), harness.meter);
    instrumentBreaker(createCircuitBreaker({ clock, name: 'mysql://u:s3cret@h' }), harness.meter);
    const metrics = await harness.collect();
    expect(
      single(metrics, 'enhanced_pool.breaker.rejections').map(
        (point) => point.attributes['enhanced_pool.breaker.name'],
      ),
    ).toEqual(['replica', 'circuit-breaker', 'mysql://u:***@h']);
  });

  it('refuses an empty name, naming the option', () => {
    expect(() => instrumentBreaker(breaker, harness.meter, { name: '' })).toThrow(
      InvalidOptionError,
    );
    expect(() => instrumentBreaker(breaker, harness.meter, { name: '' })).toThrow(/"name"/);
  });

  it('stops reading the breaker once disposed', async () => {
    let reads = 0;
    const counted = {
      metrics() {
        reads++;
        return breaker.metrics();
      },
    };
    const handle = instrumentBreaker(counted, harness.meter);
    reads = 0;
    await harness.collect();
    expect(reads).toBe(1);
    handle.dispose();
    breaker.isolate();
    const metrics = await harness.collect();
    expect(reads).toBe(1);
    // A cumulative SDK repeats the last observation; the breaker was not read again.
    expect(stateValues(metrics)).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });
  });
});
