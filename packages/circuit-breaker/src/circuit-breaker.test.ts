import { createFakeClock, type FakeClock } from '@enhanced-pool/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureSurfacedErrors, deferred, failure, settled } from '../test/helpers.js';
import { type CircuitBreaker, createCircuitBreaker, type Permit } from './circuit-breaker.js';
import {
  BrokenCircuitError,
  InvalidBreakerOptionError,
  isBrokenCircuitError,
  PermitAlreadyReportedError,
} from './errors.js';
import type { OutcomeEvent, StateChangeEvent } from './events.js';
import type { CircuitBreakerOptions } from './options.js';

function setup(options: CircuitBreakerOptions = {}): {
  clock: FakeClock;
  breaker: CircuitBreaker;
  changes: StateChangeEvent[];
} {
  const clock = createFakeClock();
  const breaker = createCircuitBreaker({ clock, ...options });
  const changes: StateChangeEvent[] = [];
  breaker.on('stateChange', (event) => changes.push(event));
  return { clock, breaker, changes };
}

function acquire(breaker: CircuitBreaker): Permit {
  const permit = breaker.tryAcquire();
  if (isBrokenCircuitError(permit)) throw new Error(`expected a permit, got ${permit.message}`);
  return permit;
}

/** Opens a consecutive(1) breaker with one failure. */
function openWithOneFailure(breaker: CircuitBreaker, error: unknown = failure()): void {
  acquire(breaker).failure(error);
}

const fail =
  (error: unknown = failure()) =>
  async (): Promise<never> => {
    throw error;
  };

describe('closed', () => {
  it('passes values through and counts successes', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(async () => 42)).resolves.toBe(42);
    await expect(breaker.execute(() => 'sync value')).resolves.toBe('sync value');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ calls: 2, successes: 2, failures: 0 });
  });

  it('rethrows failures, including synchronous throws, as they were', async () => {
    const { breaker } = setup();
    const error = failure('sync');
    await expect(
      breaker.execute(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    await expect(breaker.execute(fail(failure('async')))).rejects.toThrow('async');
    expect(breaker.metrics()).toMatchObject({ calls: 2, failures: 2 });
  });

  it('does not open on a first failure with the defaults (minimumCalls)', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(fail())).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
    for (let index = 0; index < 8; index += 1) {
      await breaker.execute(fail()).catch(() => {});
    }
    expect(breaker.state).toBe('closed');
    // The tenth call reaches minimumCalls (10) with a 100% failure rate.
    await breaker.execute(fail()).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('opens on the failure rate of a count window once minimumCalls are in it', () => {
    const { breaker, changes } = setup({
      window: { kind: 'count', size: 10 },
      minimumCalls: 4,
      failureRateThreshold: 0.5,
      openDurationMs: 1_000,
    });
    acquire(breaker).success();
    acquire(breaker).success();
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('closed');
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([
      {
        name: undefined,
        from: 'closed',
        to: 'open',
        reason: 'failure-threshold',
        attempt: 1,
        openDurationMs: 1_000,
        previousStateMs: 0,
      },
    ]);
  });

  it('opens on consecutive failures; a success breaks the run', () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 3 } });
    acquire(breaker).failure(failure());
    acquire(breaker).failure(failure());
    acquire(breaker).success();
    acquire(breaker).failure(failure());
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('closed');
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('open');
  });

  it('rejects a non-function with a typed error and counts nothing', async () => {
    const { breaker } = setup();
    const error = await breaker.execute(42 as never).catch((caught: unknown) => caught);
    expect(InvalidBreakerOptionError.isInstance(error)).toBe(true);
    expect(breaker.metrics().calls).toBe(0);
  });
});

// A closed call needs no duration unless slow-call detection is on or an `outcome` listener
// is registered; execute() takes a cheaper path then. Both paths must behave the same.
const closedPaths: readonly [string, CircuitBreakerOptions][] = [
  ['unmeasured', {}],
  ['measured (slow-call detection on)', { slowCallDurationMs: 1_000 }],
];

