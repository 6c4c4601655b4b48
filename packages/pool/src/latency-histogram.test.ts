import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_SECONDS, LatencyHistogram } from './latency-histogram.js';

const countAt = (summary: ReturnType<LatencyHistogram['summary']>, le: number): number =>
  summary.buckets.find((bucket) => bucket.le === le)?.count ?? Number.NaN;

describe('LatencyHistogram', () => {
  it('is empty, with every bucket at 0 and percentiles 0, before anything is recorded', () => {
    const summary = new LatencyHistogram().summary();
    expect(summary).toMatchObject({ count: 0, sumSeconds: 0, p50: 0, p95: 0, p99: 0 });
    expect(summary.buckets.map((bucket) => bucket.le)).toEqual([...LATENCY_BUCKETS_SECONDS]);
    expect(summary.buckets.every((bucket) => bucket.count === 0)).toBe(true);
  });

  it('counts milliseconds into cumulative buckets in seconds, bounds inclusive', () => {
    const histogram = new LatencyHistogram();
    for (const ms of [0, 0.5, 0.6, 1, 3, 10, 10.5, 20_000]) histogram.record(ms);
    const summary = histogram.summary();
    expect(summary.count).toBe(8);
    expect(summary.sumSeconds).toBeCloseTo(20.0256, 10);
    expect(countAt(summary, 0.0005)).toBe(2);
    expect(countAt(summary, 0.001)).toBe(4);
    expect(countAt(summary, 0.005)).toBe(5);
    expect(countAt(summary, 0.01)).toBe(6);
    expect(countAt(summary, 0.025)).toBe(7);
    expect(countAt(summary, 10)).toBe(7);
    // The +Inf bucket is the count.
    expect(summary.buckets).toHaveLength(LATENCY_BUCKETS_SECONDS.length);
  });

  it('interpolates percentiles inside the bucket that holds them', () => {
    const histogram = new LatencyHistogram();
    // 100 observations, all in the (0.01 s, 0.025 s] bucket.
    for (let index = 0; index < 100; index++) histogram.record(20);
    const summary = histogram.summary();
    expect(summary.p50).toBeCloseTo(0.01 + 0.015 * 0.5, 10);
    expect(summary.p95).toBeCloseTo(0.01 + 0.015 * 0.95, 10);
    expect(summary.p99).toBeCloseTo(0.01 + 0.015 * 0.99, 10);
  });

  it('answers "more than the last bound" for a percentile in the open bucket', () => {
    const histogram = new LatencyHistogram();
    histogram.record(1);
    for (let index = 0; index < 9; index++) histogram.record(60_000);
    expect(histogram.summary().p50).toBe(10);
  });

  it('adds counted zeroes to the first bucket', () => {
    const histogram = new LatencyHistogram();
    histogram.record(30);
    const summary = histogram.summary(9);
    expect(summary.count).toBe(10);
    expect(countAt(summary, 0.0005)).toBe(9);
    expect(summary.sumSeconds).toBeCloseTo(0.03, 10);
    expect(summary.p50).toBeCloseTo(0.0005 * (5 / 9), 10);
  });
});
