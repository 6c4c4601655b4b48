import { describe, expect, it } from 'vitest';
import { type CumulativeHistogram, intervalPercentiles } from './interval-percentiles.js';

const histogram = (counts: number[], bounds = [0.001, 0.01, 0.1, 1]): CumulativeHistogram => {
  let total = 0;
  const buckets = bounds.map((le, index) => {
    total += counts[index] ?? 0;
    return { le, count: total };
  });
  return { count: total + (counts[bounds.length] ?? 0), sumSeconds: 0, buckets };
};

describe('intervalPercentiles', () => {
  it('is empty when nothing was observed in the interval', () => {
    const same = histogram([5, 5]);
    expect(intervalPercentiles(same, same)).toEqual({ count: 0, p50Ms: null, p99Ms: null });
  });

  it('reads only what happened between the two readings', () => {
    // Before: 1,000 fast waits. In the interval: 10 waits between 10 and 100 ms.
    const before = histogram([1_000]);
    const after = histogram([1_000, 0, 10]);
    const result = intervalPercentiles(before, after);
    expect(result.count).toBe(10);
    // The median is halfway into the 10–100 ms bucket; the cumulative median would be < 1 ms.
    expect(result.p50Ms).toBeCloseTo(55, 5);
    expect(result.p99Ms).toBeCloseTo(99.1, 5);
  });

  it('interpolates from zero in the first bucket and treats no earlier reading as empty', () => {
    const result = intervalPercentiles(undefined, histogram([4]));
    expect(result).toEqual({ count: 4, p50Ms: 0.5, p99Ms: 0.99 });
  });

  it('reports the last bound for observations above it', () => {
    const result = intervalPercentiles(undefined, histogram([0, 0, 0, 0, 3]));
    expect(result.p99Ms).toBe(1_000);
  });
});
