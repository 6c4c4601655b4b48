import { AcquireTimeoutError, createPool, type Pool } from '@enhanced-pool/pool';
import {
  createFakeClock,
  createFakeDriver,
  type FakeClock,
  type FakeConnection,
} from '@enhanced-pool/testing';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createOtelHarness,
  histogramPoint,
  metricNamed,
  numberPoints,
  type OtelHarness,
} from '../../test/otel-harness.js';
import type { LatencySummary, PoolMetricsSource } from '../sources.js';
import { instrumentPool } from './index.js';

/** The finite bounds of a pool summary (whether or not it lists the `+Inf` bucket). */
function finiteBuckets(summary: LatencySummary): LatencySummary['buckets'] {
  return summary.buckets.filter((bucket) => Number.isFinite(bucket.le));
}

/** A pool's cumulative summary as OpenTelemetry reports it: per-bucket counts, `+Inf` last. */
function perBucket(summary: LatencySummary): number[] {
  const finite = finiteBuckets(summary);
  const counts = finite.map(
    (bucket, index) => bucket.count - (index === 0 ? 0 : finite[index - 1]!.count),
  );
  counts.push(summary.count - (finite.at(-1)?.count ?? 0));
  return counts;
}

/** Asserts that the OpenTelemetry histogram and the pool's own summary agree exactly. */
function expectSameDistribution(metric: MetricData, summary: LatencySummary): void {
  const point = histogramPoint(metric);
  expect({ count: point.count, sum: point.sum, counts: point.counts }).toEqual({
    count: summary.count,
    sum: summary.sumSeconds,
    counts: perBucket(summary),
  });
  expect(point.boundaries).toEqual(finiteBuckets(summary).map((bucket) => bucket.le));
}

describe('instrumentPool on a real pool (fake driver, fake clock)', () => {
  let harness: OtelHarness;
  let clock: FakeClock;
  let pool: Pool<FakeConnection>;
  beforeEach(() => {
    harness = createOtelHarness();
    clock = createFakeClock();
    const driver = createFakeDriver({ clock, withReset: false, connectLatencyMs: 250 });
    pool = createPool({
      name: 'orders',
      driver,
      clock,
      minSize: 0,
      maxSize: 2,
      acquireTimeoutMs: 1_000,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
      random: () => 0.5,
    });
  });
  afterEach(async () => {
    await pool.close();
    await harness.shutdown();
  });

  const named = { 'db.client.connection.pool.name': 'orders' };
  const gauges = (metrics: readonly MetricData[]) =>
    Object.fromEntries(
      [
        'db.client.connection.idle.max',
        'db.client.connection.idle.min',
        'db.client.connection.limit',
        'db.client.connection.pending_requests',
        'db.client.connection.timeouts',
      ].map((name) => {
        const points = numberPoints(metricNamed(metrics, name));
        for (const point of points) expect(point.attributes).toEqual(named);
        return [name, points.map((point) => point.value)];
      }),
    );
  const connectionCount = (metrics: readonly MetricData[]) =>
    numberPoints(metricNamed(metrics, 'db.client.connection.count')).map((point) => [
      point.attributes['db.client.connection.state'],
      point.value,
    ]);

  it('reports an acquire/release sequence exactly as getStats() and the fake clock give it', async () => {
    const source: PoolMetricsSource = pool;
    instrumentPool(source, harness.meter);

    // Two acquires open a connection each (250 ms connects, run side by side).
    const first = pool.acquire();
    const second = pool.acquire();
    await clock.advanceAsync(250);
    const leaseA = await first;
    const leaseB = await second;
    // A third caller queues behind the full pool.
    const third = pool.acquire();
    await clock.flush();

    let metrics = await harness.collect();
    expect(connectionCount(metrics)).toEqual([
      ['idle', 0],
      ['used', 2],
    ]);
    expect(gauges(metrics)).toEqual({
      'db.client.connection.idle.max': [2],
      'db.client.connection.idle.min': [0],
      'db.client.connection.limit': [2],
      'db.client.connection.pending_requests': [1],
      'db.client.connection.timeouts': [0],
    });

    // 500 ms later a fourth caller queues, then the first lease goes back and the third caller
    // (first in line) gets its connection. The fourth waits its full deadline and times out.
    await clock.advanceAsync(500);
    const fourth = pool.acquire().catch((error: unknown) => error);
    leaseA.release();
    const leaseC = await third;
    await clock.advanceAsync(1_000);
    expect(await fourth).toBeInstanceOf(AcquireTimeoutError);
    leaseB.release();
    leaseC.release();
    await clock.flush();

    metrics = await harness.collect();
    const stats = pool.getStats();
    expect(connectionCount(metrics)).toEqual([
      ['idle', 2],
      ['used', 0],
    ]);
    expect(gauges(metrics)).toEqual({
      'db.client.connection.idle.max': [2],
      'db.client.connection.idle.min': [0],
      'db.client.connection.limit': [2],
      'db.client.connection.pending_requests': [0],
      'db.client.connection.timeouts': [1],
    });

    const createTime = metricNamed(metrics, 'db.client.connection.create_time');
    const waitTime = metricNamed(metrics, 'db.client.connection.wait_time');
    const useTime = metricNamed(metrics, 'db.client.connection.use_time');
    expectSameDistribution(createTime, stats.connectSeconds);
    expectSameDistribution(waitTime, stats.acquireWaitSeconds);
    expectSameDistribution(useTime, stats.useSeconds);
    // And in fake-clock figures: two 250 ms connects; waits of 250, 250 and 500 ms; holds of
    // 500 ms (A), 1 500 ms (B) and 1 000 ms (C).
    expect(histogramPoint(createTime)).toMatchObject({ count: 2, sum: 0.5, min: 0.25, max: 0.25 });
    expect(histogramPoint(waitTime)).toMatchObject({ count: 3, sum: 1, min: 0.25, max: 0.5 });
    expect(histogramPoint(useTime)).toMatchObject({ count: 3, sum: 3, min: 0.5, max: 1.5 });
  });

  it('records the exact hold from the released event, even in a pool idle until the release', async () => {
    instrumentPool(pool, harness.meter);
    const acquiring = pool.acquire();
    await clock.advanceAsync(250);
    const lease = await acquiring;
    // Nothing reads the pool's clock for 700 ms; the event still carries the real hold.
    await clock.advanceAsync(700);
    lease.release();
    const metrics = await harness.collect();
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.use_time'))).toMatchObject({
      count: 1,
      sum: 0.7,
    });
  });

  it('stops recording the pool events once disposed', async () => {
    const handle = instrumentPool(pool, harness.meter);
    const one = pool.acquire();
    await clock.advanceAsync(250);
    (await one).release();
    handle.dispose();
    const other = pool.acquire();
    await clock.advanceAsync(250);
    (await other).release();
    const metrics = await harness.collect();
    expect(pool.getStats().acquired).toBe(2);
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.wait_time')).count).toBe(1);
    expect(histogramPoint(metricNamed(metrics, 'db.client.connection.use_time')).count).toBe(1);
  });
});
