import { type Listener, TypedEmitter } from '@enhanced-pool/core';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createOtelHarness,
  histogramPoint,
  metricNamed,
  numberPoints,
  type OtelHarness,
  shapeOf,
} from '../../test/otel-harness.js';
import type {
  LatencySummary,
  PoolMetricsEvents,
  PoolMetricsSource,
  PoolStatsForMetrics,
} from '../sources.js';
import {
  instrumentPool,
  METRIC_QUERY_IN_FLIGHT,
  METRIC_QUERY_QUEUED,
  METRIC_QUERY_SHARED_CONNECTIONS,
} from './index.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const EMPTY_SUMMARY: LatencySummary = {
  count: 0,
  sumSeconds: 0,
  p50: 0,
  p95: 0,
  p99: 0,
  buckets: [],
};

function statsWith(figures: Partial<PoolStatsForMetrics>): PoolStatsForMetrics {
  return {
    name: 'orders',
    poolSize: 0,
    idleConnections: 0,
    activeConnections: 0,
    pending: 0,
    connecting: 0,
    minSize: 0,
    maxSize: 0,
    targetSize: 0,
    breakerState: 'closed',
    acquired: 0,
    released: 0,
    created: 0,
    destroyed: 0,
    destroyedByReason: {},
    connectErrors: 0,
    connectErrorsByReason: {},
    timeouts: 0,
    aborted: 0,
    exhausted: 0,
    circuitRejections: 0,
    validationFailures: 0,
    leaks: 0,
    acquireWaitSeconds: EMPTY_SUMMARY,
    useSeconds: EMPTY_SUMMARY,
    connectSeconds: EMPTY_SUMMARY,
    ...figures,
  };
}

type Events = { [TEvent in keyof PoolMetricsEvents]: PoolMetricsEvents[TEvent] };

/** A pool as the exporter sees it, with figures the test sets and events it emits. */
function createScriptedPool(name: string) {
  const emitter = new TypedEmitter<Events>();
  let stats = statsWith({ name });
  let reads = 0;
  const pool: PoolMetricsSource = {
    name,
    getStats() {
      reads++;
      return stats;
    },
    on<TEvent extends keyof PoolMetricsEvents & string>(
      event: TEvent,
      listener: (payload: PoolMetricsEvents[TEvent]) => void,
    ) {
      return emitter.on(event, listener as Listener<Events[TEvent]>);
    },
  };
  return {
    pool,
    emitter,
    setFigures(figures: Partial<PoolStatsForMetrics>) {
      stats = statsWith({ ...stats, ...figures });
    },
    get reads() {
      return reads;
    },
  };
}

