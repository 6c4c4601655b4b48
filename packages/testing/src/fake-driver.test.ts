import { describe, expect, it } from 'vitest';
import { createFakeClock } from './fake-clock.js';
import { createFakeDriver, FakeDriverError } from './fake-driver.js';

const signal = () => new AbortController().signal;

describe('createFakeDriver', () => {
  it('opens, validates and closes connections, counting every call', async () => {
    const driver = createFakeDriver();
    const connection = await driver.connect({ signal: signal() });
    await driver.validate(connection, { signal: signal() });
    expect(driver.openConnections.size).toBe(1);
    await driver.close(connection);
    await driver.close(connection);
    expect(driver.openConnections.size).toBe(0);
    expect(driver.counters).toMatchObject({ connect: 1, validate: 1, close: 2 });
  });

  it('takes its latency from the injected clock and honours abort', async () => {
    const clock = createFakeClock();
    const driver = createFakeDriver({ clock, connectLatencyMs: 150 });
    const pending = driver.connect({ signal: signal() });
    await clock.advanceAsync(150);
    await expect(pending).resolves.toMatchObject({ id: 1 });

    const controller = new AbortController();
    const aborted = driver.connect({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    expect(driver.openConnections.size).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('scripts connect failures and outages with classifiable errors', async () => {
    const driver = createFakeDriver();
    driver.failNextConnects(1, 'authentication');
    const error = await driver.connect({ signal: signal() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(FakeDriverError);
    expect(driver.classifyError(error)).toBe('authentication');
    await expect(driver.connect({ signal: signal() })).resolves.toBeDefined();

    driver.failConnects('connection');
    await expect(driver.connect({ signal: signal() })).rejects.toThrow(FakeDriverError);
    driver.failConnects(undefined);
    await expect(driver.connect({ signal: signal() })).resolves.toBeDefined();
    expect(driver.counters.connectFailures).toBe(2);
    expect(driver.classifyError(new Error('other'))).toBe('unknown');
  });

  it('distinguishes a kill the client has not noticed from one it has', async () => {
    const driver = createFakeDriver();
    const quiet = await driver.connect({ signal: signal() });
    const noticed = await driver.connect({ signal: signal() });
    driver.kill(quiet);
    driver.kill(noticed, { noticed: true });
    expect(driver.isBroken?.(quiet)).toBe(false);
    expect(driver.isBroken?.(noticed)).toBe(true);
    await expect(driver.validate(quiet, { signal: signal() })).rejects.toThrow('terminated');
    expect(driver.isBroken?.(quiet)).toBe(true);
    expect(driver.openConnections.size).toBe(2);
  });

  it('fails scripted validations and resets', async () => {
    const driver = createFakeDriver();
    const connection = await driver.connect({ signal: signal() });
    driver.failNextValidations(1, 'timeout');
    await expect(driver.validate(connection, { signal: signal() })).rejects.toMatchObject({
      reason: 'timeout',
    });
    await driver.validate(connection, { signal: signal() });
    driver.failNextResets(1);
    await expect(driver.reset?.(connection, { signal: signal() })).rejects.toThrow();
    await driver.reset?.(connection, { signal: signal() });
    expect(driver.counters).toMatchObject({ validateFailures: 1, resetFailures: 1, reset: 2 });
  });

  it('can omit the optional methods', () => {
    const driver = createFakeDriver({ withReset: false, withIsBroken: false });
    expect(driver.reset).toBeUndefined();
    expect(driver.isBroken).toBeUndefined();
    expect(driver.describe()).toEqual({
      'db.system.name': 'fake',
      'server.address': 'memory',
      'db.namespace': 'fake',
    });
  });

  describe('query', () => {
    it('answers pipelined statements in order, each after the one before it', async () => {
      const clock = createFakeClock();
      const driver = createFakeDriver({
        clock,
        queryLatencyMs: (text) => (text === 'slow' ? 100 : 10),
      });
      const connection = await driver.connect({ signal: signal() });
      const done: string[] = [];
      const slow = driver.query!(connection, 'slow', undefined, { signal: signal() });
      const fast = driver.query!(connection, 'fast', [1], { signal: signal() });
      void slow.then(() => done.push('slow'));
      void fast.then(() => done.push('fast'));
      expect(driver.inFlight(connection)).toBe(2);
      await clock.advanceAsync(100);
      expect(done).toEqual(['slow']);
      await clock.advanceAsync(10);
      expect(done).toEqual(['slow', 'fast']);
      await expect(fast).resolves.toEqual({
        connectionId: 1,
        text: 'fast',
        values: [1],
        inFlightAtSend: 2,
      });
      expect(driver.counters).toMatchObject({ query: 2, queryFailures: 0, maxInFlight: 2 });
    });

    it('fails scripted statements alone, and everything in flight when the connection dies', async () => {
      const clock = createFakeClock();
      const driver = createFakeDriver({ clock, queryLatencyMs: 5 });
      const connection = await driver.connect({ signal: signal() });
      driver.failNextQueries(1, 'query');
      const failing = driver.query!(connection, 'a', undefined, { signal: signal() }).catch(
        (error: unknown) => error,
      );
      const fine = driver.query!(connection, 'b', undefined, { signal: signal() });
      await clock.advanceAsync(10);
      expect(await failing).toMatchObject({ reason: 'query' });
      await expect(fine).resolves.toMatchObject({ text: 'b' });

      const both = Promise.allSettled([
        driver.query!(connection, 'c', undefined, { signal: signal() }),
        driver.query!(connection, 'd', undefined, { signal: signal() }),
      ]);
      driver.kill(connection);
      expect((await both).map((result) => result.status)).toEqual(['rejected', 'rejected']);
      await expect(
        driver.query!(connection, 'e', undefined, { signal: signal() }),
      ).rejects.toMatchObject({ reason: 'connection' });
      expect(driver.inFlight(connection)).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('a scripted connection failure kills the connection under the statements behind it', async () => {
      const clock = createFakeClock();
      const driver = createFakeDriver({ clock, queryLatencyMs: 5 });
      const connection = await driver.connect({ signal: signal() });
      driver.failNextQueries(1, 'connection');
      const both = Promise.allSettled([
        driver.query!(connection, 'a', undefined, { signal: signal() }),
        driver.query!(connection, 'b', undefined, { signal: signal() }),
      ]);
      await clock.advanceAsync(5);
      for (const result of await both) {
        expect(result).toMatchObject({ status: 'rejected', reason: { reason: 'connection' } });
      }
      expect(driver.isBroken!(connection)).toBe(true);
    });

    it('without pipelining, refuses a second statement while one is in flight', async () => {
      const clock = createFakeClock();
      const driver = createFakeDriver({ clock, queryLatencyMs: 5, pipelining: false });
      expect(driver.pipelining).toBe(false);
      const connection = await driver.connect({ signal: signal() });
      const first = driver.query!(connection, 'a', undefined, { signal: signal() });
      await expect(driver.query!(connection, 'b', undefined, { signal: signal() })).rejects.toThrow(
        'no pipelining',
      );
      await clock.advanceAsync(5);
      await expect(first).resolves.toMatchObject({ text: 'a' });
    });

    it('honours abort and can be left out', async () => {
      const clock = createFakeClock();
      const driver = createFakeDriver({ clock, queryLatencyMs: 50 });
      const connection = await driver.connect({ signal: signal() });
      const controller = new AbortController();
      const pending = driver.query!(connection, 'a', undefined, {
        signal: controller.signal,
      }).catch((error: unknown) => error);
      controller.abort(new Error('gave up'));
      expect(await pending).toMatchObject({ message: 'gave up' });
      expect(clock.pendingTimers()).toBe(0);
      expect(createFakeDriver({ withQuery: false }).query).toBeUndefined();
    });
  });
});
