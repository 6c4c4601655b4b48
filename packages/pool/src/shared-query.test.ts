import {
  AcquireTimeoutError,
  InvalidOptionError,
  PoolClosedError,
  PoolExhaustedError,
} from '@enhanced-pool/core';
import type { FakeQueryResult } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createHarness, type HarnessOptions, track, warm } from '../test/pool-harness.js';
import { StatementRefusedError } from './statement-guard-error.js';

const NO_BACKGROUND = { healthCheckIntervalMs: 0, sizingIntervalMs: 0 } as const;

function setup(options: HarnessOptions = {}) {
  const harness = createHarness({ ...NO_BACKGROUND, ...options });
  const query = (text: string, values?: readonly unknown[], signal?: AbortSignal) =>
    harness.pool.query<FakeQueryResult>(text, values, signal ? { signal } : undefined);
  return { ...harness, query };
}

describe('pool.query()', () => {
  it("resolves with the driver's result and hands the shared connection back when done", async () => {
    const { pool, driver, clock, query } = setup({ driverOptions: { queryLatencyMs: 5 } });
    const pending = query('SELECT $1', [7]);
    await clock.flush();
    expect(pool.getQueryStats()).toMatchObject({ inFlight: 1, sharedConnections: 1 });
    expect(pool.getStats()).toMatchObject({ poolSize: 1, activeConnections: 1 });
    await clock.advanceAsync(5);
    await expect(pending).resolves.toEqual({
      connectionId: 1,
      text: 'SELECT $1',
      values: [7],
      inFlightAtSend: 1,
    });
    expect(pool.getQueryStats()).toMatchObject({
      inFlight: 0,
      queued: 0,
      sharedConnections: 0,
      succeeded: 1,
    });
    expect(pool.getStats()).toMatchObject({
      poolSize: 1,
      idleConnections: 1,
      activeConnections: 0,
    });
    await pool.close();
    expect(driver.openConnections.size).toBe(0);
  });

  it('pipelines many callers over the pool’s own connections, within the bound', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 3,
      query: { maxInFlightPerConnection: 4 },
      driverOptions: { queryLatencyMs: 2 },
    });
    const calls = Array.from({ length: 40 }, (_, index) => track(query(`SELECT ${index}`)));
    await clock.flush();
    expect(driver.allConnections).toHaveLength(3);
    expect(pool.getQueryStats()).toMatchObject({ inFlight: 12, queued: 28, sharedConnections: 3 });
    for (let step = 0; step < 40 && calls.some((call) => call.status === 'pending'); step++) {
      await clock.advanceAsync(2);
    }
    expect(calls.every((call) => call.status === 'fulfilled')).toBe(true);
    expect(driver.counters.maxInFlight).toBe(4);
    expect(new Set(calls.map((call) => call.value!.connectionId))).toEqual(new Set([1, 2, 3]));
    // First in, first out: the statements were answered in the order they were made.
    expect(calls.map((call) => call.value!.text)).toEqual(
      Array.from({ length: 40 }, (_, index) => `SELECT ${index}`),
    );
    expect(pool.getStats()).toMatchObject({ poolSize: 3, idleConnections: 3, destroyed: 0 });
    expect(pool.getQueryStats()).toMatchObject({ succeeded: 40, sharedConnections: 0 });
    await pool.close();
  });

  it('keeps a shared connection while its callers send again in the same turn', async () => {
    const { pool, clock, query } = setup({
      maxSize: 1,
      driverOptions: { queryLatencyMs: 1 },
    });
    // Each answer leaves nothing on the wire until its caller sends the next statement.
    const done = (async () => {
      for (let round = 0; round < 20; round++) await query('SELECT 1');
    })();
    let finished = false;
    void done.then(() => (finished = true));
    for (let step = 0; step < 100 && !finished; step++) await clock.advanceAsync(1);
    await done;
    // One borrow for the 20 statements, not one each.
    expect(pool.getStats().acquired).toBe(1);
    expect(pool.getQueryStats().succeeded).toBe(20);
    // A turn with nothing on its wire: the connection goes back.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(pool.getQueryStats().sharedConnections).toBe(0);
    expect(pool.getStats()).toMatchObject({ idleConnections: 1, activeConnections: 0 });
    await pool.close();
  });

  it('runs one statement per connection when the driver does not pipeline', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 2,
      driverOptions: { queryLatencyMs: 3, pipelining: false },
    });
    const calls = Array.from({ length: 6 }, (_, index) => track(query(`SELECT ${index}`)));
    await clock.flush();
    expect(pool.getQueryStats()).toMatchObject({ inFlight: 2, queued: 4 });
    for (let step = 0; step < 6; step++) await clock.advanceAsync(3);
    expect(calls.map((call) => call.status)).toEqual(Array(6).fill('fulfilled'));
    expect(driver.counters).toMatchObject({ maxInFlight: 1, queryFailures: 0 });
    await pool.close();
  });

  it('pipelines behind a busy connection only up to half the bound, then takes another', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 2,
      query: { maxInFlightPerConnection: 4 },
      driverOptions: { queryLatencyMs: (text) => (text === 'slow' ? 1_000 : 1) },
    });
    await warm({ pool, driver, clock }, 2);
    const slow = track(query('slow'));
    await clock.flush();
    // One goes behind the slow one (half the bound is 2 on the wire), the next ones elsewhere.
    const behind = track(query('fast'));
    const elsewhere = [track(query('fast')), track(query('fast'))];
    await clock.flush();
    expect(pool.getQueryStats().sharedConnections).toBe(2);
    await clock.advanceAsync(2);
    expect(elsewhere.map((call) => call.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(behind.status).toBe('pending');
    // The connection that answers takes the next statement, not the silent one.
    const next = track(query('fast'));
    await clock.advanceAsync(1);
    expect(next.status).toBe('fulfilled');
    expect(next.value!.connectionId).toBe(elsewhere[0]!.value!.connectionId);
    await clock.advanceAsync(1_000);
    expect([slow.status, behind.status]).toEqual(['fulfilled', 'fulfilled']);
    expect(behind.value!.connectionId).toBe(slow.value!.connectionId);
    await pool.close();
  });

  it('routes around a connection a slow statement holds, so it delays at most the bound', async () => {
    const { pool, clock, query } = setup({
      maxSize: 2,
      query: { maxInFlightPerConnection: 3 },
      driverOptions: { queryLatencyMs: (text) => (text === 'slow' ? 500 : 1) },
    });
    const slow = track(query('slow'));
    const first = track(query('fast'));
    await clock.flush();
    // Everything else arrives while both connections are busy: least loaded first.
    const rest = Array.from({ length: 20 }, () => track(query('fast')));
    for (let step = 0; step < 20; step++) await clock.advanceAsync(1);
    const behindSlow = [first, ...rest].filter((call) => call.status === 'pending');
    expect(behindSlow.length).toBeLessThanOrEqual(2);
    expect(slow.status).toBe('pending');
    await clock.advanceAsync(500);
    expect([slow, first, ...rest].every((call) => call.status === 'fulfilled')).toBe(true);
    await pool.close();
  });

  it('rejects a failing statement alone and keeps its connection', async () => {
    const { pool, driver, clock, query } = setup({ driverOptions: { queryLatencyMs: 1 } });
    driver.failNextQueries(1, 'query');
    const calls = [track(query('bad')), track(query('good')), track(query('good'))];
    await clock.advanceAsync(5);
    expect(calls.map((call) => call.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(driver.classifyError(calls[0]!.error)).toBe('query');
    expect(pool.getStats()).toMatchObject({ poolSize: 1, destroyed: 0 });
    expect(pool.getQueryStats()).toMatchObject({ failed: 1, succeeded: 2 });
    await pool.close();
  });

  it('a dying connection fails only what was on its wire; the pool replaces it', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 2,
      query: { maxInFlightPerConnection: 2 },
      driverOptions: { queryLatencyMs: 10 },
    });
    await warm({ pool, driver, clock }, 2);
    const calls = Array.from({ length: 6 }, (_, index) => track(query(`SELECT ${index}`)));
    await clock.flush();
    const [first, second] = driver.allConnections;
    expect(driver.inFlight(first!)).toBe(2);
    expect(driver.inFlight(second!)).toBe(2);
    driver.kill(first!);
    await clock.flush();
    const failed = calls.filter((call) => call.status === 'rejected');
    expect(failed).toHaveLength(2);
    for (const call of failed) expect(driver.classifyError(call.error)).toBe('connection');
    for (let step = 0; step < 5; step++) await clock.advanceAsync(10);
    expect(calls.filter((call) => call.status === 'fulfilled')).toHaveLength(4);
    expect(pool.getStats().destroyedByReason['connection-errors']).toBe(1);
    expect(driver.openConnections.has(first!)).toBe(false);
    expect(pool.getQueryStats()).toMatchObject({ failed: 2, succeeded: 4, inFlight: 0 });
    await pool.close();
    expect(driver.openConnections.size).toBe(0);
  });

  it('sends an idempotent statement again when its connection dies', async () => {
    const { pool, driver, clock } = setup({ driverOptions: { queryLatencyMs: 10 } });
    const retried = track(pool.query<FakeQueryResult>('SELECT 1', undefined, { idempotent: true }));
    const plain = track(pool.query('SELECT 2'));
    await clock.flush();
    driver.kill(driver.allConnections[0]!);
    await clock.advanceAsync(10);
    await clock.advanceAsync(10);
    expect(plain.status).toBe('rejected');
    expect(retried.status).toBe('fulfilled');
    expect(retried.value!.connectionId).toBe(2);
    expect(pool.getQueryStats()).toMatchObject({ retries: 1, failed: 1, succeeded: 1 });
    await pool.close();
  });

  it('refuses session-state statements before sending anything, pointing at leases', async () => {
    const { pool, driver, query } = setup();
    for (const text of ['BEGIN', '/* c */ SET search_path = x', 'SELECT 1; LISTEN jobs']) {
      const error = await query(text).catch((caught: unknown) => caught);
      expect(StatementRefusedError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: 'STATEMENT_REFUSED', reason: 'session-state' });
      expect((error as Error).message).toContain('withConnection');
    }
    expect(driver.counters.query).toBe(0);
    expect(pool.getStats().poolSize).toBe(0);
    expect(pool.getQueryStats().refused).toBe(3);
    await pool.close();
  });

  it('is refused on a driver without query(), and rejects bad arguments with typed errors', async () => {
    const { pool, query } = setup({ driverOptions: { withQuery: false } });
    await expect(query('SELECT 1')).rejects.toMatchObject({
      code: 'STATEMENT_REFUSED',
      reason: 'no-driver-query',
    });
    await expect(pool.query(42 as unknown as string)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(pool.query('SELECT 1', 'x' as unknown as unknown[])).rejects.toMatchObject({
      option: 'values',
    });
    await expect(
      pool.query('SELECT 1', [], { idempotent: 'yes' as unknown as boolean }),
    ).rejects.toMatchObject({ option: 'idempotent' });
    await pool.close();
  });

  it('honours the signal while queued: out of the queue at once, never sent', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 1,
      query: { maxInFlightPerConnection: 1 },
      driverOptions: { queryLatencyMs: 10 },
    });
    const first = track(query('SELECT 1'));
    const controller = new AbortController();
    const queued = track(query('SELECT 2', undefined, controller.signal));
    await clock.flush();
    expect(pool.getQueryStats().queued).toBe(1);
    controller.abort(new Error('gave up'));
    await clock.flush();
    expect(queued.status).toBe('rejected');
    expect((queued.error as Error).message).toBe('gave up');
    expect(pool.getQueryStats()).toMatchObject({ queued: 0, aborted: 1, dropped: 0 });
    await clock.advanceAsync(10);
    expect(first.status).toBe('fulfilled');
    expect(driver.counters.query).toBe(1);

    const already = new AbortController();
    already.abort(new Error('before'));
    await expect(query('SELECT 3', undefined, already.signal)).rejects.toThrow('before');
    await pool.close();
  });

  it('drops the result of a statement whose caller gave up after it was sent', async () => {
    const { pool, clock, query } = setup({ driverOptions: { queryLatencyMs: 10 } });
    const controller = new AbortController();
    const call = track(query('SELECT 1', undefined, controller.signal));
    await clock.flush();
    controller.abort(new Error('gave up'));
    await clock.flush();
    expect(call.status).toBe('rejected');
    expect(pool.getQueryStats()).toMatchObject({ inFlight: 1, sharedConnections: 1 });
    await clock.advanceAsync(10);
    expect(pool.getQueryStats()).toMatchObject({
      inFlight: 0,
      sharedConnections: 0,
      aborted: 1,
      dropped: 1,
      succeeded: 0,
    });
    expect(pool.getStats().idleConnections).toBe(1);
    await pool.close();
  });

  it('gives up after acquireTimeoutMs when no shared connection has room', async () => {
    const { pool, clock, query } = setup({
      maxSize: 1,
      acquireTimeoutMs: 100,
      query: { maxInFlightPerConnection: 1 },
      driverOptions: { queryLatencyMs: (text) => (text === 'stuck' ? 10_000 : 1) },
    });
    const stuck = track(query('stuck'));
    await clock.flush();
    const waiting = track(query('SELECT 1'));
    await clock.advanceAsync(99);
    expect(waiting.status).toBe('pending');
    await clock.advanceAsync(1);
    expect(waiting.status).toBe('rejected');
    expect(AcquireTimeoutError.isInstance(waiting.error)).toBe(true);
    expect(pool.getQueryStats()).toMatchObject({ timeouts: 1, queued: 0 });
    await clock.advanceAsync(10_000);
    expect(stuck.status).toBe('fulfilled');
    await pool.close();
  });

  it('sheds load past maxWaiting, not counting statements a connection being opened will take', async () => {
    const { pool, clock, query } = setup({
      maxSize: 1,
      maxWaiting: 1,
      query: { maxInFlightPerConnection: 2 },
      driverOptions: { queryLatencyMs: 5 },
    });
    const calls = Array.from({ length: 4 }, () => track(query('SELECT 1')));
    await clock.flush();
    expect(calls.map((call) => call.status)).toEqual(['pending', 'pending', 'pending', 'rejected']);
    expect(PoolExhaustedError.isInstance(calls[3]!.error)).toBe(true);
    await clock.advanceAsync(20);
    expect(calls.slice(0, 3).every((call) => call.status === 'fulfilled')).toBe(true);
    expect(pool.getQueryStats().exhausted).toBe(1);
    await pool.close();
  });

  it('hands a shared connection to a waiting lease caller instead of starving it', async () => {
    const { pool, clock, query } = setup({
      maxSize: 1,
      acquireTimeoutMs: 1_000,
      query: { maxInFlightPerConnection: 2 },
      driverOptions: { queryLatencyMs: 1 },
    });
    let stop = false;
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) await query('SELECT 1');
    });
    await clock.advanceAsync(3);
    const lease = track(pool.acquire());
    for (let step = 0; step < 10 && lease.status === 'pending'; step++) await clock.advanceAsync(1);
    expect(lease.status).toBe('fulfilled');
    const held = pool.getQueryStats();
    expect(held.sharedConnections).toBe(0);
    expect(held.queued).toBeGreaterThan(0);
    lease.value!.release();
    await clock.advanceAsync(2);
    expect(pool.getQueryStats().sharedConnections).toBe(1);
    stop = true;
    await clock.advanceAsync(5);
    await Promise.all(loops);
    await pool.close();
  });

  it('shares at most maxSharedConnections, leaving the rest to leases', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 4,
      query: { maxSharedConnections: 1, maxInFlightPerConnection: 16 },
      driverOptions: { queryLatencyMs: 1 },
    });
    const calls = Array.from({ length: 10 }, () => track(query('SELECT 1')));
    await clock.flush();
    expect(pool.getQueryStats().sharedConnections).toBe(1);
    await clock.advanceAsync(20);
    expect(calls.every((call) => call.status === 'fulfilled')).toBe(true);
    expect(driver.allConnections).toHaveLength(1);
    await pool.close();
  });

  it('close() fails waiting statements, lets those on the wire finish, and closes everything', async () => {
    const { pool, driver, clock, query } = setup({
      maxSize: 1,
      query: { maxInFlightPerConnection: 1 },
      driverOptions: { queryLatencyMs: 10 },
    });
    const sent = track(query('SELECT 1'));
    const waiting = track(query('SELECT 2'));
    await clock.flush();
    const closed = track(pool.close());
    await clock.flush();
    expect(waiting.status).toBe('rejected');
    expect(PoolClosedError.isInstance(waiting.error)).toBe(true);
    expect(sent.status).toBe('pending');
    await clock.advanceAsync(10);
    expect(sent.status).toBe('fulfilled');
    await closed.promise;
    expect(driver.openConnections.size).toBe(0);
    await expect(query('SELECT 3')).rejects.toBeInstanceOf(PoolClosedError);
  });

  it('retires a shared connection at the end of its lifetime', async () => {
    const { pool, driver, clock, query } = setup({
      maxLifetimeMs: 100,
      maxLifetimeJitter: 0,
      driverOptions: { queryLatencyMs: 10 },
    });
    let stop = false;
    const loops = Array.from({ length: 3 }, async () => {
      while (!stop) await query('SELECT 1');
    });
    for (let step = 0; step < 30; step++) await clock.advanceAsync(10);
    stop = true;
    await clock.advanceAsync(20);
    await Promise.all(loops);
    expect(driver.allConnections.length).toBeGreaterThanOrEqual(3);
    expect(pool.getStats().destroyedByReason.lifetime).toBeGreaterThanOrEqual(2);
    await pool.close();
  });
});

describe('query options', () => {
  it.each([
    [{ maxInFlightPerConnection: 0 }, 'query.maxInFlightPerConnection'],
    [{ maxInFlightPerConnection: 1.5 }, 'query.maxInFlightPerConnection'],
    [{ maxSharedConnections: 11 }, 'query.maxSharedConnections'],
    [{ pipeline: true }, 'query.pipeline'],
  ])('refuses %j naming %s', (query, option) => {
    expect(() => createHarness({ query: query as never })).toThrow(
      expect.objectContaining({ option }),
    );
  });
});
