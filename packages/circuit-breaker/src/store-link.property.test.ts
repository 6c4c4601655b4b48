import { createFakeClock } from '@enhanced-pool/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../test/memory-store.js';
import { type CircuitBreaker, createCircuitBreaker, type Permit } from './circuit-breaker.js';
import { isBrokenCircuitError } from './errors.js';

type Action =
  | { readonly type: 'acquire'; readonly instance: number }
  | { readonly type: 'settle'; readonly index: number; readonly success: boolean }
  | { readonly type: 'advance'; readonly ms: number };

const INSTANCES = 3;

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant('acquire' as const),
      instance: fc.integer({ min: 0, max: INSTANCES - 1 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('settle' as const),
      index: fc.nat(),
      // Mostly failures: breakers open often, so half-open periods are common.
      success: fc.integer({ min: 0, max: 2 }).map((value) => value === 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 1_500 }),
    }),
  },
);

describe('breakers sharing a store (property)', () => {
  it('never run half-open trials in two instances at once, and every instance stays usable', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 }),
        fc.array(actionArbitrary, { minLength: 1, maxLength: 60 }),
        async (halfOpenPermits, actions) => {
          const clock = createFakeClock();
          const store = createMemoryStore(clock);
          const breakers: CircuitBreaker[] = [];
          for (let index = 0; index < INSTANCES; index += 1) {
            breakers.push(
              createCircuitBreaker({
                name: 'db',
                clock,
                store,
                storeTimeoutMs: 50,
                window: { kind: 'consecutive', failures: 1 },
                openDurationMs: 500,
                halfOpenPermits,
                halfOpenProbeTimeoutMs: 1_000,
              }),
            );
          }
          const permits: Permit[] = [];
          await clock.flush();
          for (const action of actions) {
            if (action.type === 'acquire') {
              const permit = (breakers[action.instance] as CircuitBreaker).tryAcquire();
              if (!isBrokenCircuitError(permit)) permits.push(permit);
            } else if (action.type === 'settle' && permits.length > 0) {
              const [permit] = permits.splice(action.index % permits.length, 1) as [Permit];
              if (action.success) permit.success();
              else permit.failure(new Error('down'));
            } else if (action.type === 'advance') {
              await clock.advanceAsync(action.ms);
            }
            await clock.flush();
            const probing = breakers.filter((breaker) => breaker.metrics().trialsInFlight > 0);
            expect(probing.length).toBeLessThanOrEqual(1);
          }
          // Liveness: once every call settles and the periods pass, every instance closes again.
          for (const permit of permits.splice(0)) permit.success();
          await clock.flush();
          for (let round = 0; round < 6; round += 1) {
            await clock.advanceAsync(1_000);
            for (const breaker of breakers) {
              const permit = breaker.tryAcquire();
              if (!isBrokenCircuitError(permit)) permit.success();
            }
            await clock.flush();
          }
          expect(breakers.map((breaker) => breaker.state)).toEqual(['closed', 'closed', 'closed']);
          for (const breaker of breakers) breaker.dispose();
          await clock.flush();
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
