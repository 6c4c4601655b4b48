import { InvalidOptionError } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { type AdaptiveSizerOptions, createAdaptiveSizer, type LoadSample } from './index.js';

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

const idlePool = (size: number, extra: Partial<LoadSample> = {}): LoadSample => ({
  size,
  active: 0,
  idle: size,
  pending: 0,
  ...extra,
});

function setup(options: AdaptiveSizerOptions = {}) {
  const clock = createFakeClock();
  const sizer = createAdaptiveSizer({ clock, minSize: 2, maxSize: 50, ...options });
  /** Advances the clock by `ms`, then observes the sample (one sizing tick). */
  const tick = (ms: number, sample: LoadSample) => {
    clock.advance(ms);
    sizer.observe(sample);
  };
  return { clock, sizer, tick };
}

describe('resolveAdaptiveSizerOptions (through createAdaptiveSizer)', () => {
  it('has defaults that work without tuning', () => {
    expect(createAdaptiveSizer().options).toMatchObject({
      minSize: 2,
      maxSize: 10,
      targetUtilization: 0.7,
      shrinkUtilization: 0.35,
      growthHalfLifeMs: 500,
      shrinkHalfLifeMs: 10_000,
      shrinkCooldownMs: 30_000,
      maxShrinkStep: 2,
      shrinkStepIntervalMs: 1_000,
      maxGrowthStep: Infinity,
    });
    expect(createAdaptiveSizer({ maxSize: 1 }).options.minSize).toBe(1);
  });

  it.each([
    ['minSize', { minSize: -1 }, 'an integer ≥ 0'],
    ['minSize', { minSize: 1.5 }, 'an integer ≥ 0'],
    ['maxSize', { maxSize: 0 }, 'an integer ≥ 1'],
    ['minSize', { minSize: 11, maxSize: 10 }, 'an integer ≥ 0 and ≤ maxSize (10)'],
    ['targetUtilization', { targetUtilization: 0 }, 'a number ≥ 0.01 and ≤ 1'],
    ['targetUtilization', { targetUtilization: 1.2 }, 'a number ≥ 0.01 and ≤ 1'],
    ['shrinkUtilization', { shrinkUtilization: 0.7 }, 'a number ≥ 0 and < targetUtilization (0.7)'],
    [
      'shrinkUtilization',
      { targetUtilization: 0.5, shrinkUtilization: 0.6 },
      'a number ≥ 0 and < targetUtilization (0.5)',
    ],
    ['growthHalfLifeMs', { growthHalfLifeMs: 0 }, 'a number ≥ 1'],
    ['shrinkHalfLifeMs', { shrinkHalfLifeMs: Number.NaN }, 'a number ≥ 1'],
    ['shrinkCooldownMs', { shrinkCooldownMs: -5 }, 'a number ≥ 0'],
    ['maxShrinkStep', { maxShrinkStep: 0 }, 'an integer ≥ 1'],
    ['shrinkStepIntervalMs', { shrinkStepIntervalMs: Infinity }, 'a number ≥ 0'],
    ['maxGrowthStep', { maxGrowthStep: 2.5 }, 'an integer ≥ 1 (or Infinity)'],
    [
      'clock',
      { clock: { now: () => 0 } },
      'a Clock (an object with now(), setTimeout() and clearTimeout())',
    ],
  ] as const)(
    'rejects a bad %s with a typed error naming it, the value and the range',
    (option, options, allowed) => {
      const error = thrownBy(() => createAdaptiveSizer(options as AdaptiveSizerOptions));
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'INVALID_OPTION', option, allowed });
    },
  );
});

describe('observe', () => {
  it.each([
    ['size', { size: -1 }],
    ['active', { active: 1.5 }],
    ['pending', { pending: undefined }],
    ['acquired', { acquired: -3 }],
    ['waitMs', { waitMs: Number.NaN }],
    ['holdMs', { holdMs: -1 }],
    ['at', { at: Infinity }],
  ])('rejects a sample with a bad %s and keeps its state', (field, patch) => {
    const { sizer, tick } = setup();
    tick(0, { size: 4, active: 4, idle: 0, pending: 10 });
    const before = sizer.decide();
    const error = thrownBy(() => sizer.observe({ ...idlePool(4), ...patch } as LoadSample));
    expect(InvalidOptionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option: `sample.${field}` });
    expect(sizer.decide()).toEqual(before);
  });
});

