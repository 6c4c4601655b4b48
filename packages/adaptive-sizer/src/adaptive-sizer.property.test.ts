import { createFakeClock } from '@enhanced-pool/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAdaptiveSizer, type LoadSample, type SizingDecision } from './index.js';

const optionsArbitrary = fc
  .record({
    minSize: fc.integer({ min: 0, max: 20 }),
    extra: fc.integer({ min: 0, max: 60 }),
    targetUtilization: fc.double({ min: 0.1, max: 1, noNaN: true }),
    shrinkFraction: fc.double({ min: 0, max: 0.95, noNaN: true }),
    shrinkCooldownMs: fc.integer({ min: 0, max: 10_000 }),
    maxShrinkStep: fc.integer({ min: 1, max: 5 }),
    shrinkStepIntervalMs: fc.integer({ min: 0, max: 3_000 }),
    maxGrowthStep: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 10 })),
  })
  .map(({ minSize, extra, targetUtilization, shrinkFraction, ...rest }) => ({
    minSize,
    maxSize: Math.max(1, minSize + extra),
    targetUtilization,
    shrinkUtilization: targetUtilization * shrinkFraction,
    ...rest,
  }));

const stepArbitrary = fc.record({
  elapsedMs: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5_000 })),
  size: fc.integer({ min: 0, max: 90 }),
  activeShare: fc.double({ min: 0, max: 1, noNaN: true }),
  pending: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 })),
  acquired: fc.option(fc.integer({ min: 0, max: 5_000 }), { nil: undefined }),
  holdMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
  waitMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
  breakerOpen: fc.boolean(),
  decideTimes: fc.integer({ min: 0, max: 2 }),
});

describe('adaptive sizer properties (random samples, random options)', () => {
  it('keeps every decision within bounds, never grows with the breaker open, retires gradually', () => {
    fc.assert(
      fc.property(
        optionsArbitrary,
        fc.array(stepArbitrary, { maxLength: 80 }),
        (options, steps) => {
          const clock = createFakeClock();
          const sizer = createAdaptiveSizer({ clock, ...options });
          const { minSize, maxSize, maxShrinkStep, shrinkStepIntervalMs, shrinkCooldownMs } =
            sizer.options;
          let lastShrinkAt: number | undefined;
          let lastGrowAt: number | undefined;
          for (const step of steps) {
            clock.advance(step.elapsedMs);
            const active = Math.round(step.size * step.activeShare);
            const sample: LoadSample = {
              size: step.size,
              active,
              idle: step.size - active,
              pending: step.pending,
              ...(step.acquired === undefined ? {} : { acquired: step.acquired }),
              ...(step.holdMs === undefined ? {} : { holdMs: step.holdMs }),
              ...(step.waitMs === undefined ? {} : { waitMs: step.waitMs }),
            };
            sizer.observe(sample);
            for (let call = 0; call < step.decideTimes; call += 1) {
              const decision: SizingDecision = sizer.decide({ breakerOpen: step.breakerOpen });
              const { targetSize, current, action } = decision;
              expect(Number.isInteger(targetSize)).toBe(true);
              expect(action).toBe(
                targetSize > current ? 'grow' : targetSize < current ? 'shrink' : 'hold',
              );
              expect(targetSize).toBeLessThanOrEqual(maxSize);
              if (step.breakerOpen) expect(targetSize).toBeLessThanOrEqual(current);
              if (!(step.breakerOpen && current < minSize)) {
                expect(targetSize).toBeGreaterThanOrEqual(minSize);
              }
              if (action === 'grow') {
                lastGrowAt = clock.now();
                if (current >= minSize) {
                  expect(targetSize - current).toBeLessThanOrEqual(options.maxGrowthStep);
                }
              }
              if (action === 'shrink' && current <= maxSize) {
                // Only idle connections, at most maxShrinkStep, one step per interval, and never
                // within the cooldown of a growth.
                expect(current - targetSize).toBeLessThanOrEqual(
                  Math.min(maxShrinkStep, sample.idle),
                );
                if (lastShrinkAt !== undefined) {
                  expect(clock.now() - lastShrinkAt).toBeGreaterThanOrEqual(shrinkStepIntervalMs);
                }
                if (lastGrowAt !== undefined) {
                  expect(clock.now() - lastGrowAt).toBeGreaterThanOrEqual(shrinkCooldownMs);
                }
                lastShrinkAt = clock.now();
              }
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic: the same samples at the same times give the same decisions', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }), (steps) => {
        const run = () => {
          const clock = createFakeClock();
          const sizer = createAdaptiveSizer({ clock, minSize: 1, maxSize: 40 });
          return steps.map((step) => {
            clock.advance(step.elapsedMs);
            const active = Math.round(step.size * step.activeShare);
            sizer.observe({
              size: step.size,
              active,
              idle: step.size - active,
              pending: step.pending,
            });
            return sizer.decide({ breakerOpen: step.breakerOpen });
          });
        };
        expect(run()).toEqual(run());
      }),
      { numRuns: 50 },
    );
  });
});
