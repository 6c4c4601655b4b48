import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { captureSurfacedErrors, failure, settled } from '../test/helpers.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { systemClock } from './clock.js';
import { InvalidBreakerOptionError } from './errors.js';
import { type CircuitBreakerOptions, resolveCircuitBreakerOptions } from './options.js';

describe('resolveCircuitBreakerOptions', () => {
  it('fills in documented defaults', () => {
    const resolved = resolveCircuitBreakerOptions();
    expect(resolved).toMatchObject({
      window: { kind: 'count', size: 20 },
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      slowCallDurationMs: Number.POSITIVE_INFINITY,
      slowCallRateThreshold: 1,
      openDurationMs: 10_000,
      halfOpenPermits: 1,
      halfOpenProbeTimeoutMs: 30_000,
      classify: undefined,
      clock: systemClock,
      name: undefined,
      initialState: undefined,
    });
    expect(resolved.random()).toBeGreaterThanOrEqual(0);
  });

  it('fills in window fields and fits minimumCalls to a small count window', () => {
    expect(resolveCircuitBreakerOptions({ window: { kind: 'consecutive' } }).window).toEqual({
      kind: 'consecutive',
      failures: 5,
    });
    expect(resolveCircuitBreakerOptions({ window: { kind: 'time' } }).window).toEqual({
      kind: 'time',
      durationMs: 60_000,
      buckets: 10,
    });
    expect(resolveCircuitBreakerOptions({ window: { kind: 'count', size: 4 } }).minimumCalls).toBe(
      4,
    );
  });

  it.each<[string, CircuitBreakerOptions | unknown, string]>([
    ['window', { window: 'count' }, "{ kind: 'consecutive' | 'count' | 'time', … }"],
    ['window.kind', { window: { kind: 'sliding' } }, '"consecutive", "count" or "time"'],
    ['window.failures', { window: { kind: 'consecutive', failures: 0 } }, 'an integer ≥ 1'],
    ['window.size', { window: { kind: 'count', size: 2.5 } }, 'an integer ≥ 1 and ≤ 1000000'],
    ['window.buckets', { window: { kind: 'time', buckets: 0 } }, 'an integer ≥ 1 and ≤ 10000'],
    [
      'window.durationMs',
      { window: { kind: 'time', durationMs: 5, buckets: 10 } },
      'a number ≥ 10',
    ],
    ['failureRateThreshold', { failureRateThreshold: 0 }, 'a number > 0 and ≤ 1'],
    ['failureRateThreshold', { failureRateThreshold: 2 }, 'a number > 0 and ≤ 1'],
    ['failureRateThreshold', { failureRateThreshold: Number.NaN }, 'a number > 0 and ≤ 1'],
    ['minimumCalls', { minimumCalls: 0 }, 'an integer ≥ 1 and ≤ 20'],
    ['minimumCalls', { window: { kind: 'time' }, minimumCalls: 0 }, 'an integer ≥ 1'],
    [
      'minimumCalls',
      { window: { kind: 'count', size: 5 }, minimumCalls: 6 },
      'an integer ≥ 1 and ≤ 5',
    ],
    ['slowCallDurationMs', { slowCallDurationMs: -1 }, 'a number ≥ 0 (or Infinity)'],
    ['slowCallRateThreshold', { slowCallRateThreshold: 1.5 }, 'a number > 0 and ≤ 1'],
    ['openDurationMs', { openDurationMs: -5 }, 'a number ≥ 0'],
    ['openDurationMs', { openDurationMs: Number.POSITIVE_INFINITY }, 'a number ≥ 0'],
    ['halfOpenPermits', { halfOpenPermits: 0 }, 'an integer ≥ 1 and ≤ 1000'],
    ['halfOpenProbeTimeoutMs', { halfOpenProbeTimeoutMs: 0 }, 'a number ≥ 1 and ≤ 2147483647'],
    [
      'halfOpenProbeTimeoutMs',
      { halfOpenProbeTimeoutMs: 2 ** 31 },
      'a number ≥ 1 and ≤ 2147483647',
    ],
    ['classify', { classify: 'failure' }, "a function returning 'success', 'failure' or 'ignore'"],
    ['clock', { clock: { now: () => 0 } }, 'an object with now, setTimeout and clearTimeout'],
    ['random', { random: 4 }, 'a function returning [0, 1)'],
    ['name', { name: '' }, 'a non-empty string'],
    ['options', null, 'an object'],
  ])(
    'refuses a bad %s, naming the option, the value and the allowed range',
    (option, options, allowed) => {
      let caught: unknown;
      try {
        resolveCircuitBreakerOptions(options as CircuitBreakerOptions);
      } catch (error) {
        caught = error;
      }
      expect(InvalidBreakerOptionError.isInstance(caught)).toBe(true);
      expect(caught).toMatchObject({ code: 'INVALID_OPTION', option, allowed });
      expect((caught as Error).message).toMatch(
        new RegExp(`^Invalid option "${option.replace('.', '\\.')}": got .+, expected `),
      );
    },
  );

  it('formats the message like core: value and allowed range', () => {
    expect(() => createCircuitBreaker({ failureRateThreshold: 5 })).toThrow(
      'Invalid option "failureRateThreshold": got 5, expected a number > 0 and ≤ 1',
    );
  });

  it('falls back to 10 s and surfaces the error when an openDurationMs function misbehaves', async () => {
    const capture = captureSurfacedErrors();
    try {
      for (const openDurationMs of [
        () => Number.NaN,
        () => -1,
        () => {
          throw new Error('backoff bug');
        },
      ]) {
        const breaker = createCircuitBreaker({
          clock: createFakeClock(),
          window: { kind: 'consecutive', failures: 1 },
          openDurationMs,
        });
        await breaker
          .execute(async () => {
            throw failure();
          })
          .catch(() => {});
        expect(breaker.tryAcquire()).toMatchObject({ state: 'open', retryAfterMs: 10_000 });
      }
      await settled();
      expect(capture.errors).toHaveLength(3);
      expect(capture.errors[0]).toMatchObject({ option: 'openDurationMs' });
      expect(capture.errors[2]).toMatchObject({ message: 'backoff bug' });
    } finally {
      capture.restore();
    }
  });
});
