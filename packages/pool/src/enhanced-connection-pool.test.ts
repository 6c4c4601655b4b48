import { inspect } from 'node:util';
import {
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  type Driver,
  InvalidReleaseError,
  type Logger,
  PoolExhaustedError,
  ValidationError,
} from '@enhanced-pool/core';
import { type FakeConnection, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createHarness, ignoringConnectAbort, track, warm } from '../test/pool-harness.js';
import { createPool, EnhancedConnectionPool } from './enhanced-connection-pool.js';
import type { PoolEvents } from './pool-events.js';

function spyLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, context?: Record<string, unknown>): void => {
      lines.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
    };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/**
 * For tests that count pending timers: the health-check schedule and the sizing tick are the
 * pool's two background timers by design, so these tests turn them off to see only the timers
 * the behaviour under test creates.
 */
const NO_BACKGROUND = { healthCheckIntervalMs: 0, sizingIntervalMs: 0 } as const;

describe('acquire and release', () => {
  it('opens a connection on demand and hands it back to idle on release', async () => {
    const { pool, driver } = createHarness();
    const lease = await pool.acquire();
    const connection = lease.connection;
    expect(connection).toBe(driver.allConnections[0]);
    expect(lease.isNew).toBe(true);
    expect(typeof lease.id).toBe('number');
    expect(pool.getStats()).toMatchObject({
      poolSize: 1,
      activeConnections: 1,
      idleConnections: 0,
    });
    lease.release();
    expect(pool.getStats()).toMatchObject({
      poolSize: 1,
      activeConnections: 0,
      idleConnections: 1,
      acquired: 1,
      released: 1,
      created: 1,
    });
    const again = await pool.acquire();
    expect(again.connection).toBe(connection);
    expect(again.isNew).toBe(false);
    expect(again.id).not.toBe(lease.id);
  });

  it('serves an acquire from idle without creating a timer', async () => {
    const harness = createHarness({ minSize: 2 });
    await harness.pool.ready();
    await warm(harness, 2);
    const timersBefore = harness.clock.pendingTimers();
    for (let round = 0; round < 5; round++) {
      const lease = await harness.pool.acquire();
      expect(harness.clock.pendingTimers()).toBe(timersBefore);
      lease.release();
      expect(harness.clock.pendingTimers()).toBe(timersBefore);
    }
    expect(harness.driver.counters.connect).toBe(2);
  });

  it('hands out the most recently released connection first (LIFO)', async () => {
    const harness = createHarness();
    const first = await harness.pool.acquire();
    const second = await harness.pool.acquire();
    const firstConnection = first.connection;
    second.release();
    first.release();
    const next = await harness.pool.acquire();
    expect(next.connection).toBe(firstConnection);
  });

  it("with idleOrder 'fifo', hands out the least recently released connection (round robin)", async () => {
    const harness = createHarness({ idleOrder: 'fifo' });
    const leases = [
      await harness.pool.acquire(),
      await harness.pool.acquire(),
      await harness.pool.acquire(),
    ];
    const connections = leases.map((lease) => lease.connection);
    for (const lease of leases) lease.release();
    const order = [];
    for (let round = 0; round < 6; round++) {
      const lease = await harness.pool.acquire();
      order.push(connections.indexOf(lease.connection));
      lease.release();
    }
    expect(order).toEqual([0, 1, 2, 0, 1, 2]);
    expect(harness.driver.counters.connect).toBe(3);
  });

  it('serves waiters first-in first-out', async () => {
    const { pool } = createHarness({ maxSize: 1 });
    const held = await pool.acquire();
    const order: string[] = [];
    const waiters = ['a', 'b', 'c'].map((name) =>
      pool.acquire().then((lease) => {
        order.push(name);
        return lease;
      }),
    );
    expect(pool.getStats().pending).toBe(3);
    held.release();
    (await waiters[0])?.release();
    (await waiters[1])?.release();
    (await waiters[2])?.release();
    expect(order).toEqual(['a', 'b', 'c']);
    // The first acquire waited too: for the connect made on its behalf.
    expect(pool.getStats()).toMatchObject({ pending: 0, idleConnections: 1, waited: 4 });
  });

  it('hands a released connection straight to the first waiter', async () => {
    const { pool, driver } = createHarness({ maxSize: 1 });
    const held = await pool.acquire();
    const connection = held.connection;
    const waiter = track(pool.acquire());
    held.release();
    await Promise.resolve();
    expect(waiter.status).toBe('fulfilled');
    expect(waiter.value?.connection).toBe(connection);
    expect(driver.counters.connect).toBe(1);
  });

  it('exposes the seed names: getConnection, releaseConnection, closeAll', async () => {
    const { pool, driver } = createHarness();
    const { connection, id, isNew } = await pool.getConnection();
    expect(isNew).toBe(true);
    pool.releaseConnection(connection, id);
    expect(pool.getStats().idleConnections).toBe(1);
    await pool.closeAll();
    expect(driver.openConnections.size).toBe(0);
  });
});

