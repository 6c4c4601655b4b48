import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { failure } from '../test/helpers.js';
import { type CircuitBreaker, createCircuitBreaker, type Permit } from './circuit-breaker.js';
import { isBrokenCircuitError } from './errors.js';
import type { CircuitBreakerOptions } from './options.js';
import { type CircuitBreakerSnapshot, parseSnapshot } from './snapshot.js';

function acquire(breaker: CircuitBreaker): Permit {
  const permit = breaker.tryAcquire();
  if (isBrokenCircuitError(permit)) throw permit;
  return permit;
}

/** Serialises as a store would, and restores on a clock with a different origin. */
function moveToAnotherProcess(
  snapshot: CircuitBreakerSnapshot,
  options: CircuitBreakerOptions,
  start = 7_654_321,
) {
  const clock = createFakeClock({ start });
  const restored = JSON.parse(JSON.stringify(snapshot)) as CircuitBreakerSnapshot;
  return { clock, breaker: createCircuitBreaker({ ...options, clock, initialState: restored }) };
}

describe('snapshot', () => {
  it('round-trips a closed breaker with its count window through JSON', () => {
    const options: CircuitBreakerOptions = { window: { kind: 'count', size: 5 }, minimumCalls: 4 };
    const source = createCircuitBreaker({ ...options, clock: createFakeClock() });
    acquire(source).success();
    acquire(source).failure(failure());
    acquire(source).success();
    const snapshot = source.snapshot();
    expect(snapshot).toEqual({
      version: 1,
      state: 'closed',
      attempt: 0,
      window: { kind: 'count', calls: [0, 1, 0] },
    });
    const { breaker } = moveToAnotherProcess(snapshot, options);
    expect(breaker.snapshot()).toEqual(snapshot);
    expect(breaker.metrics()).toMatchObject({ windowCalls: 3, failureRate: 1 / 3 });
    // It goes on exactly as the source would have: a 4th call, a failure, makes 2/4 = 50%.
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('open');
  });

  it('restores an open breaker open, with the remaining time, on another clock origin', () => {
    const options: CircuitBreakerOptions = {
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: (attempt) => attempt * 10_000,
    };
    const sourceClock = createFakeClock();
    const source = createCircuitBreaker({ ...options, clock: sourceClock });
    acquire(source).failure(failure());
    sourceClock.advance(4_000);
    const snapshot = source.snapshot();
    expect(snapshot).toMatchObject({ state: 'open', openRemainingMs: 6_000, attempt: 1 });

    const { clock, breaker } = moveToAnotherProcess(snapshot, options);
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toMatchObject({ state: 'open', retryAfterMs: 6_000 });
    clock.advance(5_999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    // The attempt travelled too: a failed trial now opens for attempt 2.
    acquire(breaker).failure(failure());
    expect(breaker.tryAcquire()).toMatchObject({ retryAfterMs: 20_000 });
  });

  it('restores half-open without the trials that were in flight', () => {
    const clock = createFakeClock();
    const options: CircuitBreakerOptions = {
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 100,
    };
    const source = createCircuitBreaker({ ...options, clock });
    acquire(source).failure(failure());
    clock.advance(100);
    acquire(source);
    const snapshot = source.snapshot();
    expect(snapshot.state).toBe('half-open');
    const { breaker } = moveToAnotherProcess(snapshot, options);
    expect(breaker.metrics()).toMatchObject({ state: 'half-open', trialsInFlight: 0 });
    acquire(breaker).success();
    expect(breaker.state).toBe('closed');
  });

  it('restores an isolation, which only reset() lifts', () => {
    const source = createCircuitBreaker({ clock: createFakeClock() });
    source.isolate();
    const { breaker } = moveToAnotherProcess(source.snapshot(), {});
    expect(breaker.state).toBe('isolated');
    breaker.isolate().dispose();
    expect(breaker.state).toBe('isolated');
    breaker.reset();
    expect(breaker.state).toBe('closed');
  });

  it('keeps the state but drops window data of another kind', () => {
    const source = createCircuitBreaker({ clock: createFakeClock() });
    acquire(source).failure(failure());
    const { breaker } = moveToAnotherProcess(source.snapshot(), {
      window: { kind: 'time', durationMs: 10_000 },
    });
    expect(breaker.metrics()).toMatchObject({ state: 'closed', windowCalls: 0 });
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'closed', 'initialState'],
    [
      'a future version',
      { version: 2, state: 'closed', attempt: 0, window: { kind: 'count', calls: [] } },
      'initialState.version',
    ],
    [
      'an unknown state',
      { version: 1, state: 'ajar', attempt: 0, window: { kind: 'count', calls: [] } },
      'initialState.state',
    ],
    [
      'a negative attempt',
      { version: 1, state: 'closed', attempt: -1, window: { kind: 'count', calls: [] } },
      'initialState.attempt',
    ],
    [
      'open without remaining time',
      { version: 1, state: 'open', attempt: 1, window: { kind: 'count', calls: [] } },
      'initialState.openRemainingMs',
    ],
    [
      'an unknown window kind',
      { version: 1, state: 'closed', attempt: 0, window: { kind: 'sliding' } },
      'initialState.window.kind',
    ],
    [
      'a bad recorded call',
      { version: 1, state: 'closed', attempt: 0, window: { kind: 'count', calls: [0, 7] } },
      'initialState.window.calls[1]',
    ],
    [
      'a fractional run',
      {
        version: 1,
        state: 'closed',
        attempt: 0,
        window: { kind: 'consecutive', failures: 1.5, slowCalls: 0 },
      },
      'initialState.window.failures',
    ],
    [
      'more failures than calls in a bucket',
      {
        version: 1,
        state: 'closed',
        attempt: 0,
        window: { kind: 'time', bucketMs: 100, newestBucketAgeMs: 0, buckets: [[1, 2, 0]] },
      },
      'initialState.window.buckets[0][1]',
    ],
    [
      'a bucket of the wrong shape',
      {
        version: 1,
        state: 'closed',
        attempt: 0,
        window: { kind: 'time', bucketMs: 100, newestBucketAgeMs: 0, buckets: [[1]] },
      },
      'initialState.window.buckets[0]',
    ],
    [
      'a negative bucket age',
      {
        version: 1,
        state: 'closed',
        attempt: 0,
        window: { kind: 'time', bucketMs: 100, newestBucketAgeMs: -5, buckets: [] },
      },
      'initialState.window.newestBucketAgeMs',
    ],
  ])('refuses %s with a typed error naming the field', (_, initialState, option) => {
    expect(() => createCircuitBreaker({ initialState: initialState as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION', option }),
    );
  });

  it('parseSnapshot copies what it accepts', () => {
    const calls = [0, 1];
    const parsed = parseSnapshot({
      version: 1,
      state: 'closed',
      attempt: 0,
      window: { kind: 'count', calls },
    });
    calls.push(1);
    expect(parsed.window).toEqual({ kind: 'count', calls: [0, 1] });
  });
});