describe.each(closedPaths)('closed execute(), %s', (_, pathOptions) => {
  it('turns a synchronous throw into a rejection, counted before execute() returns', async () => {
    const { breaker } = setup({ ...pathOptions, window: { kind: 'consecutive', failures: 1 } });
    const error = failure('sync');
    let call: Promise<unknown> | undefined;
    expect(() => {
      call = breaker.execute(() => {
        throw error;
      });
    }).not.toThrow();
    expect(breaker.state).toBe('open');
    expect(breaker.metrics()).toMatchObject({ calls: 1, failures: 1 });
    await expect(call).rejects.toBe(error);
  });

  it('adopts plain values and thenables as await would, and returns a native promise', async () => {
    const { breaker } = setup({ ...pathOptions, window: { kind: 'consecutive', failures: 2 } });
    class OtherPromise<T> extends Promise<T> {}
    const results = [
      breaker.execute(() => undefined),
      breaker.execute(() => 'sync value'),
      // Typed as unknown: TypeScript would hold the object to the whole PromiseLike contract.
      breaker.execute<unknown>(() => ({
        // biome-ignore lint/suspicious/noThenProperty: a thenable is what this checks.
        then: (resolve: (value: number) => void) => resolve(7),
      })),
      breaker.execute(() => OtherPromise.resolve('subclass')),
    ];
    for (const result of results) expect(result.constructor).toBe(Promise);
    expect(await Promise.all(results)).toEqual([undefined, 'sync value', 7, 'subclass']);
    const error = failure('thenable');
    const rejecting = breaker.execute<unknown>(() => ({
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this checks.
      then: (_: unknown, reject: (error: unknown) => void) => reject(error),
    }));
    await expect(rejecting).rejects.toBe(error);
    expect(breaker.metrics()).toMatchObject({ calls: 5, successes: 4, failures: 1 });
  });

  it('counts calls in flight across an opening and a re-close as stale', async () => {
    const { clock, breaker } = setup({
      ...pathOptions,
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
    });
    const early = deferred<never>();
    const alsoEarly = deferred<string>();
    const earlyCall = breaker.execute(() => early.promise);
    const alsoEarlyCall = breaker.execute(() => alsoEarly.promise);
    openWithOneFailure(breaker);
    clock.advance(1_000);
    acquire(breaker).success();
    expect(breaker.state).toBe('closed');
    const current = deferred<never>();
    const currentCall = breaker.execute(() => current.promise);
    early.reject(failure('from before the opening'));
    alsoEarly.resolve('late');
    await expect(earlyCall).rejects.toThrow('from before the opening');
    await expect(alsoEarlyCall).resolves.toBe('late');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ windowCalls: 0, staleOutcomes: 2 });
    current.reject(failure('now'));
    await expect(currentCall).rejects.toThrow('now');
    expect(breaker.state).toBe('open');
    expect(breaker.metrics()).toMatchObject({ calls: 5, failures: 3, staleOutcomes: 2 });
  });

  it('after a reset, counts new calls again while the older ones stay stale', async () => {
    const { breaker } = setup({ ...pathOptions, window: { kind: 'consecutive', failures: 1 } });
    const before = deferred<never>();
    const beforeCall = breaker.execute(() => before.promise);
    breaker.reset();
    const after = deferred<never>();
    const afterCall = breaker.execute(() => after.promise);
    before.reject(failure('before'));
    await expect(beforeCall).rejects.toThrow('before');
    expect(breaker.state).toBe('closed');
    after.reject(failure('after'));
    await expect(afterCall).rejects.toThrow('after');
    expect(breaker.state).toBe('open');
    expect(breaker.metrics()).toMatchObject({ failures: 2, staleOutcomes: 1 });
  });

  it('counts a call whose fn moved the breaker before returning as stale', async () => {
    const { breaker } = setup({ ...pathOptions, window: { kind: 'consecutive', failures: 1 } });
    const resetting = breaker.execute(() => {
      breaker.reset();
      return Promise.reject(failure('after the reset'));
    });
    await expect(resetting).rejects.toThrow('after the reset');
    const throwing = breaker.execute(() => {
      breaker.reset();
      throw failure('thrown after the reset');
    });
    await expect(throwing).rejects.toThrow('thrown after the reset');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ failures: 2, staleOutcomes: 2 });
  });

  it('records outcomes in a time window at the time they settle', async () => {
    const { clock, breaker } = setup({
      ...pathOptions,
      window: { kind: 'time', durationMs: 1_000, buckets: 10 },
      minimumCalls: 2,
      failureRateThreshold: 0.5,
    });
    await expect(breaker.execute(fail())).rejects.toThrow('boom');
    clock.advance(1_100);
    await expect(breaker.execute(fail())).rejects.toThrow('boom');
    expect(breaker.metrics()).toMatchObject({ state: 'closed', windowCalls: 1 });
    const gate = deferred<never>();
    const call = breaker.execute(() => gate.promise);
    clock.advance(50);
    gate.reject(failure());
    await expect(call).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
  });
});

