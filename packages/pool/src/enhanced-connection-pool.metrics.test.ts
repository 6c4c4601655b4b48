import { describe, expect, it } from 'vitest';
import { createHarness, track } from '../test/pool-harness.js';
import type { LatencySummary } from './latency-histogram.js';

/**
 * The figures `getStats()` gives `@enhanced-pool/metrics`, on a scripted sequence where every
 * wait, hold and connect has a known length on the fake clock.
 */

const countAt = (summary: LatencySummary, le: number): number =>
  summary.buckets.find((bucket) => bucket.le === le)?.count ?? Number.NaN;

describe('getStats() latency histograms and counters', () => {
  it('match a scripted sequence exactly', async () => {
    const { pool, driver, clock } = createHarness({
      maxSize: 1,
      acquireTimeoutMs: 1_000,
      random: () => 0.5,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
    });
    driver.setConnectLatency(4);
    // 1. An acquire that waits 4 ms for its connect, held 3 ms.
    const first = track(pool.acquire());
    await clock.advanceAsync(4);
    expect(first.status).toBe('fulfilled');
    await clock.advanceAsync(3);
    // The release uses the pool's last clock reading: read it now, as a busy pool would have.
    pool.getStats();
    clock.now();
    const second = track(pool.acquire()); // queued behind nothing: the connection is leased
    await clock.flush();
    expect(second.status).toBe('pending');
    first.value?.release();
    await clock.flush();
    // 2. The queued one waited 0 ms on the fake clock (served by the release at the same
    //    instant); held 12 ms.
    expect(second.status).toBe('fulfilled');
    await clock.advanceAsync(12);
    pool.acquire().catch(() => {}); // a third caller queues; its acquire reads the clock
    await clock.flush();
    second.value?.release();
    await clock.flush();

    const stats = pool.getStats();
    expect(stats.acquired).toBe(3);
    expect(stats.released).toBe(2);
    expect(stats.acquireWaitSeconds.count).toBe(3);
    expect(stats.acquireWaitSeconds.sumSeconds).toBeCloseTo(0.004, 10);
    expect(countAt(stats.acquireWaitSeconds, 0.0005)).toBe(2);
    expect(countAt(stats.acquireWaitSeconds, 0.005)).toBe(3);
    expect(stats.useSeconds.count).toBe(2);
    expect(stats.useSeconds.sumSeconds).toBeCloseTo(0.015, 10);
    expect(countAt(stats.useSeconds, 0.0025)).toBe(0);
    expect(countAt(stats.useSeconds, 0.005)).toBe(1);
    expect(countAt(stats.useSeconds, 0.025)).toBe(2);
    expect(stats.connectSeconds.count).toBe(1);
    expect(stats.connectSeconds.sumSeconds).toBeCloseTo(0.004, 10);
    expect(countAt(stats.connectSeconds, 0.0025)).toBe(0);
    expect(countAt(stats.connectSeconds, 0.005)).toBe(1);
  });

  it('counts acquires served from idle at once as waits of 0, without recording each', async () => {
    const { pool, clock } = createHarness();
    (await pool.acquire()).release();
    for (let index = 0; index < 5; index++) (await pool.acquire()).release();
    await clock.flush();
    const { acquireWaitSeconds } = pool.getStats();
    expect(acquireWaitSeconds.count).toBe(6);
    expect(countAt(acquireWaitSeconds, 0.0005)).toBe(6);
    expect(acquireWaitSeconds.p99).toBeLessThanOrEqual(0.0005);
  });

  it('splits connect errors by the driver reason', async () => {
    const { pool, driver, clock } = createHarness({ circuitBreaker: false, random: () => 0.5 });
    driver.failNextConnects(2, 'connection');
    track(pool.acquire());
    await clock.advanceAsync(100);
    driver.failNextConnects(1, 'timeout');
    track(pool.acquire());
    await clock.advanceAsync(1_000);
    const stats = pool.getStats();
    expect(stats.connectErrors).toBe(3);
    expect(stats.connectErrorsByReason).toMatchObject({ connection: 2, timeout: 1, query: 0 });
  });

  it('leaves the histograms empty with metrics: false, and keeps every counter', async () => {
    const { pool, clock } = createHarness({ metrics: false });
    (await pool.acquire()).release();
    await clock.flush();
    const stats = pool.getStats();
    expect(stats).toMatchObject({ acquired: 1, released: 1, created: 1 });
    for (const summary of [stats.acquireWaitSeconds, stats.useSeconds, stats.connectSeconds]) {
      expect(summary.count).toBe(0);
    }
  });

  it('is plain JSON', async () => {
    const { pool } = createHarness();
    (await pool.acquire()).release();
    const stats = pool.getStats();
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });
});
