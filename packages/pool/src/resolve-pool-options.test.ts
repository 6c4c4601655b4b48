import { InvalidOptionError, noopLogger, systemClock } from '@enhanced-pool/core';
import { createFakeDriver, type FakeConnection } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import type { PoolOptions } from './pool-options.js';
import { resolvePoolOptions } from './resolve-pool-options.js';

const driver = createFakeDriver();

function invalid(options: Record<string, unknown>): InvalidOptionError {
  try {
    resolvePoolOptions({ driver, ...options } as PoolOptions<FakeConnection>);
  } catch (error) {
    if (InvalidOptionError.isInstance(error)) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be refused`);
}

describe('resolvePoolOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolvePoolOptions({ driver })).toEqual({
      driver,
      minSize: 0,
      maxSize: 10,
      acquireTimeoutMs: 30_000,
      maxLifetimeMs: 3_600_000,
      maxLifetimeJitter: 0.1,
      idleTimeoutMs: 600_000,
      validateAfterIdleMs: 500,
      validateOnRelease: false,
      idleOrder: 'lifo',
      maxUses: Infinity,
      maxWaiting: Infinity,
      leakDetectionMs: 0,
      circuitBreaker: {
        window: { kind: 'consecutive', failures: 5 },
        openDurationMs: expect.any(Function),
        halfOpenPermits: 1,
        halfOpenProbeTimeoutMs: 31_000,
        clock: systemClock,
        random: Math.random,
        name: 'pool',
      },
      connectBackoff: { baseMs: 20, capMs: 100, fatalMs: 30_000 },
      outageGraceMs: 2_000,
      metrics: true,
      maxConnectionErrors: 3,
      healthCheck: {
        healthCheckIntervalMs: 60_000,
        validationIntervalMs: 300_000,
        maxValidationsPerRun: 5,
        validationTimeoutMs: 5_000,
        keepaliveMs: 0,
        clock: systemClock,
        logger: noopLogger,
      },
      sizingIntervalMs: 1_000,
      adaptiveSizing: expect.objectContaining({
        minSize: 0,
        maxSize: 10,
        targetUtilization: 0.7,
        shrinkCooldownMs: 30_000,
      }),
      name: 'pool',
      logger: noopLogger,
      clock: systemClock,
      random: Math.random,
    });
  });

  it('treats 0 and Infinity as "off" for lifetime and idle timeout', () => {
    for (const off of [0, Infinity]) {
      const resolved = resolvePoolOptions({ driver, maxLifetimeMs: off, idleTimeoutMs: off });
      expect(resolved.maxLifetimeMs).toBe(Infinity);
      expect(resolved.idleTimeoutMs).toBe(Infinity);
    }
  });

  it.each([
    ['maxSize', 0, 'an integer ≥ 1'],
    ['maxSize', 2.5, 'an integer ≥ 1'],
    ['minSize', -1, 'an integer ≥ 0'],
    ['acquireTimeoutMs', 0, 'a number ≥ 1 and ≤ 2147483647'],
    ['acquireTimeoutMs', Infinity, 'a number ≥ 1 and ≤ 2147483647'],
    ['maxLifetimeMs', -5, 'a number ≥ 0 (or Infinity)'],
    ['maxLifetimeJitter', 0.9, 'a number ≥ 0 and ≤ 0.5'],
    ['idleTimeoutMs', Number.NaN, 'a number ≥ 0 (or Infinity)'],
    ['validateAfterIdleMs', '500', 'a number ≥ 0 (or Infinity)'],
    ['validateOnRelease', 'yes', 'a boolean'],
    ['idleOrder', 'round-robin', '"lifo" or "fifo"'],
    ['maxUses', 0, 'an integer ≥ 1 (or Infinity)'],
    ['maxWaiting', -1, 'an integer ≥ 0 (or Infinity)'],
    ['leakDetectionMs', -1, 'a number ≥ 0 and ≤ 2147483647'],
    ['name', '', 'a non-empty string'],
    ['metrics', 'yes', 'a boolean'],
    ['outageGraceMs', -1, 'a number ≥ 0 and ≤ 2147483647'],
    ['outageGraceMs', Infinity, 'a number ≥ 0 and ≤ 2147483647'],
  ])('refuses %s = %s, naming the allowed range', (option, value, allowed) => {
    const error = invalid({ [option]: value });
    expect(error).toMatchObject({ code: 'INVALID_OPTION', option, allowed });
    expect(error.message).toContain(`"${option}"`);
  });

  it('checks minSize against maxSize', () => {
    const error = invalid({ minSize: 5, maxSize: 2 });
    expect(error).toMatchObject({
      option: 'minSize',
      value: 5,
      allowed: 'an integer ≥ 0 and ≤ maxSize (2)',
    });
  });

  it('refuses an unknown option, suggesting our name for a peer pool option', () => {
    expect(invalid({ max: 20 })).toMatchObject({
      option: 'max',
      allowed: 'no such option; did you mean "maxSize"?',
    });
    expect(invalid({ idleTimeoutMillis: 1 }).allowed).toContain('"idleTimeoutMs"');
    expect(invalid({ colour: 'blue' }).allowed).toBe('no such option');
  });

  it('requires a v1 driver', () => {
    expect(() => resolvePoolOptions({} as PoolOptions<FakeConnection>)).toThrow(
      expect.objectContaining({ option: 'driver' }),
    );
    expect(() => resolvePoolOptions(undefined as unknown as PoolOptions<FakeConnection>)).toThrow(
      expect.objectContaining({ option: 'options' }),
    );
    const future = { ...driver, specificationVersion: 'v2' } as unknown as typeof driver;
    expect(() => resolvePoolOptions({ driver: future })).toThrow(
      expect.objectContaining({ option: 'driver.specificationVersion', value: 'v2' }),
    );
  });

  it('checks the shape of logger, clock and random', () => {
    expect(invalid({ logger: { warn: () => {} } }).option).toBe('logger');
    expect(invalid({ clock: { now: () => 0 } }).option).toBe('clock');
    expect(invalid({ random: 0.5 }).option).toBe('random');
  });

  it('never puts an object value in the message', () => {
    const error = invalid({ clock: { now: 'password=hunter2' } });
    expect(error.message).not.toContain('hunter2');
  });
});