describe('closed execute() durations', () => {
  it('reports a duration for calls that started with an outcome listener, none for the others', async () => {
    const { clock, breaker } = setup();
    const unmeasured = deferred<number>();
    const unmeasuredCall = breaker.execute(() => unmeasured.promise);
    const events: OutcomeEvent[] = [];
    breaker.on('outcome', (event) => events.push(event));
    const measured = deferred<number>();
    const measuredCall = breaker.execute(() => measured.promise);
    clock.advance(30);
    unmeasured.resolve(1);
    measured.resolve(2);
    await Promise.all([unmeasuredCall, measuredCall]);
    expect(events.map((event) => event.durationMs)).toEqual([undefined, 30]);
    expect(events.every((event) => event.outcome === 'success' && !event.slow)).toBe(true);
  });
});

describe('open', () => {
  it('rejects without calling fn, with retryAfterMs and the last failure', async () => {
    const { clock, breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const cause = failure('db down');
    openWithOneFailure(breaker, cause);
    clock.advance(4_000);
    const fn = vi.fn(async () => 1);
    const error = await breaker.execute(fn).catch((caught: unknown) => caught);
    expect(fn).not.toHaveBeenCalled();
    expect(isBrokenCircuitError(error)).toBe(true);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(error).toMatchObject({
      code: 'BROKEN_CIRCUIT',
      state: 'open',
      retryAfterMs: 6_000,
      lastFailure: cause,
      cause,
      message: 'Circuit is open; retry after 6000 ms',
    });
    expect(breaker.metrics().rejections).toBe(1);
  });

  it('tryAcquire returns the error instead of throwing, and emits rejected', () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 }, name: 'orders-db' });
    const rejected = vi.fn();
    breaker.on('rejected', rejected);
    openWithOneFailure(breaker);
    const result = breaker.tryAcquire();
    expect(isBrokenCircuitError(result)).toBe(true);
    expect((result as BrokenCircuitError).message).toContain('Circuit "orders-db" is open');
    expect(rejected).toHaveBeenCalledWith({ name: 'orders-db', state: 'open', error: result });
  });

  it('becomes half-open lazily, when next observed after the open period, with no timer', () => {
    const { clock, breaker, changes } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
    });
    openWithOneFailure(breaker);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(changes).toHaveLength(1);
    expect(breaker.getState()).toBe('half-open');
    expect(changes[1]).toMatchObject({
      from: 'open',
      to: 'half-open',
      reason: 'open-elapsed',
      previousStateMs: 1_000,
    });
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('half-open', () => {
  function halfOpen(options: CircuitBreakerOptions = {}) {
    const context = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
      ...options,
    });
    openWithOneFailure(context.breaker);
    context.clock.advance(1_000);
    expect(context.breaker.state).toBe('half-open');
    return context;
  }

  it('with halfOpenPermits = 3, lets exactly 3 of 100 concurrent calls through', async () => {
    const { breaker } = halfOpen({ halfOpenPermits: 3, halfOpenProbeTimeoutMs: 5_000 });
    const gate = deferred<string>();
    const fn = vi.fn(() => gate.promise);
    const calls = Array.from({ length: 100 }, () =>
      breaker.execute(fn).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
    expect(fn).toHaveBeenCalledTimes(3);
    gate.resolve('ok');
    const results = await Promise.all(calls);
    const admitted = results.filter((result) => 'value' in result);
    const refused = results.filter((result) => 'error' in result);
    expect(admitted).toHaveLength(3);
    expect(refused).toHaveLength(97);
    for (const result of refused) {
      expect((result as { error: unknown }).error).toMatchObject({
        code: 'BROKEN_CIRCUIT',
        state: 'half-open',
        retryAfterMs: 5_000,
      });
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ rejections: 97, trialsInFlight: 0 });
  });

  it('closes after halfOpenPermits successes, with an empty window and attempt 0', () => {
    const { breaker, changes } = halfOpen({ halfOpenPermits: 2 });
    const first = acquire(breaker);
    const second = acquire(breaker);
    expect(first.trial && second.trial).toBe(true);
    expect(isBrokenCircuitError(breaker.tryAcquire())).toBe(true);
    first.success();
    expect(breaker.state).toBe('half-open');
    // A success keeps its slot: no third trial while the second is in flight.
    expect(isBrokenCircuitError(breaker.tryAcquire())).toBe(true);
    second.success();
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toMatchObject({ to: 'closed', reason: 'trials-succeeded', attempt: 0 });
    expect(breaker.metrics()).toMatchObject({ windowCalls: 0, attempt: 0, failureRate: 0 });
  });

  it('frees the slot of an ignored trial', () => {
    const { breaker } = halfOpen();
    acquire(breaker).ignore();
    expect(breaker.state).toBe('half-open');
    acquire(breaker).success();
    expect(breaker.state).toBe('closed');
  });

  it('reopens on a failed trial with the next, longer open duration', () => {
    const { clock, breaker, changes } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: (attempt) => attempt * 1_000,
    });
    openWithOneFailure(breaker);
    clock.advance(1_000);
    acquire(breaker).failure(failure('still down'));
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({
      reason: 'trial-failed',
      attempt: 2,
      openDurationMs: 2_000,
    });
    expect(breaker.tryAcquire()).toMatchObject({ retryAfterMs: 2_000 });
    clock.advance(1_999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    acquire(breaker).failure(failure());
    expect(changes.at(-1)).toMatchObject({ attempt: 3, openDurationMs: 3_000 });
    clock.advance(3_000);
    acquire(breaker).success();
    expect(breaker.state).toBe('closed');
    // Closing resets the attempt: the next opening is short again.
    openWithOneFailure(breaker);
    expect(changes.at(-1)).toMatchObject({ attempt: 1, openDurationMs: 1_000 });
  });

  it('counts a trial that never settles as a failure after halfOpenProbeTimeoutMs', async () => {
    const { clock, breaker, changes } = halfOpen({
      halfOpenProbeTimeoutMs: 500,
      openDurationMs: (attempt) => attempt * 1_000,
    });
    const hanging = deferred<string>();
    const call = breaker.execute(() => hanging.promise);
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(499);
    expect(breaker.state).toBe('half-open');
    clock.advance(1);
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({
      reason: 'probe-timeout',
      attempt: 2,
      openDurationMs: 2_000,
    });
    expect(clock.pendingTimers()).toBe(0);
    expect(breaker.metrics()).toMatchObject({ probeTimeouts: 1, failures: 2, calls: 2 });
    // The call itself is not cancelled; its late outcome moves nothing and is not counted twice.
    hanging.resolve('late');
    await expect(call).resolves.toBe('late');
    expect(breaker.state).toBe('open');
    expect(breaker.metrics()).toMatchObject({ calls: 2, successes: 0 });
  });

  it('accepts (and ignores) a report on a trial permit whose probe deadline passed', () => {
    const { clock, breaker } = halfOpen({ halfOpenProbeTimeoutMs: 100 });
    const permit = acquire(breaker);
    clock.advance(100);
    expect(breaker.state).toBe('open');
    expect(() => permit.success()).not.toThrow();
    expect(breaker.state).toBe('open');
    expect(() => permit.success()).toThrow(PermitAlreadyReportedError);
  });

  it('clears the probe timer as soon as the trial settles', async () => {
    const { clock, breaker } = halfOpen();
    const gate = deferred<number>();
    const call = breaker.execute(() => gate.promise);
    expect(clock.pendingTimers()).toBe(1);
    gate.resolve(1);
    await call;
    expect(clock.pendingTimers()).toBe(0);
    expect(breaker.state).toBe('closed');
  });

  it('treats a slow trial as a failed one when slow-call detection is on', () => {
    const { clock, breaker, changes } = halfOpen({ slowCallDurationMs: 200 });
    const permit = acquire(breaker);
    clock.advance(201);
    permit.success();
    expect(breaker.state).toBe('open');
    expect(changes.at(-1)).toMatchObject({ reason: 'trial-failed' });
  });
});

