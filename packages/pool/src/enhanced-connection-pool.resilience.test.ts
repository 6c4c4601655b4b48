import { AcquireTimeoutError, CircuitOpenError, ConnectError } from '@enhanced-pool/core';
import { FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { advanceUntil, createHarness, recordConnectTimes, track } from '../test/pool-harness.js';

/**
 * Connection creation that survives outages (issue 5): backoff with full jitter, the breaker
 * in front of `driver.connect()`, the fatal-error hold, and connections retired for errors.
 * `random: () => 0.5` makes every jittered delay exactly half its ceiling.
 */

describe('connect backoff', () => {
  it('retries on an exponential schedule with full jitter, capped', async () => {
    const harness = createHarness({ random: () => 0.5, circuitBreaker: false });
    const { pool, driver, clock } = harness;
    const times = recordConnectTimes(harness);
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(400);
    // Delays are 0.5 × min(100, 20 · 2^(n−1)): 10, 20, 40, then 50 for ever.
    expect(times).toEqual([0, 10, 30, 70, 120, 170, 220, 270, 320, 370]);
    expect(waiter.status).toBe('pending');
    expect(pool.getStats()).toMatchObject({ connectAttempts: 10, connectErrors: 10 });
  });

  it('draws each delay uniformly below its ceiling from the injected random source', async () => {
    const draws = [0.1, 0.9, 0.25];
    const harness = createHarness({ random: () => draws.shift() ?? 0, circuitBreaker: false });
    const times = recordConnectTimes(harness);
    harness.driver.failConnects('connection');
    track(harness.pool.acquire());
    await harness.clock.advanceAsync(60);
    // 0.1 × 20 = 2, 0.9 × 40 = 36, 0.25 × 80 = 20 (then 0 × 100 = 0).
    expect(times.slice(0, 4)).toEqual([0, 2, 38, 58]);
  });

  it('makes one attempt per backoff step however many callers wait', async () => {
    const harness = createHarness({ random: () => 0.5, circuitBreaker: false, maxSize: 10 });
    const { pool, driver, clock } = harness;
    const times = recordConnectTimes(harness);
    driver.failConnects('connection');
    const waiters = [track(pool.acquire())];
    await clock.flush();
    for (let index = 0; index < 19; index++) waiters.push(track(pool.acquire()));
    await clock.advanceAsync(400);
    expect(times).toEqual([0, 10, 30, 70, 120, 170, 220, 270, 320, 370]);
    expect(pool.getStats()).toMatchObject({ pending: 20, connecting: 0 });

    driver.failConnects(undefined);
    await clock.advanceAsync(50);
    // Recovered: the rest were opened together, not one per step, up to maxSize.
    expect(driver.openConnections.size).toBe(10);
    expect(waiters.filter((waiter) => waiter.status === 'fulfilled')).toHaveLength(10);
    for (const waiter of waiters.slice(0, 10)) waiter.value?.release();
    await clock.flush();
    for (const waiter of waiters) expect(waiter.status).toBe('fulfilled');
  });

  it('fails waiters at their deadline, caused by the last connect error, without the breaker', async () => {
    const { pool, driver, clock } = createHarness({
      circuitBreaker: false,
      acquireTimeoutMs: 1_000,
      random: () => 0.5,
    });
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(1_000);
    expect(AcquireTimeoutError.isInstance(waiter.error)).toBe(true);
    expect(ConnectError.isInstance((waiter.error as Error).cause)).toBe(true);
  });

  it('arms no timer for a backoff step nobody waits for', async () => {
    const { pool, driver, clock } = createHarness({
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
      acquireTimeoutMs: 1_000,
      circuitBreaker: false,
    });
    driver.failNextConnects(1);
    const controller = new AbortController();
    const waiter = track(pool.acquire({ signal: controller.signal }));
    await clock.flush();
    expect(clock.pendingTimers()).toBe(2); // the queue deadline and the backoff step
    controller.abort(new Error('gone'));
    await clock.advanceAsync(1_000);
    expect(waiter.status).toBe('rejected');
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('connection breaker', () => {
  it('opens after 5 unreachable failures in a row and fails the waiter fast', async () => {
    const { pool, driver, clock } = createHarness({ outageGraceMs: 0, random: () => 0.5 });
    const breaker = pool.connCircuitBreaker;
    expect(breaker?.getState()).toBe('closed');
    driver.failConnects('connection');
    const first = track(pool.acquire());
    await clock.advanceAsync(119);
    expect(first.status).toBe('pending');
    expect(driver.counters.connect).toBe(4);
    await clock.advanceAsync(1);
    expect(driver.counters.connect).toBe(5);
    expect(breaker?.getState()).toBe('open');
    expect(first.status).toBe('rejected');
    const error = first.error as CircuitOpenError;
    expect(CircuitOpenError.isInstance(error)).toBe(true);
    // The first open period: 1 + 0.5 × (20 − 1) ms (exponentialBackoff's floor is 1 ms).
    expect(error.retryAfterMs).toBe(10.5);
    expect(ConnectError.isInstance(error.cause)).toBe(true);
    expect((error.cause as ConnectError).reason).toBe('connection');
  });

  it('refuses a caller that needs a new connection at once, with retryAfterMs', async () => {
    const { pool, driver, clock } = createHarness({ outageGraceMs: 0, random: () => 0.5 });
    driver.failConnects('connection');
    track(pool.acquire());
    await clock.advanceAsync(124);
    const refused = track(pool.acquire());
    await clock.flush();
    expect(refused.status).toBe('rejected');
    // Open from 120 ms for 10.5 ms.
    expect((refused.error as CircuitOpenError).retryAfterMs).toBe(6.5);
    expect((refused.error as Error).message).toBe(
      'Pool "pool": connection circuit is open; retry after 7 ms',
    );
    expect(driver.counters.connect).toBe(5);
    expect(pool.getStats()).toMatchObject({ circuitRejections: 2, breakerState: 'open' });
  });

  it('still serves idle connections while open', async () => {
    const { pool, driver, clock } = createHarness({ outageGraceMs: 0, random: () => 0.5 });
    const first = await pool.acquire();
    const second = await pool.acquire();
    driver.failConnects('connection');
    const needsNew = track(pool.acquire());
    await clock.advanceAsync(120);
    expect(CircuitOpenError.isInstance(needsNew.error)).toBe(true);
    expect(pool.connCircuitBreaker?.getState()).toBe('open');

    const connection = first.connection;
    first.release();
    const fromIdle = await pool.acquire();
    expect(fromIdle.connection).toBe(connection);
    const refused = track(pool.acquire());
    await clock.flush();
    expect(CircuitOpenError.isInstance(refused.error)).toBe(true);
    fromIdle.release();
    second.release();
  });

  it('lets a waiter at a full pool wait for a release instead of failing it', async () => {
    const { pool, driver, clock } = createHarness({
      outageGraceMs: 0,
      random: () => 0.5,
      maxSize: 1,
    });
    const held = await pool.acquire();
    held.destroy();
    driver.failConnects('connection');
    track(pool.acquire());
    await clock.advanceAsync(120);
    expect(pool.connCircuitBreaker?.getState()).toBe('open');
    driver.failConnects(undefined);
    await clock.advanceAsync(20);
    const probe = await pool.acquire(); // the probe connect, after the open period
    const waiter = track(pool.acquire()); // at maxSize: no new connection would be opened
    await clock.flush();
    expect(waiter.status).toBe('pending');
    probe.release();
    await clock.flush();
    expect(waiter.status).toBe('fulfilled');
  });

  it('sends one probe when half-open, queues callers behind it, then refills', async () => {
    const { pool, driver, clock } = createHarness({
      outageGraceMs: 0,
      minSize: 3,
      random: () => 0.5,
      driverOptions: { connectLatencyMs: 10 },
    });
    const breaker = pool.connCircuitBreaker;
    const transitions: string[] = [];
    breaker?.on('stateChange', (event) => transitions.push(`${event.to}@${clock.now()}`));
    driver.failConnects('connection');
    // 3 warm-up connects fail at 10, then one attempt per step until 5 failures in a row.
    await advanceUntil(clock, () => breaker?.getState() === 'open', 'breaker open');
    const attemptsWhenOpened = driver.counters.connect;
    expect(attemptsWhenOpened).toBe(5);
    const refused = track(pool.acquire());
    await clock.flush();
    expect(CircuitOpenError.isInstance(refused.error)).toBe(true);

    // The pool wakes itself to keep minSize: one probe once the open period ends.
    await advanceUntil(clock, () => breaker?.getState() === 'half-open', 'breaker half-open');
    expect(driver.counters.connect).toBe(attemptsWhenOpened + 1);
    const waiters = [track(pool.acquire()), track(pool.acquire())];
    await clock.flush();
    expect(driver.counters.connect).toBe(attemptsWhenOpened + 1);
    expect(waiters.map((waiter) => waiter.status)).toEqual(['pending', 'pending']);

    driver.failConnects(undefined);
    await clock.advanceAsync(10);
    expect(breaker?.getState()).toBe('closed');
    await clock.advanceAsync(10);
    expect(waiters.map((waiter) => waiter.status)).toEqual(['fulfilled', 'fulfilled']);
    for (const waiter of waiters) waiter.value?.release();
    expect(pool.getStats()).toMatchObject({ poolSize: 3, idleConnections: 3 });
    expect(transitions.map((entry) => entry.split('@')[0])).toEqual([
      'open',
      'half-open',
      'closed',
    ]);
  });

  it('reopens when the probe fails and fails the callers that waited for it', async () => {
    const { pool, driver, clock } = createHarness({
      outageGraceMs: 0,
      random: () => 0.5,
      driverOptions: { connectLatencyMs: 10 },
    });
    const breaker = pool.connCircuitBreaker;
    driver.failConnects('connection');
    track(pool.acquire());
    await advanceUntil(clock, () => breaker?.getState() === 'open', 'breaker open');
    await clock.advanceAsync(20);
    const probeFor = track(pool.acquire());
    const behind = track(pool.acquire());
    await clock.flush();
    expect(breaker?.getState()).toBe('half-open');
    await clock.advanceAsync(10);
    expect(breaker?.getState()).toBe('open');
    expect(CircuitOpenError.isInstance(probeFor.error)).toBe(true);
    expect(CircuitOpenError.isInstance(behind.error)).toBe(true);
  });

  it('never counts a query error, on a connection or on connect', async () => {
    const { pool, clock } = createHarness({ random: () => 0.5 });
    for (let round = 0; round < 20; round++) {
      await expect(
        pool.withConnection(() => {
          throw new FakeDriverError('query', 'duplicate key');
        }),
      ).rejects.toThrow('duplicate key');
    }
    expect(pool.getStats()).toMatchObject({ poolSize: 1, breakerState: 'closed' });

    const other = createHarness({ random: () => 0.5 });
    other.driver.failConnects('query');
    for (let round = 0; round < 10; round++) {
      const caller = track(other.pool.acquire());
      await other.clock.advanceAsync(100);
      // Retrying would not help this caller: it gets the error now, not at its deadline.
      expect((caller.error as ConnectError).reason).toBe('query');
    }
    expect(other.pool.connCircuitBreaker?.getState()).toBe('closed');
    expect(other.pool.connCircuitBreaker?.metrics().failures).toBe(0);
    await clock.flush();
  });

  it('ignores unknown connect errors in the breaker but keeps backing off', async () => {
    const harness = createHarness({ random: () => 0.5, acquireTimeoutMs: 1_000 });
    const times = recordConnectTimes(harness);
    harness.driver.failConnects('unknown');
    const waiter = track(harness.pool.acquire());
    await harness.clock.advanceAsync(1_000);
    expect(harness.pool.connCircuitBreaker?.getState()).toBe('closed');
    expect(times.slice(0, 5)).toEqual([0, 10, 30, 70, 120]);
    expect(AcquireTimeoutError.isInstance(waiter.error)).toBe(true);
  });

  it('can be turned off', async () => {
    const { pool } = createHarness({ circuitBreaker: false });
    expect(pool.connCircuitBreaker).toBeUndefined();
    expect(pool.getStats().breakerState).toBe('disabled');
    expect(pool.isReady()).toBe(true);
  });

  it('takes breaker options, validated under the circuitBreaker name', () => {
    const { pool } = createHarness({
      circuitBreaker: { window: { kind: 'consecutive', failures: 2 }, halfOpenPermits: 2 },
    });
    expect(pool.connCircuitBreaker?.name).toBe('pool');
    expect(() =>
      createHarness({ circuitBreaker: { window: { kind: 'consecutive', failures: 0 } } }),
    ).toThrow('Invalid option "circuitBreaker.window.failures": got 0, expected an integer ≥ 1');
  });
});

describe('authentication and configuration failures', () => {
  it('fail the first caller and every queued one at once, and hold creation off', async () => {
    const { pool, driver, clock } = createHarness({
      maxSize: 1,
      driverOptions: { connectLatencyMs: 10 },
    });
    driver.failConnects('authentication');
    const callers = [track(pool.acquire()), track(pool.acquire()), track(pool.acquire())];
    await clock.advanceAsync(10);
    for (const caller of callers) {
      expect(caller.status).toBe('rejected');
      expect(ConnectError.isInstance(caller.error)).toBe(true);
      expect((caller.error as ConnectError).reason).toBe('authentication');
    }
    expect(driver.counters.connect).toBe(1);
    expect(pool.connCircuitBreaker?.getState()).toBe('isolated');
    expect(pool.isReady()).toBe(false);
    expect(pool.isLive()).toBe(true);
    expect(pool.readiness().reasons.join(' ')).toContain('authentication');

    // No retry storm: later callers get the same error without a connect.
    for (let round = 0; round < 10; round++) {
      const later = track(pool.acquire());
      await clock.advanceAsync(1_000);
      expect((later.error as ConnectError).reason).toBe('authentication');
    }
    expect(driver.counters.connect).toBe(1);

    // After connectBackoff.fatalMs, one new attempt, on demand.
    await clock.advanceAsync(20_000);
    expect(pool.connCircuitBreaker?.getState()).toBe('closed');
    expect(driver.counters.connect).toBe(1);
    const retry = track(pool.acquire());
    await clock.advanceAsync(10);
    expect((retry.error as ConnectError).reason).toBe('authentication');
    expect(driver.counters.connect).toBe(2);
  });

  it('lifts the hold when the breaker is reset (the credentials were fixed)', async () => {
    const { pool, driver, clock } = createHarness();
    driver.failConnects('configuration');
    const first = track(pool.acquire());
    await clock.flush();
    expect((first.error as ConnectError).reason).toBe('configuration');
    driver.failConnects(undefined);
    pool.connCircuitBreaker?.reset();
    await clock.flush();
    expect(pool.isReady()).toBe(true);
    const lease = await pool.acquire();
    expect(lease.isNew).toBe(true);
  });

  it('holds creation off without a breaker too', async () => {
    const { pool, driver, clock } = createHarness({
      circuitBreaker: false,
      connectBackoff: { fatalMs: 5_000 },
    });
    driver.failConnects('authentication');
    await pool.acquire().catch(() => undefined);
    const refused = track(pool.acquire());
    await clock.flush();
    expect((refused.error as ConnectError).reason).toBe('authentication');
    expect(pool.isReady()).toBe(false);
    expect(driver.counters.connect).toBe(1);
    await clock.advanceAsync(5_000);
    expect(pool.isReady()).toBe(true);
  });

  it('rejects ready() with the error while below minSize', async () => {
    const { pool, driver, clock } = createHarness({ minSize: 2 });
    driver.failConnects('authentication');
    const ready = track(pool.ready());
    await clock.flush();
    expect((ready.error as ConnectError).reason).toBe('authentication');
    expect(driver.counters.connect).toBe(2); // the two warm-up connects already in flight
    await clock.advanceAsync(29_000);
    expect(driver.counters.connect).toBe(2);
  });
});

describe('connections retired for their errors', () => {
  it('discards a connection after maxConnectionErrors timeouts, and only then', async () => {
    const { pool } = createHarness({ maxConnectionErrors: 3 });
    const timeout = (): never => {
      throw new FakeDriverError('timeout', 'query read timeout');
    };
    const first = await pool.withConnection((connection) => connection);
    for (let round = 0; round < 2; round++) {
      await expect(pool.withConnection(timeout)).rejects.toThrow('query read timeout');
      expect(pool.getStats().poolSize).toBe(1);
    }
    await expect(pool.withConnection(timeout)).rejects.toThrow('query read timeout');
    expect(pool.getStats()).toMatchObject({
      poolSize: 0,
      destroyedByReason: expect.objectContaining({ 'connection-errors': 1 }),
    });
    const next = await pool.withConnection((connection) => connection);
    expect(next).not.toBe(first);
    expect(first.closed).toBe(true);
  });

  it('discards at once on a connection error, whatever maxConnectionErrors says', async () => {
    const { pool, driver } = createHarness({ maxConnectionErrors: Infinity });
    await expect(
      pool.withConnection(async (connection) => {
        driver.kill(connection);
        await connection.query();
      }),
    ).rejects.toMatchObject({ reason: 'connection' });
    expect(pool.getStats().poolSize).toBe(0);
  });

  it('counts errors reported on a lease and retires the connection when it ends', async () => {
    const { pool } = createHarness({ maxConnectionErrors: 2 });
    const lease = await pool.acquire();
    const connection = lease.connection;
    expect(lease.reportError(new FakeDriverError('query'))).toBe('query');
    expect(lease.reportError(new FakeDriverError('timeout'))).toBe('timeout');
    lease.release();
    expect(pool.getStats().idleConnections).toBe(1);

    const again = await pool.acquire();
    expect(again.connection).toBe(connection);
    again.reportError(new FakeDriverError('timeout'));
    again.release();
    expect(pool.getStats()).toMatchObject({ poolSize: 0, idleConnections: 0 });

    const third = await pool.acquire();
    third.reportError(new FakeDriverError('connection'));
    third.release();
    expect(pool.getStats().destroyedByReason['connection-errors']).toBe(2);
    expect(() => third.reportError(new Error('late'))).toThrow(
      expect.objectContaining({ code: 'INVALID_RELEASE', reason: 'use-after-release' }),
    );
  });
});

describe('probes', () => {
  it('is live until closed, and ready unless the breaker is open', async () => {
    const { pool, driver, clock } = createHarness({ outageGraceMs: 0, random: () => 0.5 });
    expect(pool.isLive()).toBe(true);
    expect(pool.readiness()).toEqual({ ready: true, reasons: [] });
    driver.failConnects('connection');
    track(pool.acquire());
    await clock.advanceAsync(120);
    expect(pool.isReady()).toBe(false);
    expect(pool.isLive()).toBe(true);
    expect(pool.readiness().reasons).toEqual(['connection breaker is open']);
    await clock.advanceAsync(20);
    // Half-open: the next caller probes, so the pool counts as ready.
    expect(pool.isReady()).toBe(true);
    await pool.close();
    expect(pool.isLive()).toBe(false);
    expect(pool.readiness().reasons).toContain('pool is closed');
  });
});