describe('decide', () => {
  it('before any sample asks for minSize (grow from 0), unless the breaker is open', () => {
    const { sizer } = setup({ minSize: 3 });
    expect(sizer.decide()).toMatchObject({ current: 0, targetSize: 3, action: 'grow' });
    expect(sizer.decide({ breakerOpen: true })).toMatchObject({ targetSize: 0, action: 'hold' });
  });

  it('jumps to demand / targetUtilization instead of growing one per tick', () => {
    const { sizer, tick } = setup();
    tick(0, { size: 2, active: 2, idle: 0, pending: 30 });
    const decision = sizer.decide();
    expect(decision).toMatchObject({
      action: 'grow',
      current: 2,
      targetSize: 46,
      demand: 32,
      estimatedNeed: 46,
      utilization: 1,
    });
    expect(decision.reason).toMatch(/demand 32 needs 46 at target utilisation 0.7/);
  });

  it("uses Little's law over the interval: arrival rate × mean hold plus arrival rate × mean wait", () => {
    const { sizer, tick } = setup({ maxSize: 100 });
    tick(0, idlePool(10));
    // 2 000 acquires in 1 s held 10 ms each: 20 in use on average; waiting 5 ms each: 10 queued.
    // The snapshot (3 active, 0 pending) is what the tick happened to land on; it is ignored.
    tick(1_000, {
      size: 10,
      active: 3,
      idle: 7,
      pending: 0,
      acquired: 2_000,
      holdMs: 10,
      waitMs: 5,
    });
    const decision = sizer.decide();
    // The fast average (half-life 500 ms) moves 1 − 2^(−1000/500) = 3/4 of the way from 0 to 30.
    expect(decision.demand).toBeCloseTo(30 * 0.75, 6);
    expect(decision).toMatchObject({ action: 'grow', targetSize: Math.ceil(22.5 / 0.7) });
  });

  it('trusts the snapshot when waits or holds are longer than the interval', () => {
    const { sizer, tick } = setup({ maxSize: 100 });
    tick(0, { size: 4, active: 4, idle: 0, pending: 20 });
    // Holds of 5 s and waits of 3 s can't be averaged over a 1 s interval: 4 in use, 20 queued.
    tick(1_000, {
      size: 4,
      active: 4,
      idle: 0,
      pending: 20,
      acquired: 1,
      holdMs: 5_000,
      waitMs: 3_000,
    });
    expect(sizer.decide()).toMatchObject({ demand: 24, targetSize: 35 });
  });

  it('weights a sample by the time it covers: one taken 1 ms after the last barely counts', () => {
    const { sizer, tick } = setup();
    tick(0, { size: 4, active: 1, idle: 3, pending: 0 });
    tick(1, { size: 4, active: 4, idle: 0, pending: 40 });
    const decision = sizer.decide();
    expect(decision.demand).toBeCloseTo(1 + 43 * (1 - 2 ** (-1 / 500)), 6);
    expect(decision.action).toBe('hold');
  });

  it('caps growth per decision with maxGrowthStep, and never past maxSize', () => {
    const stepped = setup({ maxGrowthStep: 5 });
    stepped.tick(0, { size: 4, active: 4, idle: 0, pending: 30 });
    expect(stepped.sizer.decide()).toMatchObject({ targetSize: 9, action: 'grow' });
    expect(stepped.sizer.decide().reason).toMatch(/at most 5 per decision/);

    const capped = setup({ maxSize: 20 });
    capped.tick(0, { size: 4, active: 4, idle: 0, pending: 100 });
    expect(capped.sizer.decide()).toMatchObject({ targetSize: 20, estimatedNeed: 149 });
    capped.tick(1_000, { size: 20, active: 20, idle: 0, pending: 84 });
    expect(capped.sizer.decide()).toMatchObject({ targetSize: 20, action: 'hold' });
    expect(capped.sizer.decide().reason).toMatch(/at maxSize 20/);
  });

  it('grows to minSize when below it and retires down to maxSize when above it', () => {
    const { sizer, tick } = setup({ minSize: 5, maxSize: 8 });
    tick(0, idlePool(1));
    expect(sizer.decide()).toMatchObject({ action: 'grow', targetSize: 5 });
    expect(sizer.decide().reason).toMatch(/below minSize 5/);
    tick(1_000, { size: 12, active: 12, idle: 0, pending: 0 });
    expect(sizer.decide()).toMatchObject({ action: 'shrink', targetSize: 8 });
  });

  it('never grows while the breaker is open, and says so', () => {
    const { sizer, tick } = setup();
    tick(0, { size: 2, active: 2, idle: 0, pending: 30 });
    const blocked = sizer.decide({ breakerOpen: true });
    expect(blocked).toMatchObject({ action: 'hold', targetSize: 2, estimatedNeed: 46 });
    expect(blocked.reason).toMatch(/breaker open: growth to 46 blocked/);
    expect(sizer.decide({ breakerOpen: false })).toMatchObject({ action: 'grow', targetSize: 46 });
  });

  it('shrinks only after utilisation stayed low for shrinkCooldownMs, by maxShrinkStep, spaced', () => {
    const { clock, sizer, tick } = setup({ minSize: 2, maxShrinkStep: 3 });
    tick(0, { size: 20, active: 1, idle: 19, pending: 0 });
    for (let second = 1; second < 30; second += 1) {
      tick(1_000, { size: 20, active: 1, idle: 19, pending: 0 });
      expect(sizer.decide()).toMatchObject({ action: 'hold', targetSize: 20 });
    }
    expect(sizer.decide().reason).toMatch(/demand low for 29000 of 30000 ms/);
    tick(1_000, { size: 20, active: 1, idle: 19, pending: 0 });
    expect(sizer.decide()).toMatchObject({ action: 'shrink', targetSize: 17 });
    // Asked again before the step interval: no second step, however often decide() is called.
    clock.advance(999);
    expect(sizer.decide()).toMatchObject({ action: 'hold', targetSize: 20 });
    expect(sizer.decide().reason).toMatch(/retiring gradually/);
    tick(1, { size: 17, active: 1, idle: 16, pending: 0 });
    expect(sizer.decide()).toMatchObject({ action: 'shrink', targetSize: 14 });
  });

  it('retires only idle connections and never goes below minSize', () => {
    const { sizer, tick } = setup({ minSize: 4, shrinkCooldownMs: 0, maxShrinkStep: 10 });
    tick(0, { size: 10, active: 0, idle: 10, pending: 0 });
    expect(sizer.decide()).toMatchObject({ action: 'shrink', targetSize: 4 });
    const busy = setup({
      minSize: 1,
      shrinkCooldownMs: 0,
      maxShrinkStep: 10,
      targetUtilization: 1,
      shrinkUtilization: 0.9,
    });
    busy.tick(0, { size: 10, active: 1, idle: 1, pending: 0 });
    expect(busy.sizer.decide()).toMatchObject({ action: 'shrink', targetSize: 9 });
    busy.tick(1_000, { size: 9, active: 1, idle: 0, pending: 0 });
    expect(busy.sizer.decide()).toMatchObject({ action: 'hold' });
    expect(busy.sizer.decide().reason).toMatch(/no idle connection to retire/);
  });

  it('a burst of demand (and the growth it causes) restarts the cooldown', () => {
    const { sizer, tick } = setup({ minSize: 2 });
    tick(0, idlePool(20));
    for (let second = 1; second <= 29; second += 1) tick(1_000, idlePool(20));
    tick(1_000, { size: 20, active: 20, idle: 0, pending: 10 });
    expect(sizer.decide().action).toBe('grow');
    for (let second = 1; second <= 29; second += 1) {
      tick(1_000, idlePool(43));
      expect(sizer.decide().action).toBe('hold');
    }
  });

  it('reset() forgets samples and cooldowns', () => {
    const { sizer, tick } = setup();
    tick(0, { size: 2, active: 2, idle: 0, pending: 30 });
    sizer.reset();
    expect(sizer.decide()).toMatchObject({ current: 0, demand: 0, targetSize: 2 });
  });
});
