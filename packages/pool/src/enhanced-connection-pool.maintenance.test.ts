import type { HealthReport } from '@enhanced-pool/health-checker';
import type { FakeClock, FakeConnection } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { advanceUntil, createHarness, type Harness, track, warm } from '../test/pool-harness.js';
import type { PoolEvents } from './pool-events.js';

/**
 * The pool's background work (issue 5): the health checker wired through the
 * HealthCheckTarget seam, the adaptive sizer's tick, and creation pacing.
 */

function sleep(clock: FakeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Records which connection each `driver.validate()` call was for. */
function recordValidations(harness: Harness): number[] {
  const ids: number[] = [];
  const validate = harness.driver.validate.bind(harness.driver);
  harness.driver.validate = (connection: FakeConnection, options) => {
    ids.push(connection.id);
    return validate(connection, options);
  };
  return ids;
}

describe('health checks', () => {
  it('run every healthCheckIntervalMs, rotating through idle connections', async () => {
    const harness = createHarness({
      minSize: 2,
      healthCheckIntervalMs: 1_000,
      validationIntervalMs: 0,
    });
    const { pool, clock } = harness;
    await pool.ready();
    const validated = recordValidations(harness);
    const reports: HealthReport[] = [];
    pool.on('healthCheck', (report) => reports.push(report));
    await clock.advanceAsync(999);
    expect(reports).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      healthy: true,
      checked: 1, // at most half the idle connections at once
      size: 2,
      minSize: 2,
      breakerState: 'closed',
    });
    await clock.advanceAsync(1_000);
    // Least recently validated first: the other connection this time.
    expect(validated).toEqual([1, 2]);
    expect(pool.lastHealthReport()).toBe(reports[1]);
  });

  it('runs on demand, one run at a time', async () => {
    const harness = createHarness({
      minSize: 2,
      validationIntervalMs: 0,
      driverOptions: { validateLatencyMs: 100 },
    });
    const { pool, clock, driver } = harness;
    await pool.ready();
    const first = pool.runHealthCheck();
    const joined = pool.runHealthCheck();
    expect(joined).toBe(first);
    await clock.advanceAsync(100);
    const report = await first;
    expect(report.checked).toBe(1);
    expect(driver.counters.validate).toBe(1);
  });

  it('replaces idle connections found dead, and tops up to minSize', async () => {
    const { pool, driver, clock } = createHarness({
      minSize: 3,
      validationIntervalMs: 0,
      healthCheckIntervalMs: 0,
    });
    await pool.ready();
    driver.killAll({ noticed: true });
    const broken = await pool.runHealthCheck();
    expect(broken).toMatchObject({ healthy: true, broken: 3, replaced: 3, size: 3 });

    // Killed without the client noticing: only a round trip finds it.
    const [victim] = [...driver.openConnections];
    if (victim === undefined) throw new Error('no connection');
    driver.kill(victim);
    let found = 0;
    for (let run = 0; run < 3 && found === 0; run++) {
      await clock.advanceAsync(1);
      const report = await pool.runHealthCheck();
      found = report.failed;
      if (found > 0) {
        expect(report).toMatchObject({ replaced: 1, size: 3 });
        expect(report.lastError).toMatchObject({ reason: 'connection', during: 'validation' });
      }
    }
    expect(found).toBe(1);
    expect(victim.closed).toBe(true);
    expect(pool.getStats().destroyedByReason).toMatchObject({ broken: 3, 'validation-failed': 1 });
    expect(driver.openConnections.size).toBe(3);
  });

  it('keeps connections under check away from borrowers and hands them on afterwards', async () => {
    const harness = createHarness({
      minSize: 2,
      maxSize: 2,
      validationIntervalMs: 0,
      healthCheckIntervalMs: 0,
    });
    const { pool, driver, clock } = harness;
    await pool.ready();
    const validated = recordValidations(harness);
    driver.setValidateLatency(100);
    const run = pool.runHealthCheck();
    await clock.flush();
    expect(pool.getStats()).toMatchObject({ healthChecking: 1, idleConnections: 1 });
    const underCheck = validated[0];
    const other = await pool.acquire();
    expect(other.connection.id).not.toBe(underCheck);
    const waiter = track(pool.acquire());
    await clock.advanceAsync(99);
    expect(waiter.status).toBe('pending');
    await clock.advanceAsync(1);
    await run;
    expect(waiter.status).toBe('fulfilled');
    expect(waiter.value?.connection.id).toBe(underCheck);
    expect(pool.getStats()).toMatchObject({ healthChecking: 0, activeConnections: 2 });
  });

  it('fills through the breaker: no connect while it is open', async () => {
    const { pool, driver, clock } = createHarness({
      minSize: 1,
      random: () => 0.5,
      healthCheckIntervalMs: 0,
    });
    await pool.ready();
    (await pool.acquire()).destroy();
    driver.failConnects('connection');
    await advanceUntil(clock, () => pool.connCircuitBreaker?.getState() === 'open', 'breaker open');
    const attempts = driver.counters.connect;
    const report = await pool.runHealthCheck();
    expect(report).toMatchObject({ healthy: false, replaced: 0, size: 0, breakerState: 'open' });
    expect(report.reasons).toContain('connection breaker is open');
    expect(driver.counters.connect).toBe(attempts);
  });

  it("doesn't count a check as use: idle connections still time out", async () => {
    const { pool, clock } = createHarness({
      idleTimeoutMs: 10_000,
      validationIntervalMs: 0,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
    });
    await warm({ pool, clock } as Harness, 2);
    await clock.advanceAsync(6_000);
    expect((await pool.runHealthCheck()).checked).toBe(1);
    await clock.advanceAsync(4_000);
    expect(pool.getStats()).toMatchObject({
      poolSize: 0,
      destroyedByReason: expect.objectContaining({ 'idle-timeout': 2 }),
    });
  });

  it('counts a validation at hand-out as the last validation', async () => {
    const { pool, clock, driver } = createHarness({
      minSize: 1,
      validateAfterIdleMs: 0,
      validationIntervalMs: 5_000,
      healthCheckIntervalMs: 0,
    });
    await pool.ready();
    await clock.advanceAsync(4_000);
    (await pool.acquire()).release();
    expect(driver.counters.validate).toBe(1);
    await clock.advanceAsync(1_000);
    expect((await pool.runHealthCheck()).checked).toBe(0);
    await clock.advanceAsync(4_000);
    expect((await pool.runHealthCheck()).checked).toBe(1);
  });

  it('pings connections idle longer than keepaliveMs', async () => {
    const { pool, clock } = createHarness({
      minSize: 2,
      keepaliveMs: 2_000,
      healthCheckIntervalMs: 0,
      validationIntervalMs: Infinity,
    });
    await pool.ready();
    const reports: HealthReport[] = [];
    pool.on('healthCheck', (report) => reports.push(report));
    await clock.advanceAsync(2_000);
    expect(reports.map((report) => report.keepalives)).toEqual([0, 1]);
  });

  it('has no schedule with healthCheckIntervalMs 0, and stops with the pool', async () => {
    const { pool, clock, driver } = createHarness({
      minSize: 2,
      validationIntervalMs: 0,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
      maxLifetimeMs: 0,
      driverOptions: { validateLatencyMs: 1_000 },
    });
    await pool.ready();
    expect(clock.pendingTimers()).toBe(0);
    const run = pool.runHealthCheck();
    await clock.flush();
    await pool.close();
    const report = await run;
    expect(report.reasons).toContain('stopped before the run finished');
    expect(driver.openConnections.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
    await expect(pool.runHealthCheck()).rejects.toMatchObject({ code: 'POOL_CLOSED' });
  });
});