describe('stale permits', () => {
  it('an outcome from before an opening is counted but never moves the state', () => {
    const { clock, breaker, changes } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
    });
    const early = acquire(breaker);
    openWithOneFailure(breaker);
    clock.advance(500);
    early.success();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toMatchObject({ retryAfterMs: 500 });
    expect(changes).toHaveLength(1);
    expect(breaker.metrics()).toMatchObject({ calls: 2, successes: 1, staleOutcomes: 1 });
  });

  it('a failure from an earlier closed period does not enter the new window', () => {
    const { clock, breaker } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
    });
    const early = acquire(breaker);
    openWithOneFailure(breaker);
    clock.advance(1_000);
    acquire(breaker).success();
    expect(breaker.state).toBe('closed');
    early.failure(failure('from a dead connection'));
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ windowCalls: 0, staleOutcomes: 1 });
  });

  it('a trial from an earlier half-open period cannot close the breaker', () => {
    const { clock, breaker } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 1_000,
      halfOpenPermits: 2,
    });
    openWithOneFailure(breaker);
    clock.advance(1_000);
    const first = acquire(breaker);
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('open');
    clock.advance(10_000);
    expect(breaker.state).toBe('half-open');
    first.success();
    acquire(breaker).success();
    expect(breaker.state).toBe('half-open');
    expect(breaker.metrics().staleOutcomes).toBe(1);
  });

  it('execute() calls started before a reset are stale', async () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const gate = deferred<never>();
    const call = breaker.execute(() => gate.promise);
    breaker.reset();
    gate.reject(failure());
    await expect(call).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ failures: 1, staleOutcomes: 1 });
  });
});

