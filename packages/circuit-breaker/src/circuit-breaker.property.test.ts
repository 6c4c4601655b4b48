import { createFakeClock } from '@enhanced-pool/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deferred, settled } from '../test/helpers.js';
import { type CircuitBreaker, createCircuitBreaker, type Permit } from './circuit-breaker.js';
import { isBrokenCircuitError } from './errors.js';
import type { Disposable } from './events.js';
import type { CircuitBreakerOptions } from './options.js';
import type { CircuitState } from './snapshot.js';

type Outcome = 'success' | 'failure' | 'slow' | 'ignore';

type Action =
  | { readonly type: 'acquire' }
  | { readonly type: 'execute'; readonly withSignal: boolean }
  | { readonly type: 'settle'; readonly index: number; readonly outcome: Outcome }
  | { readonly type: 'advance'; readonly ms: number }
  | { readonly type: 'isolate' }
  | { readonly type: 'dispose'; readonly index: number }
  | { readonly type: 'reset' };

const SLOW_MS = 100;

const configArbitrary = fc.record({
  window: fc.oneof(
    fc.record({
      kind: fc.constant('consecutive' as const),
      failures: fc.integer({ min: 1, max: 4 }),
    }),
    fc.record({ kind: fc.constant('count' as const), size: fc.integer({ min: 3, max: 8 }) }),
    fc.record({
      kind: fc.constant('time' as const),
      durationMs: fc.integer({ min: 100, max: 3_000 }),
      buckets: fc.integer({ min: 1, max: 10 }),
    }),
  ),
  minimumCalls: fc.integer({ min: 1, max: 3 }),
  failureRateThreshold: fc.constantFrom(0.25, 0.5, 1),
  slowCallDurationMs: fc.constantFrom(SLOW_MS, Number.POSITIVE_INFINITY),
  slowCallRateThreshold: fc.constantFrom(0.5, 1),
  halfOpenPermits: fc.integer({ min: 1, max: 3 }),
  halfOpenProbeTimeoutMs: fc.integer({ min: 50, max: 2_000 }),
  backoff: fc.boolean(),
  // Without an `outcome` listener (and with slow-call detection off) closed calls take the
  // unmeasured path; the model below doesn't depend on the listener.
  outcomeListener: fc.boolean(),
});

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ type: 'acquire' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({ type: fc.constant('execute' as const), withSignal: fc.boolean() }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      index: fc.nat(),
      outcome: fc.oneof(
        { weight: 3, arbitrary: fc.constant<Outcome>('failure') },
        { weight: 2, arbitrary: fc.constant<Outcome>('success') },
        { weight: 1, arbitrary: fc.constantFrom<Outcome>('slow', 'ignore') },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      // Small steps probe the edges of open periods and probe deadlines; large ones cross them.
      ms: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 2_500 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'isolate' as const }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('dispose' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ type: 'reset' as const }) },
);

interface PendingCall {
  /** The model's generation when the call was admitted. */
  readonly admittedAt: number;
  settle(outcome: Outcome): void;
}

/** Drives a breaker with `actions` and checks the invariants after every step. */
type Config = typeof configArbitrary extends fc.Arbitrary<infer T> ? T : never;

