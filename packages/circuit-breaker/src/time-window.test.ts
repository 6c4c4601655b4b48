import { describe, expect, it } from 'vitest';
import { FAILED, SLOW, TRIP_FAILURES, TRIP_NONE } from './outcome-window.js';
import { TimeWindow } from './time-window.js';

const thresholds = { failureRateThreshold: 0.5, slowCallRateThreshold: 1, minimumCalls: 1 };

describe('TimeWindow', () => {
  it('expires buckets as the clock advances, in bucket-sized steps', () => {
    const window = new TimeWindow(1_000, 10, { ...thresholds, failureRateThreshold: 1 });
    window.record(FAILED, 0);
    window.record(FAILED, 50);
    window.record(0, 150);
    expect(window.stats(999)).toMatchObject({ calls: 3, failures: 2 });
    expect(window.stats(1_000)).toMatchObject({ calls: 1, failures: 0 });
    expect(window.stats(1_099)).toMatchObject({ calls: 1 });
    expect(window.stats(1_100)).toMatchObject({ calls: 0, failureRate: 0 });
  });

  it('clears everything after an idle gap longer than the window', () => {
    const window = new TimeWindow(1_000, 10, { ...thresholds, failureRateThreshold: 1 });
    window.record(FAILED | SLOW, 10);
    expect(window.stats(50_000)).toMatchObject({ calls: 0, failures: 0, slowCalls: 0 });
    window.record(0, 50_000);
    expect(window.stats(50_000)).toMatchObject({ calls: 1, failures: 0 });
  });

  it('trips on the rate of what is still in the window', () => {
    const window = new TimeWindow(1_000, 4, { ...thresholds, minimumCalls: 2 });
    window.record(0, 0);
    window.record(0, 0);
    expect(window.record(FAILED, 100)).toBe(TRIP_NONE);
    // The two successes at t=0 have expired: 1 success + 2 failures remain.
    window.record(0, 1_000);
    expect(window.record(FAILED, 1_100)).toBe(TRIP_FAILURES);
  });

  it('keeps writing into the newest bucket when the clock steps back, and handles negative times', () => {
    const window = new TimeWindow(100, 2, { ...thresholds, failureRateThreshold: 1 });
    window.record(0, -100);
    // Earlier than the newest bucket (-100 ms): counted in the newest bucket.
    window.record(FAILED, -150);
    expect(window.stats(-60)).toMatchObject({ calls: 2, failures: 1 });
    expect(window.stats(-50)).toMatchObject({ calls: 2 });
    expect(window.stats(0)).toMatchObject({ calls: 0 });
  });

  it('snapshots bucket ages and restores them on a clock with another origin', () => {
    const window = new TimeWindow(1_000, 10, { ...thresholds, failureRateThreshold: 1 });
    window.record(FAILED, 0);
    window.record(0, 500);
    const snapshot = window.snapshot(550);
    expect(snapshot).toMatchObject({ kind: 'time', bucketMs: 100, newestBucketAgeMs: 50 });
    expect(snapshot.buckets).toHaveLength(10);
    const json = JSON.parse(JSON.stringify(snapshot));
    const restored = new TimeWindow(1_000, 10, { ...thresholds, failureRateThreshold: 1 });
    restored.restore(json, 1_000_550);
    expect(restored.stats(1_000_550)).toMatchObject({ calls: 2, failures: 1 });
    // The failure was 550 ms old at the snapshot: it leaves the window 450 ms later.
    expect(restored.stats(1_001_000)).toMatchObject({ calls: 1, failures: 0 });
    expect(restored.stats(1_001_500)).toMatchObject({ calls: 0 });
  });

  it('drops a snapshot from a window with another bucket width', () => {
    const source = new TimeWindow(1_000, 10, thresholds);
    source.record(FAILED, 0);
    const other = new TimeWindow(2_000, 10, thresholds);
    other.restore(source.snapshot(0), 0);
    expect(other.stats(0).calls).toBe(0);
  });
});
