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
});