async function run(config: Config, actions: readonly Action[]): Promise<void> {
  const clock = createFakeClock({ start: 1_000 });
  const options: CircuitBreakerOptions = {
    clock,
    window: config.window,
    minimumCalls:
      config.window.kind === 'count'
        ? Math.min(config.minimumCalls, config.window.size)
        : config.minimumCalls,
    failureRateThreshold: config.failureRateThreshold,
    slowCallDurationMs: config.slowCallDurationMs,
    slowCallRateThreshold: config.slowCallRateThreshold,
    halfOpenPermits: config.halfOpenPermits,
    halfOpenProbeTimeoutMs: config.halfOpenProbeTimeoutMs,
    openDurationMs: config.backoff ? (attempt) => Math.min(2_000, 100 * 2 ** attempt) : 500,
  };
  const breaker: CircuitBreaker = createCircuitBreaker(options);

  // The model, kept from the breaker's own events.
  let state = 'closed' as CircuitState;
  let openUntil = 0;
  let trialsInEpisode = 0;
  /** State changes so far. */
  let transitions = 0;
  /** The breaker's generation: state changes plus resets while closed. Older calls are stale. */
  let generation = 0;
  let outcomeEvents = 0;
  let admitted = 0;
  let rejections = 0;
  let isolations: Disposable[] = [];
  // The breaker shields itself from throwing listeners, so listeners only note violations;
  // checkInvariants() fails the run with them.
  const violations: string[] = [];
  breaker.on('stateChange', (event) => {
    if (event.from !== state) violations.push(`change from ${event.from}, model in ${state}`);
    state = event.to;
    transitions += 1;
    generation += 1;
    if (event.to === 'open') {
      if (!(Number(event.openDurationMs) >= 0)) violations.push('open without a duration');
      openUntil = clock.now() + Number(event.openDurationMs);
    }
    if (event.to === 'half-open') {
      if (clock.now() < openUntil) {
        violations.push(
          `half-open at ${clock.now()}, before the open period ended at ${openUntil}`,
        );
      }
      trialsInEpisode = 0;
    }
  });
  if (config.outcomeListener) {
    breaker.on('outcome', () => {
      outcomeEvents += 1;
    });
  }
  /** An ignored trial that is not stale frees its half-open slot. */
  const noteIgnored = (trial: boolean, admittedAt: number) => {
    if (trial && admittedAt === generation) trialsInEpisode -= 1;
  };

  const pending: PendingCall[] = [];

  /** Checks one admission decision against the model as it was before the call. */
  const checkAdmission = (before: CircuitState, now: number, result: 'admitted' | unknown) => {
    if (result === 'admitted') {
      admitted += 1;
      expect(isolations.length, 'an isolated breaker admitted a call').toBe(0);
      expect(before).not.toBe('isolated');
      if (before === 'open')
        expect(now, 'open admitted before its duration').toBeGreaterThanOrEqual(openUntil);
      expect(['closed', 'half-open']).toContain(state);
      if (state === 'half-open') {
        trialsInEpisode += 1;
        expect(trialsInEpisode, 'half-open admitted more than its permits').toBeLessThanOrEqual(
          config.halfOpenPermits,
        );
      }
    } else {
      rejections += 1;
      expect(isBrokenCircuitError(result)).toBe(true);
      expect(before, 'a closed breaker refused a call').not.toBe('closed');
      if (isolations.length > 0) expect(result).toMatchObject({ state: 'isolated' });
    }
  };

  const checkInvariants = () => {
    const metrics = breaker.metrics();
    expect(violations).toEqual([]);
    expect(metrics.state).toBe(state);
    expect(metrics.calls).toBe(metrics.successes + metrics.failures + metrics.ignored);
    expect(metrics.slowCalls).toBeLessThanOrEqual(metrics.successes + metrics.failures);
    expect(metrics.probeTimeouts).toBeLessThanOrEqual(metrics.failures);
    expect(metrics.staleOutcomes).toBeLessThanOrEqual(metrics.calls);
    expect(metrics.calls).toBeLessThanOrEqual(admitted);
    expect(metrics.rejections).toBe(rejections);
    expect(metrics.trialsInFlight).toBeLessThanOrEqual(config.halfOpenPermits);
    expect(metrics.failureRate).toBeGreaterThanOrEqual(0);
    expect(metrics.failureRate).toBeLessThanOrEqual(1);
    expect(metrics.attempt).toBeGreaterThanOrEqual(0);
    if (state !== 'half-open') expect(clock.pendingTimers()).toBe(0);
    expect(clock.pendingTimers()).toBe(metrics.trialsInFlight);
    if (isolations.length > 0) expect(state).toBe('isolated');
    if (state === 'open') expect(clock.now()).toBeLessThan(openUntil);
  };

  for (const action of actions) {
    switch (action.type) {
      case 'acquire': {
        const now = clock.now();
        const before = state;
        const permit: Permit | unknown = breaker.tryAcquire();
        if (isBrokenCircuitError(permit)) {
          checkAdmission(before === 'open' && now >= openUntil ? 'half-open' : before, now, permit);
          break;
        }
        checkAdmission(before, now, 'admitted');
        const startedAt = clock.now();
        const admittedAt = generation;
        pending.push({
          admittedAt,
          settle: (outcome) => {
            const elapsed = clock.now() - startedAt;
            if (outcome === 'success') (permit as Permit).success(elapsed);
            else if (outcome === 'slow') (permit as Permit).success(elapsed + SLOW_MS + 1);
            else if (outcome === 'failure') (permit as Permit).failure(new Error('down'));
            else {
              noteIgnored((permit as Permit).trial, admittedAt);
              (permit as Permit).ignore();
            }
          },
        });
        break;
      }
      case 'execute': {
        const now = clock.now();
        const before = state;
        const gate = deferred<string>();
        const controller = action.withSignal ? new AbortController() : undefined;
        let called = false;
        const call = breaker.execute(
          () => {
            called = true;
            return gate.promise;
          },
          controller ? { signal: controller.signal } : undefined,
        );
        // fn runs synchronously inside execute() when the call is admitted.
        if (!called) {
          const error = await call.catch((caught: unknown) => caught);
          checkAdmission(before === 'open' && now >= openUntil ? 'half-open' : before, now, error);
          break;
        }
        checkAdmission(before, now, 'admitted');
        call.catch(() => {});
        const trial = state === 'half-open';
        const admittedAt = generation;
        pending.push({
          admittedAt,
          settle: (outcome) => {
            if (outcome === 'failure') gate.reject(new Error('down'));
            else if (outcome === 'ignore' && controller) {
              noteIgnored(trial, admittedAt);
              controller.abort();
            } else if (outcome === 'slow') {
              clock.advance(SLOW_MS + 1);
              gate.resolve('slow');
            } else gate.resolve('ok');
          },
        });
        break;
      }
      case 'settle': {
        if (pending.length === 0) break;
        const [call] = pending.splice(action.index % pending.length, 1);
        if (call === undefined) break;
        const stale = call.admittedAt !== generation;
        const transitionsBefore = transitions;
        call.settle(action.outcome);
        await settled();
        // A slow execute() advances the clock, which may fire another trial's probe deadline.
        if (stale && action.outcome !== 'slow') {
          expect(transitions, 'a stale outcome moved the state').toBe(transitionsBefore);
        }
        break;
      }
      case 'advance':
        clock.advance(action.ms);
        break;
      case 'isolate':
        isolations.push(breaker.isolate());
        break;
      case 'dispose': {
        if (isolations.length === 0) break;
        const [isolation] = isolations.splice(action.index % isolations.length, 1);
        isolation?.dispose();
        break;
      }
      case 'reset':
        if (state === 'closed') generation += 1;
        breaker.reset();
        isolations = [];
        break;
    }
    checkInvariants();
  }

  // Nothing is lost: once every call settled, each admitted call was counted exactly once.
  for (const call of pending.splice(0)) call.settle('success');
  await settled();
  await clock.runAllAsync();
  const metrics = breaker.metrics();
  expect(violations).toEqual([]);
  expect(metrics.calls).toBe(admitted);
  if (config.outcomeListener) expect(outcomeEvents).toBe(metrics.calls);
  expect(clock.pendingTimers()).toBe(0);
}

describe('circuit breaker invariants (property)', () => {
  it('hold for random sequences of calls, outcomes, clock advances, isolations and resets', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArbitrary,
        fc.array(actionArbitrary, { minLength: 20, maxLength: 80 }),
        run,
      ),
      { numRuns: 200 },
    );
    // About 3 s on an idle machine; the limit only guards against a hang on a loaded one.
  }, 120_000);
});