describe('permits', () => {
  it('a second report throws a typed error and changes nothing', () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const permit = acquire(breaker);
    permit.success();
    const before = breaker.metrics();
    expect(() => permit.failure(failure())).toThrow(PermitAlreadyReportedError);
    expect(() => permit.ignore()).toThrow(/reported its outcome twice/);
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toEqual(before);
  });

  it('rejects a bad durationMs without consuming the permit', () => {
    const { breaker } = setup();
    const permit = acquire(breaker);
    expect(() => permit.success(-1)).toThrow(
      'Invalid option "durationMs": got -1, expected a finite number ≥ 0',
    );
    expect(() => permit.success(5)).not.toThrow();
  });

  it('measures the duration from tryAcquire() when none is reported', () => {
    const { clock, breaker } = setup({ slowCallDurationMs: 100 });
    const outcomes: OutcomeEvent[] = [];
    breaker.on('outcome', (event) => outcomes.push(event));
    const permit = acquire(breaker);
    clock.advance(150);
    permit.success();
    acquire(breaker).success(20);
    expect(outcomes.map((event) => [event.durationMs, event.slow])).toEqual([
      [150, true],
      [20, false],
    ]);
    expect(breaker.metrics().slowCalls).toBe(1);
  });
});

describe('slow calls', () => {
  it('opens on the slow-call rate even when every call succeeds', () => {
    const { breaker, changes } = setup({
      window: { kind: 'count', size: 4 },
      minimumCalls: 4,
      slowCallDurationMs: 100,
      slowCallRateThreshold: 0.5,
    });
    acquire(breaker).success(10);
    acquire(breaker).success(101);
    acquire(breaker).success(10);
    expect(breaker.state).toBe('closed');
    acquire(breaker).success(100); // not longer than the threshold
    expect(breaker.state).toBe('closed');
    acquire(breaker).success(500);
    expect(breaker.state).toBe('open');
    expect(changes[0]).toMatchObject({ reason: 'slow-call-threshold' });
  });

  it('measures execute() durations with the injected clock', async () => {
    const { clock, breaker } = setup({
      window: { kind: 'consecutive', failures: 2 },
      slowCallDurationMs: 1_000,
    });
    for (let index = 0; index < 2; index += 1) {
      const gate = deferred<number>();
      const call = breaker.execute(() => gate.promise);
      clock.advance(1_500);
      gate.resolve(index);
      await call;
    }
    expect(breaker.state).toBe('open');
    expect(breaker.metrics()).toMatchObject({ successes: 2, slowCalls: 2 });
  });
});