describe('instrumentPool', () => {
  let harness: OtelHarness;
  beforeEach(() => {
    harness = createOtelHarness();
  });
  afterEach(async () => {
    await harness.shutdown();
  });

  const pool = { 'db.client.connection.pool.name': 'orders' };

  it('emits the database-client connection-pool instruments with their kinds and units', async () => {
    const scripted = createScriptedPool('orders');
    instrumentPool(scripted.pool, harness.meter);
    scripted.emitter.emit('connectionCreated', { durationMs: 20 });
    scripted.emitter.emit('acquired', { waitMs: 0 });
    scripted.emitter.emit('released', { holdMs: 3 });
    const metrics = await harness.collect();

    const upDown = (unit: string) => ({
      kind: 'ObservableUpDownCounter',
      unit,
      dataPointType: DataPointType.SUM,
      isMonotonic: false,
    });
    const histogram = {
      kind: 'Histogram',
      unit: 's',
      dataPointType: DataPointType.HISTOGRAM,
      isMonotonic: undefined,
    };
    const shapes = Object.fromEntries(
      metrics.map((metric) => [metric.descriptor.name, shapeOf(harness, metric)]),
    );
    expect(shapes).toEqual({
      'db.client.connection.count': upDown('{connection}'),
      'db.client.connection.idle.max': upDown('{connection}'),
      'db.client.connection.idle.min': upDown('{connection}'),
      'db.client.connection.limit': upDown('{connection}'),
      'db.client.connection.pending_requests': upDown('{request}'),
      'db.client.connection.timeouts': {
        kind: 'ObservableCounter',
        unit: '{timeout}',
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
      },
      'db.client.connection.create_time': histogram,
      'db.client.connection.wait_time': histogram,
      'db.client.connection.use_time': histogram,
    });
    // The pre-1.45 name is not emitted alongside the new one.
    expect(metrics.some((metric) => metric.descriptor.name === 'db.client.connection.max')).toBe(
      false,
    );
    for (const metric of metrics) {
      for (const point of metric.dataPoints) {
        expect(point.attributes['db.client.connection.pool.name']).toBe('orders');
      }
    }
  });

  it('observes the figures of one getStats() per collection', async () => {
    const scripted = createScriptedPool('orders');
    scripted.setFigures({
      idleConnections: 3,
      activeConnections: 2,
      pending: 4,
      minSize: 1,
      maxSize: 10,
      timeouts: 7,
    });
    instrumentPool(scripted.pool, harness.meter);
    expect(scripted.reads).toBe(0);

    let metrics = await harness.collect();
    expect(scripted.reads).toBe(1);
    expect(numberPoints(metricNamed(metrics, 'db.client.connection.count'))).toEqual([
      { attributes: { ...pool, 'db.client.connection.state': 'idle' }, value: 3 },
      { attributes: { ...pool, 'db.client.connection.state': 'used' }, value: 2 },
    ]);
    const single = (name: string) => numberPoints(metricNamed(metrics, name));
    expect(single('db.client.connection.idle.max')).toEqual([{ attributes: pool, value: 10 }]);
    expect(single('db.client.connection.idle.min')).toEqual([{ attributes: pool, value: 1 }]);
    expect(single('db.client.connection.limit')).toEqual([{ attributes: pool, value: 10 }]);
    expect(single('db.client.connection.pending_requests')).toEqual([
      { attributes: pool, value: 4 },
    ]);
    expect(single('db.client.connection.timeouts')).toEqual([{ attributes: pool, value: 7 }]);

    scripted.setFigures({ idleConnections: 0, activeConnections: 5, pending: 0, timeouts: 9 });
    metrics = await harness.collect();
    expect(scripted.reads).toBe(2);
    expect(numberPoints(metricNamed(metrics, 'db.client.connection.count'))).toEqual([
      { attributes: { ...pool, 'db.client.connection.state': 'idle' }, value: 0 },
      { attributes: { ...pool, 'db.client.connection.state': 'used' }, value: 5 },
    ]);
    expect(single('db.client.connection.pending_requests')).toEqual([
      { attributes: pool, value: 0 },
    ]);
    expect(single('db.client.connection.timeouts')).toEqual([{ attributes: pool, value: 9 }]);
  });

  it('records create, wait and use times from the events, in seconds, in the advised buckets', async () => {
    const scripted = createScriptedPool('orders');
    instrumentPool(scripted.pool, harness.meter);
    scripted.emitter.emit('connectionCreated', { durationMs: 12 });
    scripted.emitter.emit('connectionCreated', { durationMs: 250 });
    scripted.emitter.emit('acquired', { waitMs: 0 });
    scripted.emitter.emit('acquired', { waitMs: 0 });
    scripted.emitter.emit('acquired', { waitMs: 500 });
    scripted.emitter.emit('released', { holdMs: 1 });
    scripted.emitter.emit('released', { holdMs: 30_000 });
    const metrics = await harness.collect();

    // Bucket i counts values in (bound[i-1], bound[i]]; the 15th counts those above 10 s.
    const countsWith = (entries: Record<number, number>) =>
      Array.from({ length: BUCKETS.length + 1 }, (_, index) => entries[index] ?? 0);
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.create_time'))).toEqual({
      attributes: pool,
      count: 2,
      sum: 0.262,
      min: 0.012,
      max: 0.25,
      boundaries: BUCKETS,
      counts: countsWith({ 5: 1, 8: 1 }),
    });
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.wait_time'))).toEqual({
      attributes: pool,
      count: 3,
      sum: 0.5,
      min: 0,
      max: 0.5,
      boundaries: BUCKETS,
      counts: countsWith({ 0: 2, 9: 1 }),
    });
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.use_time'))).toEqual({
      attributes: pool,
      count: 2,
      sum: 30.001,
      min: 0.001,
      max: 30,
      boundaries: BUCKETS,
      counts: countsWith({ 1: 1, 14: 1 }),
    });
  });

  it('tells pools on one meter apart by name and redacts credentials from it', async () => {
    const orders = createScriptedPool('orders');
    const leaky = createScriptedPool('postgres://app:hunter2@db.internal/reports');
    orders.setFigures({ maxSize: 4 });
    leaky.setFigures({ maxSize: 8 });
    instrumentPool(orders.pool, harness.meter);
    instrumentPool(leaky.pool, harness.meter);
    leaky.emitter.emit('acquired', { waitMs: 2 });
    const metrics = await harness.collect();

    expect(numberPoints(metricNamed(metrics, 'db.client.connection.limit'))).toEqual([
      { attributes: pool, value: 4 },
      {
        attributes: { 'db.client.connection.pool.name': 'postgres://app:***@db.internal/reports' },
        value: 8,
      },
    ]);
    expect(JSON.stringify(metrics)).not.toContain('hunter2');
  });

  it('stops observing and recording once disposed', async () => {
    const scripted = createScriptedPool('orders');
    scripted.setFigures({ idleConnections: 1, maxSize: 2 });
    const handle = instrumentPool(scripted.pool, harness.meter);
    scripted.emitter.emit('acquired', { waitMs: 1 });
    await harness.collect();
    expect(scripted.reads).toBe(1);

    handle.dispose();
    expect(scripted.emitter.has('acquired')).toBe(false);
    expect(scripted.emitter.has('released')).toBe(false);
    expect(scripted.emitter.has('connectionCreated')).toBe(false);
    scripted.emitter.emit('acquired', { waitMs: 5 });
    scripted.setFigures({ idleConnections: 2 });
    const metrics = await harness.collect();

    expect(scripted.reads).toBe(1);
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.wait_time')).count).toBe(1);
    // A cumulative SDK repeats an observable's last value; what matters is that it is not read.
    expect(numberPoints(metricNamed(metrics, 'db.client.connection.count'))).toEqual([
      { attributes: { ...pool, 'db.client.connection.state': 'idle' }, value: 1 },
      { attributes: { ...pool, 'db.client.connection.state': 'used' }, value: 0 },
    ]);
    handle.dispose(); // twice is safe
  });

  it('observes pool.query() figures when the pool has them, and emits none otherwise', async () => {
    const scripted = createScriptedPool('orders');
    let figures = { inFlight: 12, queued: 3, sharedConnections: 4 };
    const withQuery: PoolMetricsSource = {
      ...scripted.pool,
      name: 'orders',
      getStats: () => scripted.pool.getStats(),
      getQueryStats: () => ({
        ...figures,
        succeeded: 0,
        failed: 0,
        refused: 0,
        aborted: 0,
        timeouts: 0,
        exhausted: 0,
      }),
    };
    instrumentPool(withQuery, harness.meter);
    let metrics = await harness.collect();
    const value = (name: string) => numberPoints(metricNamed(metrics, name))[0]?.value;
    expect(value(METRIC_QUERY_IN_FLIGHT)).toBe(12);
    expect(value(METRIC_QUERY_QUEUED)).toBe(3);
    expect(value(METRIC_QUERY_SHARED_CONNECTIONS)).toBe(4);
    expect(shapeOf(harness, metricNamed(metrics, METRIC_QUERY_IN_FLIGHT))).toMatchObject({
      kind: 'ObservableUpDownCounter',
      unit: '{statement}',
    });
    figures = { inFlight: 0, queued: 0, sharedConnections: 0 };
    metrics = await harness.collect();
    expect(value(METRIC_QUERY_IN_FLIGHT)).toBe(0);
    expect(
      numberPoints(metricNamed(metrics, METRIC_QUERY_IN_FLIGHT))[0]?.attributes[
        'db.client.connection.pool.name'
      ],
    ).toBe('orders');
  });

  it('creates no pool.query() instruments for a pool without getQueryStats()', async () => {
    instrumentPool(createScriptedPool('plain').pool, harness.meter);
    const metrics = await harness.collect();
    expect(metrics.some((metric) => metric.descriptor.name.startsWith('enhanced_pool.query'))).toBe(
      false,
    );
  });
});
