import { systemClock } from '@enhanced-pool/core';
import { createFakeDriver, type FakeConnection, type FakeDriver } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createHarness, track, warm } from '../test/pool-harness.js';
import { EnhancedConnectionPool } from './enhanced-connection-pool.js';

/**
 * Claims the README makes that need a test of their own: an idle pool holds no timer that keeps
 * the process alive, at most one connect is in flight while connects are failing (also when
 * they fail slowly), and close() finishes whatever hangs inside the driver.
 */

/** Timers keeping the event loop alive: unref'd ones are not listed. */
const refTimers = (): number =>
  process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

/** A driver whose `method` never settles (and ignores its signal), like a stuck socket. */
function hanging(driver: FakeDriver, method: 'close' | 'reset' | 'validate'): FakeDriver {
  return Object.assign(Object.create(driver) as FakeDriver, {
    [method]: () => new Promise<never>(() => {}),
  });
}

describe('an idle pool', () => {
  it('never keeps the process alive: every timer it arms is unref’d', async () => {
    const before = refTimers();
    // The probe itself sees a ref'd timer.
    const probe = setTimeout(() => {}, 10_000);
    expect(refTimers()).toBe(before + 1);
    clearTimeout(probe);
    const pool = new EnhancedConnectionPool<FakeConnection>({
      driver: createFakeDriver({ withReset: false }),
      clock: systemClock,
      minSize: 2,
      maxSize: 4,
      idleTimeoutMs: 60_000,
      keepaliveMs: 10_000,
      leakDetectionMs: 60_000,
      sizingIntervalMs: 1_000,
    });
    await pool.ready();
    // Some activity, so the reaper, the leak sweep, the sizing tick and the health check are
    // all armed: waiters, a third connection above minSize, a lease held.
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    const held = leases.pop();
    for (const lease of leases) lease.release();
    expect(refTimers()).toBe(before);
    held?.release();
    expect(refTimers()).toBe(before);
    await pool.close();
  });
});

describe('connects while the database is failing', () => {
  it('keeps at most one connect in flight once one has failed, also when failures are slow', async () => {
    const { pool, driver, clock } = createHarness({
      maxSize: 10,
      acquireTimeoutMs: 10_000,
      circuitBreaker: false,
      random: () => 0.5,
    });
    driver.setConnectLatency(200);
    driver.failConnects('connection');
    const waiters = [track(pool.acquire())];
    for (let index = 0; index < 19; index++) waiters.push(track(pool.acquire()));
    // The first wave goes out before any failure is known: one connect per waiter, up to maxSize.
    expect(pool.getStats().connecting).toBe(10);
    await clock.advanceAsync(200);
    let most = 0;
    for (let step = 0; step < 300; step++) {
      await clock.advanceAsync(10);
      most = Math.max(most, pool.getStats().connecting);
    }
    expect(most).toBe(1);
    expect(waiters.every((waiter) => waiter.status === 'pending')).toBe(true);
    driver.failConnects(undefined);
    await clock.advanceAsync(1_000);
    expect(waiters.filter((waiter) => waiter.status === 'fulfilled')).toHaveLength(10);
  });
});

describe('close() finishes whatever hangs', () => {
  it('when driver.close() never settles', async () => {
    const harness = createHarness({ maxSize: 2 });
    const pool = new EnhancedConnectionPool<FakeConnection>({
      driver: hanging(harness.driver, 'close'),
      clock: harness.clock,
    });
    (await pool.acquire()).release();
    const closing = track(pool.close({ timeoutMs: 1_000 }));
    await harness.clock.advanceAsync(999);
    expect(closing.status).toBe('pending');
    await harness.clock.advanceAsync(1);
    expect(closing.status).toBe('fulfilled');
    expect(pool.getStats().state).toBe('closed');
  });

  it('when a reset on release never settles', async () => {
    const harness = createHarness({ driverOptions: { withReset: true } });
    const pool = new EnhancedConnectionPool<FakeConnection>({
      driver: hanging(harness.driver, 'reset'),
      clock: harness.clock,
    });
    (await pool.acquire()).release();
    await harness.clock.flush();
    expect(pool.getStats().activeConnections).toBe(1);
    const closing = track(pool.close({ timeoutMs: 500 }));
    await harness.clock.advanceAsync(500);
    expect(closing.status).toBe('fulfilled');
    expect(harness.driver.openConnections.size).toBe(0);
  });

  it('when a validation before hand-out never settles', async () => {
    const harness = createHarness({ validateAfterIdleMs: 0 });
    const pool = new EnhancedConnectionPool<FakeConnection>({
      driver: hanging(harness.driver, 'validate'),
      clock: harness.clock,
      validateAfterIdleMs: 0,
    });
    (await pool.acquire()).release();
    const waiter = track(pool.acquire());
    await harness.clock.flush();
    expect(waiter.status).toBe('pending');
    const closing = track(pool.close({ timeoutMs: 500 }));
    await harness.clock.flush();
    expect(waiter.status).toBe('rejected');
    await harness.clock.advanceAsync(500);
    expect(closing.status).toBe('fulfilled');
    expect(harness.driver.openConnections.size).toBe(0);
  });

  it('with timeoutMs 0, closes a held lease at once and its release is then a no-op', async () => {
    const harness = createHarness();
    await warm(harness, 2);
    const held = await harness.pool.acquire();
    const closing = track(harness.pool.close({ timeoutMs: 0 }));
    await harness.clock.flush();
    expect(closing.status).toBe('fulfilled');
    expect(harness.driver.openConnections.size).toBe(0);
    expect(harness.pool.getStats()).toMatchObject({ state: 'closed', poolSize: 0 });
    expect(() => held.release()).not.toThrow();
    expect(harness.pool.getStats().released).toBe(2);
  });
});
