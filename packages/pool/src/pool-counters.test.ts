import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';
import { PoolCounters, type PoolGauges } from './pool-counters.js';
import { DESTROY_REASONS } from './pool-events.js';

const gauges: PoolGauges = { size: 7, idle: 3, active: 4, pending: 2, connecting: 1 };
const pool = {
  name: 'orders',
  state: 'open',
  healthChecking: 1,
  minSize: 2,
  maxSize: 10,
  targetSize: 5,
  breakerState: 'half-open',
  acquired: 0,
  released: 0,
  acquireWaitSeconds: new LatencyHistogram().summary(),
  useSeconds: new LatencyHistogram().summary(),
  connectSeconds: new LatencyHistogram().summary(),
} as const;

describe('PoolCounters', () => {
  it('starts every counter, and every destroy reason, at zero', () => {
    const counters = new PoolCounters();
    const stats = counters.toStats(gauges, pool);
    for (const key of [
      'acquired',
      'released',
      'created',
      'destroyed',
      'errors',
      'timeouts',
      'connectErrors',
      'connectAttempts',
      'circuitRejections',
      'validationFailures',
      'resetFailures',
      'exhausted',
      'aborted',
      'waited',
      'leaks',
      'retries',
      'suspected',
    ] as const) {
      expect(stats[key], key).toBe(0);
    }
    expect(Object.keys(stats.destroyedByReason).sort()).toEqual([...DESTROY_REASONS].sort());
    expect(Object.values(stats.destroyedByReason).every((count) => count === 0)).toBe(true);
  });

  it('counts a destroyed connection in the total and under its reason', () => {
    const counters = new PoolCounters();
    counters.countDestroyed('idle-timeout');
    counters.countDestroyed('idle-timeout');
    counters.countDestroyed('broken');
    expect(counters.destroyed).toBe(3);
    expect(counters.destroyedByReason['idle-timeout']).toBe(2);
    expect(counters.destroyedByReason.broken).toBe(1);
    expect(counters.destroyedByReason.lifetime).toBe(0);
  });

  it('maps gauges, counters and pool facts to the public stats fields', () => {
    const counters = new PoolCounters();
    counters.created = 9;
    counters.errors = 8;
    counters.timeouts = 7;
    counters.connectErrors = 6;
    counters.connectAttempts = 15;
    counters.circuitRejections = 5;
    counters.validationFailures = 4;
    counters.resetFailures = 3;
    counters.exhausted = 2;
    counters.aborted = 1;
    counters.waited = 12;
    counters.leaks = 13;
    counters.retries = 14;
    counters.suspected = 16;
    counters.countDestroyed('shrink');
    counters.connectErrorsByReason.timeout = 6;
    expect(counters.toStats(gauges, { ...pool, acquired: 11, released: 10 })).toEqual({
      name: 'orders',
      state: 'open',
      poolSize: 7,
      idleConnections: 3,
      activeConnections: 4,
      healthChecking: 1,
      connecting: 1,
      pending: 2,
      minSize: 2,
      maxSize: 10,
      acquired: 11,
      released: 10,
      created: 9,
      destroyed: 1,
      errors: 8,
      timeouts: 7,
      connectErrors: 6,
      connectAttempts: 15,
      circuitRejections: 5,
      breakerState: 'half-open',
      targetSize: 5,
      validationFailures: 4,
      resetFailures: 3,
      exhausted: 2,
      aborted: 1,
      waited: 12,
      leaks: 13,
      retries: 14,
      suspected: 16,
      destroyedByReason: { ...new PoolCounters().destroyedByReason, shrink: 1 },
      connectErrorsByReason: { ...new PoolCounters().connectErrorsByReason, timeout: 6 },
      acquireWaitSeconds: pool.acquireWaitSeconds,
      useSeconds: pool.useSeconds,
      connectSeconds: pool.connectSeconds,
    });
  });

  it('returns a snapshot: later destroys do not change stats already handed out', () => {
    const counters = new PoolCounters();
    const before = counters.toStats(gauges, pool);
    counters.countDestroyed('close');
    expect(before.destroyedByReason.close).toBe(0);
    expect(counters.toStats(gauges, pool).destroyedByReason.close).toBe(1);
  });
});