describe('classify', () => {
  it('ignores what classify says to ignore, also for permit.failure()', async () => {
    const constraintViolation = Object.assign(failure('duplicate key'), { code: '23505' });
    const { breaker } = setup({
      window: { kind: 'consecutive', failures: 1 },
      classify: (outcome) =>
        'error' in outcome && (outcome.error as { code?: string }).code === '23505'
          ? 'ignore'
          : 'error' in outcome
            ? 'failure'
            : 'success',
    });
    await expect(breaker.execute(fail(constraintViolation))).rejects.toBe(constraintViolation);
    acquire(breaker).failure(constraintViolation);
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ ignored: 2, failures: 0 });
    acquire(breaker).failure(failure('connection refused'));
    expect(breaker.state).toBe('open');
  });

  it('can count a returned value as a failure', async () => {
    const { breaker } = setup({
      window: { kind: 'consecutive', failures: 1 },
      classify: (outcome) =>
        'value' in outcome && (outcome.value as { status: number }).status >= 500
          ? 'failure'
          : 'success',
    });
    await expect(breaker.execute(async () => ({ status: 503 }))).resolves.toEqual({ status: 503 });
    expect(breaker.state).toBe('open');
  });

  it('falls back to the default when classify throws or answers nonsense, and surfaces it', async () => {
    const capture = captureSurfacedErrors();
    try {
      const { breaker } = setup({
        window: { kind: 'consecutive', failures: 2 },
        classify: (outcome) => {
          if ('value' in outcome) return 'maybe' as never;
          throw new Error('classify bug');
        },
      });
      await breaker.execute(async () => 1);
      await breaker.execute(fail()).catch(() => {});
      await settled();
      expect(breaker.metrics()).toMatchObject({ successes: 1, failures: 1 });
      expect(capture.errors).toHaveLength(2);
      expect(capture.errors[0]).toMatchObject({ code: 'INVALID_OPTION', option: 'classify' });
      expect(capture.errors[1]).toMatchObject({ message: 'classify bug' });
    } finally {
      capture.restore();
    }
  });
});

describe('abort signals', () => {
  it('rejects at once without calling fn when the signal is already aborted', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const fn = vi.fn(async () => 1);
    await expect(breaker.execute(fn, { signal: controller.signal })).rejects.toThrow(
      'caller gave up',
    );
    expect(fn).not.toHaveBeenCalled();
    expect(breaker.metrics().calls).toBe(0);
  });

  it('rejects promptly on an abort mid-call, passes the signal to fn, and ignores the outcome', async () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const never = deferred<number>();
    const call = breaker.execute(
      ({ signal }) => {
        seen = signal;
        return never.promise;
      },
      { signal: controller.signal },
    );
    controller.abort(new Error('timeout by caller'));
    await expect(call).rejects.toThrow('timeout by caller');
    expect(seen?.aborted).toBe(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.metrics()).toMatchObject({ calls: 1, ignored: 1, failures: 0 });
    never.resolve(1);
    await settled();
    expect(breaker.metrics().calls).toBe(1);
  });

  it('ignores an error thrown because the caller aborted', async () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => {});
    const call = breaker.execute(
      ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { signal: controller.signal },
    );
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    expect(breaker.state).toBe('closed');
  });

  it('counts a failure as usual when the signal never aborts', async () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const controller = new AbortController();
    await expect(breaker.execute(fail(), { signal: controller.signal })).rejects.toThrow('boom');
    expect(breaker.state).toBe('open');
    await expect(
      breaker.execute(async () => 1, { signal: controller.signal }),
    ).rejects.toMatchObject({ code: 'BROKEN_CIRCUIT' });
  });

  it('passes one shared, never-aborted signal when the caller gives none', async () => {
    const { breaker } = setup();
    const signals: AbortSignal[] = [];
    await breaker.execute(({ signal }) => signals.push(signal));
    await createCircuitBreaker().execute(({ signal }) => signals.push(signal));
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]?.aborted).toBe(false);
    expect(signals[1]).toBe(signals[0]);
  });

  it('lets many concurrent calls listen on the shared signal without a leak warning', async () => {
    const warning = vi.fn();
    process.on('warning', warning);
    try {
      const breaker = createCircuitBreaker();
      const gate = deferred<void>();
      const calls = Array.from({ length: 20 }, () =>
        breaker.execute(async ({ signal }) => {
          const onAbort = (): void => {};
          signal.addEventListener('abort', onAbort);
          await gate.promise;
          signal.removeEventListener('abort', onAbort);
        }),
      );
      gate.resolve();
      await Promise.all(calls);
      await settled();
      expect(warning).not.toHaveBeenCalled();
    } finally {
      process.off('warning', warning);
    }
  });

  it('rejects a signal that is not an AbortSignal with a typed error', async () => {
    const { breaker } = setup();
    await expect(
      breaker.execute(async () => 1, { signal: {} as AbortSignal }),
    ).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'signal',
    });
  });
});

