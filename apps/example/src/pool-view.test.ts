import { createPool } from '@enhanced-pool/pool';
import { createFakeClock, createFakeDriver } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import {
  type AnyPool,
  breakerState,
  lastHealthReport,
  poolFeatures,
  probePool,
  runHealthCheck,
} from './pool-view.js';

/** A pool build from before issue 5: the issue-4 surface only. */
function issue4Pool(state: 'open' | 'closing' | 'closed'): AnyPool {
  return { getStats: () => ({ state }), on: () => ({ dispose() {} }) } as unknown as AnyPool;
}

describe('pool view on a pool without the issue-5 members', () => {
  it('derives live and ready from the pool state and reports the breaker unavailable', async () => {
    expect(probePool(issue4Pool('open'))).toEqual({
      live: true,
      ready: true,
      reasons: [],
      source: 'fallback',
    });
    expect(probePool(issue4Pool('closing'))).toEqual({
      live: false,
      ready: false,
      reasons: ['pool is closing'],
      source: 'fallback',
    });
    const pool = issue4Pool('open');
    expect(breakerState(pool)).toBe('unavailable');
    expect(lastHealthReport(pool)).toBeUndefined();
    await expect(runHealthCheck(pool)).resolves.toBeUndefined();
    expect(poolFeatures(pool)).toEqual({
      circuitBreaker: false,
      healthCheck: false,
      probes: false,
      adaptiveSizing: false,
    });
  });
});

describe('pool view on this workspace’s pool', () => {
  const clock = createFakeClock();
  const pool = createPool({ driver: createFakeDriver({ clock }), clock, minSize: 0 });
  const features = poolFeatures(pool);

  it('uses the pool’s own probes when it has them', async () => {
    const probes = probePool(pool);
    expect(probes.live).toBe(true);
    expect(probes.ready).toBe(true);
    expect(probes.source).toBe(features.probes ? 'pool' : 'fallback');
    await pool.close();
    expect(probePool(pool)).toMatchObject({ live: false, ready: false });
  });

  it.skipIf(!features.circuitBreaker)(
    'reads the breaker through connCircuitBreaker (skipped when the pool has none yet)',
    async () => {
      const withBreaker = createPool({ driver: createFakeDriver({ clock }), clock });
      expect(breakerState(withBreaker)).toBe('closed');
      await withBreaker.close();
      // A variable, not a literal: the option is unknown to pool builds without a breaker.
      const breakerOff = {
        driver: createFakeDriver({ clock }),
        clock,
        circuitBreaker: false as const,
      };
      const withoutBreaker = createPool(breakerOff);
      expect(breakerState(withoutBreaker)).toBe('disabled');
      await withoutBreaker.close();
    },
  );
});
