import { type Driver, type DriverCallOptions, ValidationError } from '@enhanced-pool/core';
import {
  createFakeClock,
  createFakeDriver,
  type FakeConnection,
  type FakeDriver,
  FakeDriverError,
} from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../test/module-stubs.js';
import { PoolCounters } from './pool-counters.js';
import type { DestroyReason } from './pool-events.js';
import { ConnectionRecord, DESTROYED, RELEASING } from './pooled-connection.js';
import { ReleaseWork, type ReleaseWorkHost } from './release-work.js';

type HostCall =
  | { readonly call: 'returnRecord'; readonly now: number }
  | { readonly call: 'discard'; readonly reason: DestroyReason; readonly error: unknown }
  | { readonly call: 'suspectIdle' };

interface SetupOptions {
  readonly validateOnRelease?: boolean;
  readonly withReset?: boolean;
  /** Replaces driver methods, e.g. to make them misbehave. */
  readonly overrides?: Partial<Driver<FakeConnection>>;
}

function setup(options: SetupOptions = {}) {
  const clock = createFakeClock({ start: 1_000 });
  const fakeDriver: FakeDriver = createFakeDriver({ clock, withReset: options.withReset ?? true });
  const callSignals: AbortSignal[] = [];
  const driver: Driver<FakeConnection> = {
    ...fakeDriver,
    validate(connection, callOptions) {
      callSignals.push(callOptions.signal);
      return fakeDriver.validate(connection, callOptions);
    },
    ...(fakeDriver.reset === undefined
      ? {}
      : {
          reset(connection: FakeConnection, callOptions: DriverCallOptions) {
            callSignals.push(callOptions.signal);
            return fakeDriver.reset?.(connection, callOptions) as Promise<void>;
          },
        }),
    ...options.overrides,
  };
  const counters = new PoolCounters();
  const logger = recordingLogger();
  const calls: HostCall[] = [];
  const host: ReleaseWorkHost<FakeConnection> & { open: boolean } = {
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
    classify: (error: unknown) => fakeDriver.classifyError(error),
    returnRecord(_record, now) {
      calls.push({ call: 'returnRecord', now });
    },
    discard(record, reason, error) {
      calls.push({ call: 'discard', reason, error });
      record.state = DESTROYED;
    },
    suspectIdle() {
      calls.push({ call: 'suspectIdle' });
    },
  };
  const poolLife = new AbortController();
  const work = new ReleaseWork(
    {
      driver,
      validateOnRelease: options.validateOnRelease ?? false,
      callOptions: { signal: poolLife.signal },
      counters,
      logger,
      logContext: {},
      name: 'orders',
    },
    host,
  );
  /** A connection just released: in transit, as the pool marks it. */
  const released = async (): Promise<ConnectionRecord<FakeConnection>> => {
    const connection = await fakeDriver.connect({ signal: new AbortController().signal });
    const record = new ConnectionRecord(connection, 7, 0, Infinity);
    record.state = RELEASING;
    return record;
  };
  return {
    clock,
    fakeDriver,
    callSignals,
    poolLife,
    counters,
    logger,
    calls,
    host,
    work,
    released,
  };
}

describe('ReleaseWork', () => {
  it('is needed only with a driver reset() or validateOnRelease', () => {
    expect(setup({ withReset: true }).work.needed).toBe(true);
    expect(setup({ withReset: false, validateOnRelease: true }).work.needed).toBe(true);
    expect(setup({ withReset: false, validateOnRelease: false }).work.needed).toBe(false);
  });

  it('resets, then returns the connection at the current time', async () => {
    const { fakeDriver, calls, work, released } = setup();
    const record = await released();
    record.connection.inTransaction = true;
    await work.run(record);
    expect(record.connection.inTransaction).toBe(false);
    expect(fakeDriver.counters).toMatchObject({ reset: 1, validate: 0 });
    expect(calls).toEqual([{ call: 'returnRecord', now: 1_000 }]);
    expect(record.lastValidatedAt).toBe(0);
  });

  it("passes the pool's lifetime signal to reset and validate", async () => {
    const { callSignals, poolLife, work, released } = setup({ validateOnRelease: true });
    await work.run(await released());
    expect(callSignals).toEqual([poolLife.signal, poolLife.signal]);
  });

  it('with validateOnRelease, validates after the reset and records when', async () => {
    const { fakeDriver, calls, work, released } = setup({ validateOnRelease: true });
    const record = await released();
    await work.run(record);
    expect(fakeDriver.counters).toMatchObject({ reset: 1, validate: 1 });
    expect(record.lastValidatedAt).toBe(1_000);
    expect(calls).toEqual([{ call: 'returnRecord', now: 1_000 }]);
  });

  it('discards a connection whose reset failed, counting it, without validating', async () => {
    const { fakeDriver, counters, logger, calls, work, released } = setup({
      validateOnRelease: true,
    });
    fakeDriver.failNextResets(1);
    const record = await released();
    await work.run(record);
    expect(fakeDriver.counters.validate).toBe(0);
    expect(calls).toEqual([
      { call: 'discard', reason: 'reset-failed', error: expect.any(FakeDriverError) },
    ]);
    expect(counters).toMatchObject({ errors: 1, resetFailures: 1, validationFailures: 0 });
    expect(logger.lines).toEqual([expect.stringMatching(/^warn .*connection 7 reset-failed/)]);
  });

  it('treats a reset that throws synchronously as a failed reset', async () => {
    const thrown = new Error('reset exploded');
    const { calls, work, released } = setup({
      overrides: {
        reset: () => {
          throw thrown;
        },
      },
    });
    await work.run(await released());
    expect(calls).toEqual([{ call: 'discard', reason: 'reset-failed', error: thrown }]);
  });

  it('discards a connection that failed validation, suspecting the idle ones', async () => {
    const { fakeDriver, counters, calls, work, released } = setup({ validateOnRelease: true });
    fakeDriver.failNextValidations(1, 'timeout');
    await work.run(await released());
    expect(calls).toEqual([
      { call: 'suspectIdle' },
      { call: 'discard', reason: 'validation-failed', error: expect.any(ValidationError) },
    ]);
    const error = (calls[1] as { error: ValidationError }).error;
    expect(error.reason).toBe('timeout');
    expect(error.cause).toBeInstanceOf(FakeDriverError);
    expect(counters).toMatchObject({ errors: 1, validationFailures: 1, resetFailures: 0 });
  });

  it('discards as close, counting nothing, when the pool closed during the work', async () => {
    const { fakeDriver, counters, logger, host, calls, work, released } = setup();
    fakeDriver.failNextResets(1);
    const record = await released();
    host.open = false;
    await work.run(record);
    expect(calls).toEqual([
      { call: 'discard', reason: 'close', error: expect.any(FakeDriverError) },
    ]);
    expect(counters).toMatchObject({ errors: 0, resetFailures: 0 });
    expect(logger.lines).toEqual([]);
  });

  it('leaves alone a connection the pool took back during the work', async () => {
    const { fakeDriver, calls, work, released } = setup();
    const record = await released();
    const running = work.run(record);
    // close() discarded it while reset was in flight.
    record.state = DESTROYED;
    await running;
    expect(calls).toEqual([]);
    expect(fakeDriver.counters.reset).toBe(1);
  });
});