describe('isolate', () => {
  it('refuses every call until all stacked isolations are disposed, then closes', async () => {
    const { breaker, changes } = setup();
    const first = breaker.isolate();
    const second = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    await expect(breaker.execute(async () => 1)).rejects.toMatchObject({
      state: 'isolated',
      retryAfterMs: Number.POSITIVE_INFINITY,
    });
    first.dispose();
    first.dispose();
    expect(breaker.state).toBe('isolated');
    second[Symbol.dispose]();
    expect(breaker.state).toBe('closed');
    expect(changes.map((change) => change.reason)).toEqual(['isolated', 'isolation-released']);
  });

  it('works with `using`', () => {
    const { breaker } = setup();
    {
      using _isolation = breaker.isolate();
      expect(breaker.state).toBe('isolated');
    }
    expect(breaker.state).toBe('closed');
  });

  it('overrides open and half-open, drops trials in flight and their timers', () => {
    const { clock, breaker } = setup({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 100,
    });
    openWithOneFailure(breaker);
    clock.advance(100);
    const trial = acquire(breaker);
    expect(clock.pendingTimers()).toBe(1);
    const isolation = breaker.isolate();
    expect(clock.pendingTimers()).toBe(0);
    trial.success();
    expect(breaker.state).toBe('isolated');
    isolation.dispose();
    expect(breaker.metrics()).toMatchObject({ state: 'closed', attempt: 0 });
  });
});

describe('reset', () => {
  it('returns to closed from open, clearing the window and the attempt', () => {
    const { breaker, changes } = setup({ window: { kind: 'count', size: 4 }, minimumCalls: 2 });
    acquire(breaker).failure(failure());
    acquire(breaker).failure(failure());
    expect(breaker.state).toBe('open');
    breaker.reset();
    expect(changes.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'reset' });
    expect(breaker.metrics()).toMatchObject({ state: 'closed', windowCalls: 0, attempt: 0 });
    expect(breaker.tryAcquire()).not.toBeInstanceOf(BrokenCircuitError);
  });

  it('lifts every isolation; the old handles become no-ops', () => {
    const { breaker } = setup();
    const isolation = breaker.isolate();
    breaker.reset();
    expect(breaker.state).toBe('closed');
    const next = breaker.isolate();
    isolation.dispose();
    expect(breaker.state).toBe('isolated');
    next.dispose();
    expect(breaker.state).toBe('closed');
  });

  it('in the closed state emits nothing', () => {
    const { breaker, changes } = setup();
    breaker.reset();
    expect(changes).toEqual([]);
  });
});

