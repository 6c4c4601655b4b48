import { describe, expect, it } from 'vitest';
import { CountWindow } from './count-window.js';
import { FAILED, SLOW, TRIP_FAILURES, TRIP_NONE, TRIP_SLOW_CALLS } from './outcome-window.js';

const thresholds = { failureRateThreshold: 0.5, slowCallRateThreshold: 0.5, minimumCalls: 3 };

describe('CountWindow', () => {
  it('evicts the oldest call once full, keeping running totals', () => {
    const window = new CountWindow(3, { ...thresholds, failureRateThreshold: 1 });
    window.record(FAILED);
    window.record(FAILED);
    window.record(0);
    expect(window.stats()).toMatchObject({ calls: 3, failures: 2, failureRate: 2 / 3 });
    window.record(0);
    expect(window.stats()).toMatchObject({ calls: 3, failures: 1 });
    window.record(SLOW);
    expect(window.stats()).toMatchObject({ calls: 3, failures: 0, slowCalls: 1 });
  });

  it('trips only once minimumCalls are in the window', () => {
    const window = new CountWindow(10, thresholds);
    expect(window.record(FAILED)).toBe(TRIP_NONE);
    expect(window.record(FAILED)).toBe(TRIP_NONE);
    expect(window.record(0)).toBe(TRIP_FAILURES);
  });

  it('trips on the slow-call rate', () => {
    const window = new CountWindow(10, thresholds);
    window.record(SLOW);
    window.record(0);
    expect(window.record(SLOW)).toBe(TRIP_SLOW_CALLS);
  });

  it('snapshots oldest first after wrapping, and restores the newest calls into a smaller window', () => {
    const window = new CountWindow(3, thresholds);
    for (const flags of [FAILED, 0, SLOW, FAILED | SLOW]) window.record(flags);
    const snapshot = window.snapshot();
    expect(snapshot).toEqual({ kind: 'count', calls: [0, 2, 3] });
    const smaller = new CountWindow(2, thresholds);
    smaller.restore(snapshot);
    expect(smaller.snapshot()).toEqual({ kind: 'count', calls: [2, 3] });
    expect(smaller.stats()).toMatchObject({ calls: 2, failures: 1, slowCalls: 2 });
    smaller.restore({ kind: 'consecutive', failures: 3, slowCalls: 0 });
    expect(smaller.stats().calls).toBe(0);
  });

  it('forgets everything on reset', () => {
    const window = new CountWindow(2, thresholds);
    window.record(FAILED);
    window.reset();
    expect(window.snapshot()).toEqual({ kind: 'count', calls: [] });
    expect(window.stats()).toMatchObject({ calls: 0, failureRate: 0, slowCallRate: 0 });
  });
});