/** `count` borrowers, each acquiring, holding `holdMs` of fake time and releasing, in a loop. */
function startWorkers(
  harness: Harness,
  count: number,
  holdMs: number,
): { stop(): Promise<void>; errors: unknown[] } {
  let running = true;
  const errors: unknown[] = [];
  const loops = Array.from({ length: count }, async () => {
    while (running) {
      try {
        const lease = await harness.pool.acquire();
        await sleep(harness.clock, holdMs);
        lease.release();
      } catch (error) {
        errors.push(error);
        return;
      }
    }
  });
  return {
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('adaptive sizing', () => {
  it('grows toward the demand and shrinks back to minSize on a load step', async () => {
    const harness = createHarness({
      minSize: 2,
      maxSize: 20,
      idleTimeoutMs: 0,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 100,
      adaptiveSizing: {
        growthHalfLifeMs: 100,
        shrinkCooldownMs: 1_000,
        shrinkHalfLifeMs: 500,
        maxShrinkStep: 4,
        shrinkStepIntervalMs: 100,
      },
      driverOptions: { connectLatencyMs: 5 },
    });
    const { pool, clock, driver } = harness;
    await clock.advanceAsync(5);
    const resized: PoolEvents['resized'][] = [];
    pool.on('resized', (event) => resized.push(event));
    const sizes: number[] = [];
    const run = async (durationMs: number): Promise<void> => {
      for (let elapsed = 0; elapsed < durationMs; elapsed += 25) {
        await clock.advanceAsync(25);
        const stats = pool.getStats();
        const size = stats.poolSize + stats.connecting;
        expect(size).toBeLessThanOrEqual(20);
        expect(stats.poolSize).toBeGreaterThanOrEqual(2);
        sizes.push(size);
      }
    };

    const few = startWorkers(harness, 2, 50);
    await run(1_000);
    expect(pool.getStats().poolSize).toBeLessThanOrEqual(3);
    const many = startWorkers(harness, 14, 50);
    await run(1_000);
    // 16 busy borrowers need 16 / 0.7 = 23 connections: capped at maxSize.
    expect(pool.getStats()).toMatchObject({ poolSize: 20, targetSize: 20 });
    expect(resized.some((event) => event.action === 'grow')).toBe(true);
    const manyStopped = many.stop();
    await run(3_000);
    await manyStopped;
    // 2 busy borrowers need 2 / 0.7 → 3; retiring stops once utilisation is back above
    // shrinkUtilization (0.35), the dead band that keeps a steady load from oscillating.
    expect(pool.getStats().poolSize).toBeGreaterThanOrEqual(3);
    expect(pool.getStats().poolSize).toBeLessThanOrEqual(5);
    const fewStopped = few.stop();
    await run(3_000);
    await fewStopped;
    expect(pool.getStats()).toMatchObject({ poolSize: 2, targetSize: 2 });
    expect(pool.getStats().destroyedByReason.shrink).toBe(18);
    expect(pool.getStats().destroyed).toBe(18);
    expect(few.errors).toEqual([]);
    expect(many.errors).toEqual([]);
    expect(driver.openConnections.size).toBe(2);
    expect(Math.max(...sizes)).toBe(20);
  }, 30_000);

  it("doesn't let the idle timeout undo the sizer's headroom (no close-and-reopen churn)", async () => {
    const harness = createHarness({
      minSize: 2,
      maxSize: 20,
      idleTimeoutMs: 200,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 100,
      adaptiveSizing: { growthHalfLifeMs: 100, shrinkCooldownMs: 60_000 },
    });
    const { pool, clock } = harness;
    const workers = startWorkers(harness, 7, 50);
    await clock.advanceAsync(1_000);
    const grown = pool.getStats();
    // 7 busy borrowers at target utilisation 0.7 want 10 connections: 3 of them sit idle.
    expect(grown.targetSize).toBeGreaterThan(7);
    expect(grown.idleConnections).toBeGreaterThan(0);
    await clock.advanceAsync(3_000);
    const later = pool.getStats();
    expect(later.destroyedByReason['idle-timeout']).toBe(0);
    expect(later.created).toBe(grown.created);
    const stopped = workers.stop();
    await clock.advanceAsync(100);
    await stopped;
    expect(workers.errors).toEqual([]);
  }, 30_000);

  it('never grows while the breaker is open', async () => {
    const harness = createHarness({
      maxSize: 10,
      random: () => 0.5,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 100,
    });
    const { pool, driver, clock } = harness;
    const held = [await pool.acquire(), await pool.acquire()];
    driver.failConnects('connection');
    track(pool.acquire());
    await advanceUntil(clock, () => pool.connCircuitBreaker?.getState() === 'open', 'breaker open');
    const attempts = driver.counters.connect;
    const resized: PoolEvents['resized'][] = [];
    pool.on('resized', (event) => resized.push(event));
    // Every connection is busy, so the sizer wants one more; the breaker keeps it from trying.
    const isolation = pool.connCircuitBreaker?.isolate();
    await clock.advanceAsync(1_000);
    expect(driver.counters.connect).toBe(attempts);
    expect(resized.filter((event) => event.action === 'grow')).toEqual([]);
    expect(pool.getStats().targetSize).toBe(2);
    driver.failConnects(undefined);
    isolation?.dispose();
    await clock.advanceAsync(200);
    // Closed again: the sizer's growth goes ahead.
    expect(resized.filter((event) => event.action === 'grow')).not.toEqual([]);
    expect(pool.getStats().targetSize).toBeGreaterThan(2);
    expect(pool.getStats().poolSize).toBe(pool.getStats().targetSize);
    expect(driver.counters.connect).toBe(attempts + pool.getStats().targetSize - 2);
    for (const lease of held) lease.release();
  });

  it('ticks only while there is something to size', async () => {
    const { pool, clock } = createHarness({
      healthCheckIntervalMs: 0,
      idleTimeoutMs: 0,
      maxLifetimeMs: 0,
      adaptiveSizing: { shrinkCooldownMs: 2_000 },
    });
    expect(clock.pendingTimers()).toBe(0);
    (await pool.acquire()).release();
    expect(clock.pendingTimers()).toBe(1);
    await clock.advanceAsync(10_000);
    // The idle surplus was retired, then the tick stopped.
    expect(pool.getStats()).toMatchObject({ poolSize: 0, targetSize: 0 });
    expect(clock.pendingTimers()).toBe(0);
    (await pool.acquire()).release();
    expect(clock.pendingTimers()).toBe(1);
  });

  it('is off with sizingIntervalMs 0', async () => {
    const { pool, clock } = createHarness({ sizingIntervalMs: 0, healthCheckIntervalMs: 0 });
    const resized: unknown[] = [];
    pool.on('resized', (event) => resized.push(event));
    (await pool.acquire()).release();
    await clock.advanceAsync(60_000);
    expect(resized).toEqual([]);
    expect(pool.getStats()).toMatchObject({ poolSize: 1, targetSize: 0 });
  });
});

describe('creation pacing', () => {
  it("ends HikariCP's spike with about minSize connections and no long wait", async () => {
    const harness = createHarness({
      minSize: 5,
      maxSize: 50,
      acquireTimeoutMs: 1_000,
      driverOptions: { connectLatencyMs: 150 },
    });
    const { pool, clock, driver } = harness;
    await clock.advanceAsync(150);
    await warm(harness, 5);
    const waits: number[] = [];
    const borrowers = Array.from({ length: 50 }, async () => {
      const start = clock.now();
      const lease = await pool.acquire();
      waits.push(clock.now() - start);
      await sleep(clock, 2);
      lease.release();
    });
    await clock.advanceAsync(700);
    await Promise.all(borrowers);
    expect(Math.max(...waits)).toBeLessThanOrEqual(20);
    expect(driver.counters.connect - 5).toBe(1);
    expect(pool.getStats().poolSize).toBe(6);
  });

  it('opens connections for the waiters still waiting after a typical connect time', async () => {
    const harness = createHarness({
      minSize: 5,
      maxSize: 20,
      driverOptions: { connectLatencyMs: 150 },
      sizingIntervalMs: 0,
    });
    const { pool, clock, driver } = harness;
    await clock.advanceAsync(150);
    const held = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    const waiters = Array.from({ length: 10 }, () => track(pool.acquire()));
    await clock.flush();
    expect(pool.getStats().connecting).toBe(1);
    await clock.advanceAsync(150);
    // The first new connection serves one waiter; the other nine waited a connect time.
    expect(waiters.filter((waiter) => waiter.status === 'fulfilled')).toHaveLength(1);
    expect(pool.getStats().connecting).toBe(9);
    await clock.advanceAsync(150);
    for (const waiter of waiters) expect(waiter.status).toBe('fulfilled');
    expect(driver.counters.connect).toBe(15);
    for (const lease of held) lease.release();
  });
});