describe('deadline', () => {
  it('times out a queued acquire with the figures needed to diagnose exhaustion', async () => {
    const { pool, clock } = createHarness({ maxSize: 1, acquireTimeoutMs: 1_000, name: 'orders' });
    await pool.acquire();
    const waiter = track(pool.acquire());
    await clock.advanceAsync(999);
    expect(waiter.status).toBe('pending');
    await clock.advanceAsync(1);
    expect(waiter.status).toBe('rejected');
    const error = waiter.error as AcquireTimeoutError;
    expect(AcquireTimeoutError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      'Pool "orders": acquire timed out after waiting 1000 ms (pool size 1, active 1, pending 1)',
    );
    expect(error).toMatchObject({ waitedMs: 1_000, poolSize: 1, active: 1, pending: 1 });
    expect(pool.getStats()).toMatchObject({ timeouts: 1, pending: 0 });
  });

  it('covers the connect with the same deadline and aborts the connect at it', async () => {
    const { pool, clock, driver } = createHarness({
      ...NO_BACKGROUND,
      acquireTimeoutMs: 1_000,
      driverOptions: { connectLatencyMs: 5_000 },
    });
    const waiter = track(pool.acquire());
    await clock.advanceAsync(1_000);
    expect(waiter.status).toBe('rejected');
    expect(AcquireTimeoutError.isInstance(waiter.error)).toBe(true);
    expect(driver.counters.connectFailures).toBe(1);
    expect(pool.getStats()).toMatchObject({ connecting: 0, poolSize: 0 });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('gives each waiter its own deadline while one timer covers the queue', async () => {
    const { pool, clock } = createHarness({
      ...NO_BACKGROUND,
      maxSize: 1,
      acquireTimeoutMs: 1_000,
    });
    await pool.acquire();
    const first = track(pool.acquire());
    await clock.advanceAsync(400);
    const second = track(pool.acquire());
    expect(clock.pendingTimers()).toBe(1);
    await clock.advanceAsync(600);
    expect(first.status).toBe('rejected');
    expect(second.status).toBe('pending');
    await clock.advanceAsync(400);
    expect(second.status).toBe('rejected');
    expect((second.error as AcquireTimeoutError).waitedMs).toBe(1_000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('hands a connect that completes after its waiter timed out to the next waiter', async () => {
    const harness = createHarness({ maxSize: 1, acquireTimeoutMs: 1_000 });
    const { clock, driver } = harness;
    driver.setConnectLatency(1_200);
    const pool = new EnhancedConnectionPool({
      driver: ignoringConnectAbort(driver),
      clock,
      maxSize: 1,
      acquireTimeoutMs: 1_000,
    });
    const first = track(pool.acquire());
    await clock.advanceAsync(500);
    const second = track(pool.acquire());
    await clock.advanceAsync(500);
    expect(first.status).toBe('rejected');
    await clock.advanceAsync(200);
    expect(second.status).toBe('fulfilled');
    expect(second.value?.connection).toBe(driver.allConnections[0]);
    expect(pool.getStats()).toMatchObject({ poolSize: 1, activeConnections: 1, pending: 0 });
  });

  it('puts a connect that completes after every waiter gave up into idle, not lost', async () => {
    const harness = createHarness();
    const { clock, driver } = harness;
    driver.setConnectLatency(1_500);
    const pool = new EnhancedConnectionPool({
      driver: ignoringConnectAbort(driver),
      clock,
      acquireTimeoutMs: 1_000,
    });
    const controller = new AbortController();
    const aborted = track(pool.acquire({ signal: controller.signal }));
    const timedOut = track(pool.acquire());
    controller.abort(new Error('caller left'));
    await clock.advanceAsync(1_000);
    expect(aborted.status).toBe('rejected');
    expect(timedOut.status).toBe('rejected');
    await clock.advanceAsync(500);
    expect(driver.openConnections.size).toBe(pool.getStats().poolSize);
    expect(pool.getStats()).toMatchObject({ idleConnections: pool.getStats().poolSize });
    expect(pool.getStats().poolSize).toBeGreaterThan(0);
    await pool.close();
    expect(driver.openConnections.size).toBe(0);
  });
});

describe('abort', () => {
  it('rejects at once with the reason when the signal is already aborted', async () => {
    const { pool, driver } = createHarness();
    const reason = new Error('gone');
    await expect(pool.acquire({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(driver.counters.connect).toBe(0);
    expect(pool.getStats().aborted).toBe(1);
  });

  it('removes an aborted waiter from the queue and serves the next one', async () => {
    const { pool } = createHarness({ maxSize: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const aborted = track(pool.acquire({ signal: controller.signal }));
    const next = track(pool.acquire());
    controller.abort(new Error('client disconnected'));
    await Promise.resolve();
    expect(aborted.status).toBe('rejected');
    expect((aborted.error as Error).message).toBe('client disconnected');
    expect(pool.getStats().pending).toBe(1);
    held.release();
    await Promise.resolve();
    expect(next.status).toBe('fulfilled');
    expect(pool.getStats()).toMatchObject({ aborted: 1, acquired: 2 });
  });

  it('aborts the connect started for an aborted caller when nobody else needs it', async () => {
    const { pool, clock, driver } = createHarness({ driverOptions: { connectLatencyMs: 1_000 } });
    const controller = new AbortController();
    const aborted = track(pool.acquire({ signal: controller.signal }));
    expect(pool.getStats().connecting).toBe(1);
    controller.abort();
    await clock.flush();
    expect(aborted.status).toBe('rejected');
    expect(driver.counters.connectFailures).toBe(1);
    expect(pool.getStats()).toMatchObject({ connecting: 0, connectErrors: 0, errors: 0 });
  });
});

describe('creation', () => {
  it('starts one connect per waiter it cannot serve, never more', async () => {
    const { pool, clock, driver } = createHarness({ driverOptions: { connectLatencyMs: 100 } });
    const early = [track(pool.acquire()), track(pool.acquire()), track(pool.acquire())];
    expect(pool.getStats().connecting).toBe(3);
    const late = [track(pool.acquire()), track(pool.acquire())];
    expect(driver.counters.connect).toBe(5);
    expect(pool.getStats()).toMatchObject({ connecting: 5, pending: 5 });
    await clock.advanceAsync(100);
    for (const waiter of [...early, ...late]) expect(waiter.status).toBe('fulfilled');
    expect(driver.counters.connect).toBe(5);
  });

  it('counts connects in flight toward maxSize', async () => {
    const { pool, clock, driver } = createHarness({
      maxSize: 2,
      driverOptions: { connectLatencyMs: 100 },
    });
    const waiters = [track(pool.acquire()), track(pool.acquire()), track(pool.acquire())];
    expect(driver.counters.connect).toBe(2);
    await clock.advanceAsync(100);
    expect(waiters.map((waiter) => waiter.status)).toEqual(['fulfilled', 'fulfilled', 'pending']);
    waiters[0]?.value?.release();
    await clock.flush();
    expect(waiters[2]?.status).toBe('fulfilled');
    expect(driver.counters.connect).toBe(2);
  });

  it('rejects the waiter a failed connect was started for with ConnectError', async () => {
    const { pool, driver, clock } = createHarness();
    driver.failNextConnects(1, 'authentication');
    const waiter = track(pool.acquire());
    await clock.flush();
    expect(waiter.status).toBe('rejected');
    const error = waiter.error as ConnectError;
    expect(ConnectError.isInstance(error)).toBe(true);
    expect(error.reason).toBe('authentication');
    expect(error.cause).toBeInstanceOf(FakeDriverError);
    expect(error.message).toContain('(fake)');
    expect(pool.getStats()).toMatchObject({ errors: 1, connectErrors: 1, pending: 0 });
  });

  it('does not reject a waiter that another connection served before its connect failed', async () => {
    const { pool, driver, clock } = createHarness({ maxSize: 2 });
    const held = await pool.acquire();
    driver.setConnectLatency(100);
    driver.failNextConnects(1);
    const waiter = track(pool.acquire());
    await clock.advanceAsync(50);
    held.release();
    await clock.advanceAsync(50);
    expect(waiter.status).toBe('fulfilled');
    expect(pool.getStats()).toMatchObject({ connectErrors: 1, pending: 0, poolSize: 1 });
  });

  // Issue 5 changed the policy here: a failed connect is now retried with backoff while the
  // caller waits, until the breaker opens (then the caller fails fast). Still no loop: the
  // attempts stop at the breaker's threshold when nobody else needs a connection.
  it('does not retry a failed connect in a loop', async () => {
    const { pool, driver, clock } = createHarness({ outageGraceMs: 0, random: () => 0.5 });
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(10_000);
    expect(waiter.status).toBe('rejected');
    expect(CircuitOpenError.isInstance(waiter.error)).toBe(true);
    expect(driver.counters.connect).toBe(5);
  });

  it('retries keeping minSize with a growing delay, not in a loop', async () => {
    const { pool, driver, clock } = createHarness({
      minSize: 1,
      random: () => 0.5,
      circuitBreaker: false,
      connectBackoff: { baseMs: 1_000, capMs: 30_000 },
    });
    driver.failConnects('connection');
    await clock.advanceAsync(0);
    expect(driver.counters.connect).toBe(1);
    // Full jitter with random 0.5: half of 1 000, 2 000, 4 000, … ms.
    await clock.advanceAsync(500);
    expect(driver.counters.connect).toBe(2);
    await clock.advanceAsync(999);
    expect(driver.counters.connect).toBe(2);
    await clock.advanceAsync(1);
    expect(driver.counters.connect).toBe(3);
    driver.failConnects(undefined);
    await clock.advanceAsync(2_000);
    expect(pool.getStats().poolSize).toBe(1);
  });
});

describe('hand-out rules', () => {
  it('skips and closes a connection the driver reports broken', async () => {
    const harness = createHarness();
    await warm(harness, 2);
    const { pool, driver } = harness;
    const [older, newer] = driver.allConnections;
    driver.kill(newer as FakeConnection, { noticed: true });
    const lease = await pool.acquire();
    expect(lease.connection).toBe(older);
    expect(driver.openConnections.has(newer as FakeConnection)).toBe(false);
    expect(pool.getStats().destroyedByReason.broken).toBe(1);
  });

  it('trusts a connection used within validateAfterIdleMs and validates one idle longer', async () => {
    const { pool, driver, clock } = createHarness({ validateAfterIdleMs: 500 });
    (await pool.acquire()).release();
    (await pool.acquire()).release();
    expect(driver.counters.validate).toBe(0);
    await clock.advanceAsync(499);
    (await pool.acquire()).release();
    expect(driver.counters.validate).toBe(0);
    await clock.advanceAsync(500);
    const lease = await pool.acquire();
    expect(driver.counters.validate).toBe(1);
    expect(lease.connection).toBe(driver.allConnections[0]);
  });

  it('replaces a connection that fails validation with the next idle one, same deadline', async () => {
    const harness = createHarness({ validateAfterIdleMs: 100 });
    await warm(harness, 2);
    const { pool, driver, clock } = harness;
    await clock.advanceAsync(100);
    driver.failNextValidations(1);
    const lease = await pool.acquire();
    expect(lease.connection).toBe(driver.allConnections[0]);
    expect(driver.counters.validate).toBe(2);
    expect(driver.openConnections.has(driver.allConnections[1] as FakeConnection)).toBe(false);
    expect(pool.getStats()).toMatchObject({
      validationFailures: 1,
      poolSize: 1,
      destroyedByReason: expect.objectContaining({ 'validation-failed': 1 }),
    });
  });

  it('reports a failed validation as a ValidationError with the driver reason', async () => {
    const harness = createHarness({ validateAfterIdleMs: 0 });
    await warm(harness, 1);
    const destroyed: PoolEvents['connectionDestroyed'][] = [];
    harness.pool.on('connectionDestroyed', (event) => destroyed.push(event));
    harness.driver.failNextValidations(1, 'timeout');
    await harness.pool.acquire();
    expect(destroyed).toHaveLength(1);
    expect(destroyed[0]?.reason).toBe('validation-failed');
    expect(ValidationError.isInstance(destroyed[0]?.error)).toBe(true);
    expect(destroyed[0]?.error).toMatchObject({ code: 'VALIDATION_FAILED', reason: 'timeout' });
  });

  it('opens a new connection when every idle one is dead (killed on the server)', async () => {
    const harness = createHarness({ validateAfterIdleMs: 100 });
    await warm(harness, 3);
    const { pool, driver, clock } = harness;
    await clock.advanceAsync(100);
    driver.killAll();
    const lease = await pool.acquire();
    expect(lease.isNew).toBe(true);
    expect(lease.connection.killed).toBe(false);
    expect(driver.counters.validate).toBe(3);
    expect(pool.getStats()).toMatchObject({ poolSize: 1, validationFailures: 3 });
    expect(driver.openConnections.size).toBe(1);
  });

  it('times out a validation that outlives the deadline and closes that connection', async () => {
    const harness = createHarness({
      ...NO_BACKGROUND,
      validateAfterIdleMs: 0,
      acquireTimeoutMs: 1_000,
    });
    await warm(harness, 1);
    const { pool, driver, clock } = harness;
    driver.setValidateLatency(5_000);
    const waiter = track(pool.acquire());
    await clock.advanceAsync(1_000);
    expect(waiter.status).toBe('rejected');
    expect(AcquireTimeoutError.isInstance(waiter.error)).toBe(true);
    expect(driver.openConnections.size).toBe(0);
    expect(pool.getStats()).toMatchObject({ poolSize: 0, pending: 0, validationFailures: 1 });
  });

  it('closes a connection at the end of its jittered lifetime', async () => {
    const harness = createHarness({
      maxLifetimeMs: 10_000,
      maxLifetimeJitter: 0.2,
      random: () => 0.5,
    });
    await warm(harness, 1);
    const { pool, driver, clock } = harness;
    await clock.advanceAsync(8_999);
    expect(pool.getStats().poolSize).toBe(1);
    await clock.advanceAsync(1);
    expect(pool.getStats()).toMatchObject({
      poolSize: 0,
      destroyedByReason: expect.objectContaining({ lifetime: 1 }),
    });
    expect(driver.openConnections.size).toBe(0);
  });

  it('closes a connection released after its lifetime instead of reusing it', async () => {
    const { pool, driver, clock } = createHarness({
      maxLifetimeMs: 10_000,
      maxLifetimeJitter: 0,
    });
    const lease = await pool.acquire();
    const expired = lease.connection;
    await clock.advanceAsync(10_000);
    const waiter = track(pool.acquire());
    lease.release();
    await clock.flush();
    expect(waiter.status).toBe('fulfilled');
    expect(waiter.value?.connection).not.toBe(expired);
    expect(driver.openConnections.has(expired)).toBe(false);
  });

  it('spreads lifetimes with the injected random source', async () => {
    const values = [0, 0.5, 0.999];
    const { pool, clock } = createHarness({
      maxLifetimeMs: 10_000,
      maxLifetimeJitter: 0.1,
      random: () => values.shift() ?? 0,
    });
    const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const lease of leases) lease.release();
    const remaining: number[] = [];
    // Lifetimes: 10 000 × (1 − 0.1 × random) = 10 000, 9 500 and 9 001 ms.
    for (const step of [9_001, 9_500, 10_000]) {
      await clock.advanceAsync(step - clock.now());
      remaining.push(pool.getStats().poolSize);
    }
    expect(remaining).toEqual([2, 1, 0]);
  });

  it('closes idle connections after idleTimeoutMs, never below minSize', async () => {
    // Sizing off: the adaptive sizer would retire the surplus before the idle timeout does.
    const harness = createHarness({
      minSize: 1,
      maxSize: 3,
      idleTimeoutMs: 60_000,
      sizingIntervalMs: 0,
    });
    await harness.pool.ready();
    await warm(harness, 3);
    const { pool, clock, driver } = harness;
    await clock.advanceAsync(60_000);
    expect(pool.getStats()).toMatchObject({
      poolSize: 1,
      destroyedByReason: expect.objectContaining({ 'idle-timeout': 2 }),
    });
    await clock.advanceAsync(600_000);
    expect(pool.getStats().poolSize).toBe(1);
    expect(driver.openConnections.size).toBe(1);
  });

  it('retires a connection after maxUses leases', async () => {
    const { pool, driver } = createHarness({ maxUses: 2 });
    const first = await pool.acquire();
    const connection = first.connection;
    first.release();
    const second = await pool.acquire();
    expect(second.connection).toBe(connection);
    second.release();
    expect(driver.openConnections.has(connection)).toBe(false);
    const third = await pool.acquire();
    expect(third.connection).not.toBe(connection);
    expect(pool.getStats().destroyedByReason['max-uses']).toBe(1);
  });

  it('fails at once with PoolExhaustedError beyond maxWaiting', async () => {
    const { pool } = createHarness({ maxSize: 1, maxWaiting: 1, name: 'api' });
    await pool.acquire();
    const queued = track(pool.acquire());
    const error = await pool.acquire().catch((caught: unknown) => caught);
    expect(PoolExhaustedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('Pool "api" exhausted: 1 callers already waiting');
    expect(queued.status).toBe('pending');
    expect(pool.getStats()).toMatchObject({ exhausted: 1, pending: 1 });
  });
});

describe('misuse', () => {
  it('refuses a double release and leaves the accounting intact', async () => {
    const { pool } = createHarness();
    const lease = await pool.acquire();
    lease.release();
    const before = pool.getStats();
    const error = (() => {
      try {
        lease.release();
      } catch (caught) {
        return caught;
      }
    })() as InvalidReleaseError;
    expect(InvalidReleaseError.isInstance(error)).toBe(true);
    expect(error.reason).toBe('already-released');
    expect(() => lease.destroy()).toThrow(InvalidReleaseError);
    expect(pool.getStats()).toEqual(before);
  });

  it('refuses a foreign connection or a wrong id in releaseConnection', async () => {
    const { pool } = createHarness();
    const { connection, id } = await pool.acquire();
    const before = pool.getStats();
    const stranger = { id: 99 } as unknown as FakeConnection;
    expect(() => pool.releaseConnection(stranger, id)).toThrow(
      expect.objectContaining({ code: 'INVALID_RELEASE', reason: 'foreign-connection' }),
    );
    expect(() => pool.releaseConnection(connection, id + 1)).toThrow(
      expect.objectContaining({ reason: 'foreign-connection' }),
    );
    expect(pool.getStats()).toEqual(before);
    pool.releaseConnection(connection, id);
    const afterRelease = pool.getStats();
    expect(() => pool.releaseConnection(connection, id)).toThrow(
      expect.objectContaining({ reason: 'already-released' }),
    );
    expect(pool.getStats()).toEqual(afterRelease);
  });

  it('refuses a connection from another pool', async () => {
    const one = createHarness();
    const other = createHarness();
    const lease = await other.pool.acquire();
    expect(() => one.pool.releaseConnection(lease.connection, lease.id)).toThrow(
      expect.objectContaining({ reason: 'foreign-connection' }),
    );
    expect(other.pool.getStats().activeConnections).toBe(1);
  });

  it('throws when a released lease is used', async () => {
    const { pool } = createHarness();
    const lease = await pool.acquire();
    lease.release();
    expect(() => lease.connection).toThrow(
      expect.objectContaining({ code: 'INVALID_RELEASE', reason: 'use-after-release' }),
    );
  });
});

describe('destroy', () => {
  it('closes the connection and gives the waiter a new one', async () => {
    const { pool, driver, clock } = createHarness({ maxSize: 1 });
    const destroyed: PoolEvents['connectionDestroyed'][] = [];
    pool.on('connectionDestroyed', (event) => destroyed.push(event));
    const lease = await pool.acquire();
    const connection = lease.connection;
    const waiter = track(pool.acquire());
    const cause = new Error('socket hang up');
    lease.destroy(cause);
    await clock.flush();
    expect(waiter.status).toBe('fulfilled');
    expect(waiter.value?.isNew).toBe(true);
    expect(driver.openConnections.has(connection)).toBe(false);
    expect(destroyed).toEqual([{ connectionId: 1, reason: 'destroyed-by-user', error: cause }]);
  });
});

describe('release work', () => {
  it('runs reset on release and discards a connection whose reset fails', async () => {
    const { pool, driver, clock } = createHarness({ driverOptions: { withReset: true } });
    const lease = await pool.acquire();
    const connection = lease.connection;
    connection.inTransaction = true;
    lease.release();
    expect(pool.getStats().idleConnections).toBe(0);
    await clock.flush();
    expect(connection.inTransaction).toBe(false);
    expect(pool.getStats().idleConnections).toBe(1);
    const again = await pool.acquire();
    driver.failNextResets(1);
    again.release();
    await clock.flush();
    expect(driver.openConnections.size).toBe(0);
    expect(pool.getStats()).toMatchObject({
      poolSize: 0,
      resetFailures: 1,
      destroyedByReason: expect.objectContaining({ 'reset-failed': 1 }),
    });
  });

  it('releases synchronously when the driver has no reset', async () => {
    const { pool } = createHarness();
    const lease = await pool.acquire();
    lease.release();
    expect(pool.getStats().idleConnections).toBe(1);
  });

  it('validates on release when asked, and discards what fails', async () => {
    const { pool, driver, clock } = createHarness({ validateOnRelease: true });
    const lease = await pool.acquire();
    lease.release();
    await clock.flush();
    expect(driver.counters.validate).toBe(1);
    expect(pool.getStats().idleConnections).toBe(1);
    const again = await pool.acquire();
    driver.kill(again.connection);
    again.release();
    await clock.flush();
    expect(pool.getStats()).toMatchObject({ poolSize: 0, validationFailures: 1 });
  });

  it('discards a connection the client noticed broke while leased', async () => {
    const { pool, driver } = createHarness();
    const lease = await pool.acquire();
    driver.kill(lease.connection, { noticed: true });
    lease.release();
    expect(pool.getStats()).toMatchObject({ poolSize: 0, destroyedByReason: { broken: 1 } });
  });
});

describe('withConnection', () => {
  it('releases after the callback and returns its result', async () => {
    const { pool } = createHarness();
    const result = await pool.withConnection(async (connection) => {
      await connection.query('SELECT 1');
      return 42;
    });
    expect(result).toBe(42);
    expect(pool.getStats()).toMatchObject({ idleConnections: 1, released: 1 });
  });

  it('releases and rethrows on a query error, destroys on a connection-class error', async () => {
    const { pool, driver } = createHarness();
    const queryError = new FakeDriverError('query', 'syntax error');
    await expect(
      pool.withConnection(() => {
        throw queryError;
      }),
    ).rejects.toBe(queryError);
    expect(pool.getStats().idleConnections).toBe(1);
    await expect(
      pool.withConnection(async (connection) => {
        driver.kill(connection);
        await connection.query();
      }),
    ).rejects.toMatchObject({ reason: 'connection' });
    expect(pool.getStats()).toMatchObject({
      poolSize: 0,
      destroyedByReason: expect.objectContaining({ 'destroyed-by-user': 1 }),
    });
  });

  it('passes the caller signal to the callback', async () => {
    const { pool } = createHarness();
    const controller = new AbortController();
    const seen = await pool.withConnection((_connection, { signal }) => signal, {
      signal: controller.signal,
    });
    expect(seen).toBe(controller.signal);
  });
});

describe('await using', () => {
  it('releases the lease at the end of the block', async () => {
    const { pool } = createHarness();
    {
      await using lease = await pool.acquire();
      expect(lease.connection.closed).toBe(false);
      expect(pool.getStats().activeConnections).toBe(1);
    }
    expect(pool.getStats()).toMatchObject({ activeConnections: 0, idleConnections: 1 });
  });

  it('is a no-op for a lease released inside the block', async () => {
    const { pool } = createHarness();
    {
      await using lease = await pool.acquire();
      lease.release();
    }
    expect(pool.getStats()).toMatchObject({ released: 1, idleConnections: 1 });
  });

  it('closes the pool with await using', async () => {
    const { driver, clock } = createHarness();
    {
      await using pool = createPool({ driver, clock });
      (await pool.acquire()).release();
    }
    expect(driver.openConnections.size).toBe(0);
  });
});

describe('leak detection', () => {
  it('warns with the acquirer stack when a lease is held too long, once', async () => {
    const logger = spyLogger();
    const { pool, clock } = createHarness({ ...NO_BACKGROUND, leakDetectionMs: 1_000, logger });
    const leaks: PoolEvents['leakDetected'][] = [];
    pool.on('leakDetected', (event) => leaks.push(event));
    const lease = await pool.acquire();
    await clock.advanceAsync(999);
    expect(leaks).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ connectionId: 1, leaseId: lease.id, heldMs: 1_000 });
    expect(leaks[0]?.stack).toContain('enhanced-connection-pool.test.ts');
    const warning = logger.lines.find((line) => line.includes('possible leak'));
    expect(warning).toContain('enhanced-connection-pool.test.ts');
    await clock.advanceAsync(10_000);
    expect(pool.getStats().leaks).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runs no leak timer when off, and none while no lease is held', async () => {
    const off = createHarness(NO_BACKGROUND);
    await off.pool.acquire();
    expect(off.clock.pendingTimers()).toBe(0);
    const on = createHarness({ ...NO_BACKGROUND, leakDetectionMs: 1_000 });
    const lease = await on.pool.acquire();
    expect(on.clock.pendingTimers()).toBe(1);
    lease.release();
    await on.clock.advanceAsync(1_000);
    expect(on.pool.getStats().leaks).toBe(0);
    expect(on.clock.pendingTimers()).toBe(1); // the idle reaper only
  });
});

describe('events', () => {
  it('reports creation, hand-out, return and timeouts with their figures', async () => {
    const { pool, clock, driver } = createHarness({
      maxSize: 1,
      acquireTimeoutMs: 1_000,
      driverOptions: { connectLatencyMs: 30 },
    });
    const seen: string[] = [];
    pool.on('connectionCreated', (event) => seen.push(`created ${event.durationMs}`));
    pool.on('acquired', (event) => seen.push(`acquired ${event.waitMs} new=${event.isNew}`));
    pool.on('released', (event) => seen.push(`released ${event.holdMs}`));
    pool.on('acquireTimeout', (event) => seen.push(`timeout ${event.error.waitedMs}`));
    const subscription = pool.on('connectError', (event) => seen.push(`error ${event.reason}`));
    const first = track(pool.acquire());
    await clock.advanceAsync(30);
    const waiter = track(pool.acquire());
    await clock.advanceAsync(1_000);
    first.value?.release();
    expect(waiter.status).toBe('rejected');
    subscription.dispose();
    (await pool.acquire()).destroy();
    driver.failNextConnects(1, 'authentication');
    const failing = track(pool.acquire());
    await clock.advanceAsync(30);
    expect(failing.status).toBe('rejected');
    expect(seen).toEqual([
      'created 30',
      'acquired 30 new=true',
      'timeout 1000',
      'released 1000',
      'acquired 0 new=false',
      'released 0',
    ]);
    expect(pool.getStats().connectErrors).toBe(1);
  });

  it('reports connect errors with the reason', async () => {
    const { pool, driver, clock } = createHarness();
    const errors: PoolEvents['connectError'][] = [];
    pool.on('connectError', (event) => errors.push(event));
    driver.failNextConnects(1, 'resource-exhausted');
    const waiter = track(pool.acquire());
    await clock.flush();
    expect(errors).toHaveLength(1);
    // Retried after its backoff step; the caller never saw the failure.
    await clock.advanceAsync(100);
    expect(waiter.status).toBe('fulfilled');
    expect(errors[0]?.reason).toBe('resource-exhausted');
    expect(ConnectError.isInstance(errors[0]?.error)).toBe(true);
  });
});

describe('secrets', () => {
  it('keeps credentials out of logs and util.inspect', async () => {
    const logger = spyLogger();
    const { driver, clock } = createHarness();
    const secretive = Object.assign(Object.create(driver) as typeof driver, {
      config: { password: 'hunter2' },
      connect: () =>
        Promise.reject(new FakeDriverError('authentication', 'bad login: password=hunter2')),
    }) satisfies Driver<FakeConnection>;
    const pool = createPool({ driver: secretive, clock, logger });
    await pool.acquire().catch(() => undefined);
    expect(logger.lines.join('\n')).not.toContain('hunter2');
    expect(logger.lines.join('\n')).toContain('authentication');
    expect(inspect(pool, { depth: 10 })).not.toContain('hunter2');
    expect(inspect(pool)).toContain('EnhancedConnectionPool');
    const lease = await createHarness().pool.acquire();
    expect(inspect(lease)).toMatch(/^Lease \{ id: \d+, connectionId: 1, state: 'active' \}$/);
  });
});
