import { describe, expect, it } from 'vitest';
import { ConsecutiveWindow } from './consecutive-window.js';
import { FAILED, SLOW, TRIP_FAILURES, TRIP_NONE, TRIP_SLOW_CALLS } from './outcome-window.js';

describe('ConsecutiveWindow', () => {
  it('trips on a run of failures and reports progress as the rate', () => {
    const window = new ConsecutiveWindow(3);
    expect(window.record(FAILED)).toBe(TRIP_NONE);
    expect(window.record(FAILED)).toBe(TRIP_NONE);
    expect(window.stats()).toMatchObject({ failures: 2, failureRate: 2 / 3 });
    expect(window.record(FAILED)).toBe(TRIP_FAILURES);
  });

  it('a success breaks a failure run; a fast call breaks a slow run', () => {
    const window = new ConsecutiveWindow(2);
    window.record(FAILED | SLOW);
    window.record(0);
    expect(window.stats()).toMatchObject({ failures: 0, slowCalls: 0 });
    window.record(SLOW);
    expect(window.record(SLOW)).toBe(TRIP_SLOW_CALLS);
  });

  it('round-trips through a snapshot and drops one of another kind', () => {
    const window = new ConsecutiveWindow(5);
    window.record(FAILED);
    window.record(FAILED | SLOW);
    const restored = new ConsecutiveWindow(5);
    restored.restore(window.snapshot());
    expect(restored.snapshot()).toEqual({ kind: 'consecutive', failures: 2, slowCalls: 1 });
    restored.restore({ kind: 'count', calls: [1, 1] });
    expect(restored.snapshot()).toEqual({ kind: 'consecutive', failures: 0, slowCalls: 0 });
  });
});