describe('events', () => {
  it('unsubscribes through the returned disposable', () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const listener = vi.fn();
    const subscription = breaker.on('outcome', listener);
    acquire(breaker).success();
    subscription.dispose();
    subscription.dispose();
    acquire(breaker).success();
    expect(listener).toHaveBeenCalledOnce();
    expect(listener.mock.calls[0]?.[0]).toMatchObject({
      outcome: 'success',
      trial: false,
      stale: false,
      probeTimedOut: false,
    });
  });

  it('a throwing listener never corrupts the state machine', async () => {
    const capture = captureSurfacedErrors();
    try {
      const { clock, breaker } = setup({
        window: { kind: 'consecutive', failures: 1 },
        openDurationMs: 100,
      });
      const after = vi.fn();
      for (const event of ['stateChange', 'outcome', 'rejected'] as const) {
        breaker.on(event, () => {
          throw new Error(`${event} listener bug`);
        });
      }
      breaker.on('stateChange', after);
      openWithOneFailure(breaker);
      expect(breaker.tryAcquire()).toBeInstanceOf(BrokenCircuitError);
      clock.advance(100);
      acquire(breaker).success();
      expect(breaker.state).toBe('closed');
      expect(after).toHaveBeenCalledTimes(3);
      await settled();
      expect(capture.errors.map((error) => (error as Error).message)).toContain(
        'rejected listener bug',
      );
      expect(breaker.metrics()).toMatchObject({ calls: 2, rejections: 1 });
    } finally {
      capture.restore();
    }
  });

  it('a listener that calls back into the breaker sees a consistent state', () => {
    const { breaker } = setup({ window: { kind: 'consecutive', failures: 1 } });
    const seen: string[] = [];
    breaker.on('stateChange', (event) => {
      seen.push(`${event.to}:${breaker.state}`);
      if (event.to === 'open') breaker.reset();
    });
    openWithOneFailure(breaker);
    expect(breaker.state).toBe('closed');
    expect(seen).toEqual(['open:open', 'closed:closed']);
  });

  it('refuses an unknown event or a non-function listener', () => {
    const { breaker } = setup();
    expect(() => breaker.on('opened' as never, () => {})).toThrow(InvalidBreakerOptionError);
    expect(() => breaker.on('outcome', 'nope' as never)).toThrow(InvalidBreakerOptionError);
  });
});

describe('metrics', () => {
  it('keeps calls = successes + failures + ignored and tracks time in state', async () => {
    const { clock, breaker } = setup({ window: { kind: 'count', size: 10 }, minimumCalls: 10 });
    acquire(breaker).success();
    acquire(breaker).failure(failure());
    acquire(breaker).ignore();
    await breaker.execute(async () => 1);
    clock.advance(250);
    expect(breaker.metrics()).toEqual({
      name: undefined,
      state: 'closed',
      calls: 4,
      successes: 2,
      failures: 1,
      ignored: 1,
      slowCalls: 0,
      rejections: 0,
      staleOutcomes: 0,
      probeTimeouts: 0,
      windowCalls: 3,
      failureRate: 1 / 3,
      slowCallRate: 0,
      trialsInFlight: 0,
      attempt: 0,
      timeInStateMs: 250,
    });
  });
});

describe('timers', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('10,000 idle breakers hold zero timers, whatever their state', async () => {
    const clock = createFakeClock();
    const breakers = Array.from({ length: 10_000 }, (_, index) =>
      createCircuitBreaker({
        clock,
        window:
          index % 3 === 0
            ? { kind: 'time', durationMs: 1_000 }
            : index % 3 === 1
              ? { kind: 'count', size: 5 }
              : { kind: 'consecutive', failures: 1 },
        minimumCalls: 1,
        slowCallDurationMs: 50,
      }),
    );
    for (const [index, breaker] of breakers.entries()) {
      await breaker.execute(async () => index);
      if (index % 2 === 0) await breaker.execute(fail()).catch(() => {});
    }
    expect(breakers.filter((breaker) => breaker.state === 'open').length).toBeGreaterThan(4_000);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(60_000);
    expect(breakers.every((breaker) => breaker.state !== 'isolated')).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  }, 60_000);

  it('uses the global timers lazily by default, so vitest fake timers drive it', async () => {
    const breaker = createCircuitBreaker({
      window: { kind: 'consecutive', failures: 1 },
      openDurationMs: 5_000,
      halfOpenProbeTimeoutMs: 1_000,
    });
    vi.useFakeTimers();
    await breaker.execute(fail()).catch(() => {});
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(5_000);
    expect(breaker.state).toBe('half-open');
    const call = breaker.execute(() => new Promise(() => {}));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(breaker.state).toBe('open');
    expect(vi.getTimerCount()).toBe(0);
    void call;
  });
});
