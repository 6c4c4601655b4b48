import { CircuitOpenError, InvalidOptionError } from '@enhanced-pool/core';
import { FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createHarness, recordConnectTimes, track, warm } from '../test/pool-harness.js';

/**
 * Recovery without errors to callers: the outage grace (callers wait for the breaker's probe
 * early in an outage), suspicion (idle siblings of a dead connection are validated before
 * their next use) and `withConnection({ idempotent: true })`. `random: () => 0.5` makes every
 * jittered delay exactly half its ceiling, so the schedule below is exact:
 * connects at 0, 10, 30, 70, 120 (the 5th failure opens the breaker for 10.5 ms), probes after
 * open periods of 1 + 0.5 × (min(100, 20 · 2^(k−1)) − 1) = 10.5, 20.5, 40.5, 50.5, 50.5, … ms.
 */

describe('outage grace', () => {
  it('holds a caller that needs a connection while the outage is young and serves it after the probe succeeds', async () => {
    const { pool, driver, clock } = createHarness({ random: () => 0.5, acquireTimeoutMs: 5_000 });
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(120);
    expect(pool.connCircuitBreaker?.getState()).toBe('open');
    expect(waiter.status).toBe('pending');
    const late = track(pool.acquire());
    await clock.advanceAsync(300);
    expect([waiter.status, late.status]).toEqual(['pending', 'pending']);
    expect(pool.getStats().circuitRejections).toBe(0);

    driver.failConnects(undefined);
    await clock.advanceAsync(60);
    expect([waiter.status, late.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(pool.connCircuitBreaker?.getState()).toBe('closed');
    expect(pool.getStats()).toMatchObject({ circuitRejections: 0, timeouts: 0, pending: 0 });
  });

  it('makes one connect per probe however many callers wait', async () => {
    const harness = createHarness({ random: () => 0.5, maxSize: 10, acquireTimeoutMs: 5_000 });
    const { pool, driver, clock } = harness;
    const times = recordConnectTimes(harness);
    driver.failConnects('connection');
    const waiters = [track(pool.acquire())];
    await clock.flush();
    for (let index = 0; index < 49; index++) waiters.push(track(pool.acquire()));
    await clock.advanceAsync(1_000);
    // 4 connects before the breaker opened, then one per open period (after 10.5, 20.5, 40.5,
    // then 50.5 ms each, plus the instant of the failed probe).
    const gaps = times.slice(1).map((at, index) => at - (times[index] as number));
    expect(times.slice(0, 5)).toEqual([0, 10, 30, 70, 120]);
    for (const gap of gaps.slice(4)) expect(gap).toBeGreaterThanOrEqual(10.5);
    expect(times.length).toBeLessThanOrEqual(5 + Math.ceil((1_000 - 120) / 10.5));
    expect(times.length).toBeGreaterThan(15);
    expect(waiters.every((waiter) => waiter.status === 'pending')).toBe(true);
    expect(pool.getStats().connecting).toBeLessThanOrEqual(1);
  });

  it('refuses callers at once once the outage is older than the grace, and those it held at the grace end', async () => {
    const { pool, driver, clock } = createHarness({
      random: () => 0.5,
      acquireTimeoutMs: 10_000,
      outageGraceMs: 1_000,
    });
    driver.failConnects('connection');
    const held = track(pool.acquire());
    await clock.advanceAsync(999);
    expect(held.status).toBe('pending');
    await clock.advanceAsync(1);
    expect(held.status).toBe('rejected');
    expect(CircuitOpenError.isInstance(held.error)).toBe(true);

    const after = track(pool.acquire());
    await clock.flush();
    expect(after.status).toBe('rejected');
    expect(CircuitOpenError.isInstance(after.error)).toBe(true);
    expect(pool.getStats().circuitRejections).toBe(2);
  });

  it('fails at once a caller whose deadline comes before the next probe', async () => {
    const { pool, driver, clock } = createHarness({
      random: () => 0.5,
      acquireTimeoutMs: 130,
      maxSize: 1,
    });
    driver.failConnects('connection');
    const first = track(pool.acquire());
    await clock.advanceAsync(120);
    // Opened at 120 for 10.5 ms: the probe is due at 130.5, after this caller's deadline (130).
    expect(first.status).toBe('rejected');
    expect(CircuitOpenError.isInstance(first.error)).toBe(true);
  });

  it('never holds callers for a fatal hold or an isolated breaker', async () => {
    const fatal = createHarness({ random: () => 0.5 });
    fatal.driver.failConnects('authentication');
    const refused = track(fatal.pool.acquire());
    await fatal.clock.flush();
    expect(refused.status).toBe('rejected');

    const isolated = createHarness({ random: () => 0.5 });
    isolated.pool.connCircuitBreaker?.isolate();
    const blocked = track(isolated.pool.acquire());
    await isolated.clock.flush();
    expect(blocked.status).toBe('rejected');
    expect(CircuitOpenError.isInstance(blocked.error)).toBe(true);
  });

  it('with outageGraceMs 0 fails fast as soon as the breaker opens', async () => {
    const { pool, driver, clock } = createHarness({ random: () => 0.5, outageGraceMs: 0 });
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(120);
    expect(waiter.status).toBe('rejected');
  });

  it('starts a new grace for the next outage', async () => {
    const { pool, driver, clock } = createHarness({ random: () => 0.5, outageGraceMs: 500 });
    driver.failConnects('connection');
    const first = track(pool.acquire());
    await clock.advanceAsync(500);
    expect(first.status).toBe('rejected');
    driver.failConnects(undefined);
    await clock.advanceAsync(200);
    const lease = await pool.acquire();
    lease.release();

    driver.killAll({ noticed: true });
    driver.failConnects('connection');
    await clock.advanceAsync(10_000);
    const second = track(pool.acquire());
    await clock.advanceAsync(400);
    expect(second.status).toBe('pending');
    await clock.advanceAsync(100);
    expect(second.status).toBe('rejected');
  });

  it('counts a connect that hangs past its deadline as a timeout, so a black-holed database opens the breaker', async () => {
    const { pool, driver, clock } = createHarness({
      acquireTimeoutMs: 1_000,
      outageGraceMs: 0,
      random: () => 0.5,
    });
    driver.setConnectLatency(60_000);
    const opened: number[] = [];
    pool.connCircuitBreaker?.on('stateChange', (event) => {
      if (event.to === 'open') opened.push(clock.now());
    });
    const timedOut: unknown[] = [];
    for (let index = 0; index < 5; index++) {
      const waiter = track(pool.acquire());
      await clock.advanceAsync(1_100);
      expect(waiter.status).toBe('rejected');
      timedOut.push(waiter.error);
    }
    expect(pool.getStats().connectErrors).toBe(5);
    expect(opened).toHaveLength(1);
    for (const error of timedOut) expect(error).toMatchObject({ code: 'ACQUIRE_TIMEOUT' });
  });

  it('leaves no timer behind once the outage is over', async () => {
    const { pool, driver, clock } = createHarness({
      random: () => 0.5,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
    });
    driver.failConnects('connection');
    const waiter = track(pool.acquire());
    await clock.advanceAsync(300);
    driver.failConnects(undefined);
    await clock.advanceAsync(60);
    expect(waiter.status).toBe('fulfilled');
    waiter.value?.release();
    await clock.advanceAsync(5_000);
    expect(clock.pendingTimers()).toBeLessThanOrEqual(1);
  });
});

describe('suspicion after a connection dies', () => {
  it('validates the other idle connections before their next hand-out', async () => {
    const harness = createHarness({ maxSize: 4 });
    const { pool, driver, clock } = harness;
    await warm(harness, 4);
    driver.killAll();
    const validationsBefore = driver.counters.validate;

    const first = track(pool.withConnection((connection) => connection.query('SELECT 1')));
    await clock.flush();
    expect(first.status).toBe('rejected');
    expect(pool.getStats().suspected).toBe(3);

    const burst = Array.from({ length: 4 }, () =>
      track(pool.withConnection((connection) => connection.query('SELECT 1'))),
    );
    await clock.flush();
    for (const call of burst) expect(call.status).toBe('fulfilled');
    expect(driver.counters.validate - validationsBefore).toBe(3);
    expect(pool.getStats()).toMatchObject({ validationFailures: 3, poolSize: 4 });
    expect(driver.openConnections.size).toBe(4);
  });

  it('hands out recently used connections without a round trip when nothing died', async () => {
    const harness = createHarness({ maxSize: 4 });
    await warm(harness, 4);
    const before = harness.driver.counters.validate;
    await Promise.all(
      Array.from({ length: 4 }, () =>
        harness.pool.withConnection((connection) => connection.query('SELECT 1')),
      ),
    );
    expect(harness.driver.counters.validate).toBe(before);
    expect(harness.pool.getStats().suspected).toBe(0);
  });

  it('suspects the idle ones when a lease reports a connection error or a broken socket is found', async () => {
    const harness = createHarness({ maxSize: 3 });
    const { pool, driver } = harness;
    await warm(harness, 3);
    const lease = await pool.acquire();
    expect(lease.reportError(new FakeDriverError('connection'))).toBe('connection');
    expect(pool.getStats().suspected).toBe(2);
    lease.release();
    expect(driver.openConnections.size).toBe(2);

    const other = createHarness({ maxSize: 3 });
    await warm(other, 3);
    other.driver.kill(other.driver.allConnections[2]!, { noticed: true });
    const taken = await other.pool.acquire();
    // The newest idle connection was found broken and closed; the rest became suspects and
    // the one handed out was validated first.
    expect(other.pool.getStats()).toMatchObject({ suspected: 2 });
    expect(other.driver.counters.validate).toBe(1);
    taken.release();
    expect(other.driver.openConnections.size).toBe(2);
  });

  it('respects validateAfterIdleMs: Infinity (never validate)', async () => {
    const harness = createHarness({ maxSize: 2, validateAfterIdleMs: Infinity });
    await warm(harness, 2);
    harness.driver.killAll();
    await harness.pool
      .withConnection((connection) => connection.query('SELECT 1'))
      .catch(() => undefined);
    expect(harness.pool.getStats().suspected).toBe(0);
  });
});

describe('withConnection({ idempotent: true })', () => {
  it('runs the callback once more on a validated or new connection after a stale-socket failure', async () => {
    const harness = createHarness({ maxSize: 2 });
    const { pool, driver, clock } = harness;
    await warm(harness, 2);
    driver.killAll();
    const attempts: number[] = [];
    const call = track(
      pool.withConnection(
        async (connection) => {
          attempts.push(connection.id);
          await connection.query('SELECT 1');
          return connection.id;
        },
        { idempotent: true },
      ),
    );
    await clock.flush();
    expect(call.status).toBe('fulfilled');
    expect(attempts).toHaveLength(2);
    // The second run got a new connection: the other idle one failed its validation.
    expect(call.value).toBe(3);
    expect(pool.getStats()).toMatchObject({ retries: 1, validationFailures: 1 });
  });

  it('also retries on a connection opened earlier and never lent, handed out from idle', async () => {
    const { pool, driver, clock } = createHarness({ minSize: 2, maxSize: 2 });
    await pool.ready();
    driver.killAll();
    let runs = 0;
    const call = track(
      pool.withConnection(
        async (connection) => {
          runs++;
          await connection.query('SELECT 1');
        },
        { idempotent: true },
      ),
    );
    await clock.flush();
    expect(call.status).toBe('fulfilled');
    expect(runs).toBe(2);
  });

  it('retries at most once', async () => {
    const harness = createHarness({ maxSize: 2 });
    await warm(harness, 2);
    let runs = 0;
    const call = track(
      harness.pool.withConnection(
        () => {
          runs++;
          throw new FakeDriverError('connection');
        },
        { idempotent: true },
      ),
    );
    await harness.clock.flush();
    expect(call.status).toBe('rejected');
    expect(runs).toBe(2);
    expect(harness.pool.getStats().retries).toBe(1);
  });

  it('does not retry without the option, for other reasons, or on a new or validated connection', async () => {
    const plain = createHarness({ maxSize: 2 });
    await warm(plain, 2);
    plain.driver.killAll();
    let runs = 0;
    await plain.pool
      .withConnection(async (connection) => {
        runs++;
        await connection.query();
      })
      .catch(() => undefined);
    expect(runs).toBe(1);

    const query = createHarness({ maxSize: 2 });
    await warm(query, 2);
    runs = 0;
    await query.pool
      .withConnection(
        () => {
          runs++;
          throw new FakeDriverError('query');
        },
        { idempotent: true },
      )
      .catch(() => undefined);
    expect(runs).toBe(1);

    const fresh = createHarness({ maxSize: 2 });
    runs = 0;
    await fresh.pool
      .withConnection(
        () => {
          runs++;
          throw new FakeDriverError('connection');
        },
        { idempotent: true },
      )
      .catch(() => undefined);
    expect(runs).toBe(1);

    const validated = createHarness({ maxSize: 2, validateAfterIdleMs: 0 });
    await warm(validated, 1);
    runs = 0;
    await validated.pool
      .withConnection(
        () => {
          runs++;
          throw new FakeDriverError('connection');
        },
        { idempotent: true },
      )
      .catch(() => undefined);
    expect(runs).toBe(1);
  });

  it('refuses a non-boolean idempotent', async () => {
    const { pool } = createHarness();
    const error = await pool
      .withConnection(() => 1, { idempotent: 'yes' as unknown as boolean })
      .catch((caught: unknown) => caught);
    expect(InvalidOptionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ option: 'idempotent', value: 'yes' });
  });
});
