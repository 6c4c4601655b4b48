import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { failure } from '../test/helpers.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { exponentialBackoff } from './exponential-backoff.js';

const never = (): number => {
  throw new Error('random must not be called');
};

describe('exponentialBackoff', () => {
  it('doubles from baseMs and stops at capMs without jitter', () => {
    const backoff = exponentialBackoff({ baseMs: 100, capMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 50, 5_000].map((attempt) => backoff(attempt, never))).toEqual([
      100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });

  it('with full jitter, draws between minMs and the exponential value', () => {
    const backoff = exponentialBackoff({ baseMs: 100, capMs: 1_000, random: () => 0.5 });
    expect(backoff(1, never)).toBe(1 + 0.5 * 99);
    expect(backoff(4, never)).toBe(1 + 0.5 * 799);
    const zero = exponentialBackoff({ baseMs: 100, capMs: 1_000, random: () => 0 });
    expect(zero(3, never)).toBe(1);
    const floored = exponentialBackoff({ baseMs: 100, capMs: 1_000, minMs: 50, random: () => 0 });
    expect(floored(3, never)).toBe(50);
  });

  it("uses the breaker's random source when it has none of its own", () => {
    const clock = createFakeClock();
    const breaker = createCircuitBreaker({
      clock,
      random: () => 0.25,
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: exponentialBackoff({ baseMs: 1_000, capMs: 60_000, minMs: 0 }),
    });
    const permit = breaker.tryAcquire();
    if ('code' in permit) throw permit;
    permit.failure(failure());
    expect(breaker.tryAcquire()).toMatchObject({ retryAfterMs: 250 });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['baseMs', { baseMs: 0 }, 'a finite number ≥ 1'],
    ['capMs', { baseMs: 100, capMs: 50 }, 'a finite number ≥ 100'],
    ['minMs', { minMs: -1 }, 'a finite number ≥ 0'],
    ['minMs', { capMs: 1_000, minMs: 2_000 }, 'a finite number ≤ capMs (1000)'],
    ['jitter', { jitter: 'equal' }, '"full" or "none"'],
    ['random', { random: 0.5 }, 'a function returning [0, 1)'],
  ])('refuses a bad %s', (option, options, allowed) => {
    expect(() => exponentialBackoff(options as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option, allowed }),
    );
  });
});
