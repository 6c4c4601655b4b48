import {
  AcquireTimeoutError,
  type Driver,
  TypedEmitter,
  ValidationError,
} from '@enhanced-pool/core';
import {
  createFakeClock,
  createFakeDriver,
  type FakeConnection,
  type FakeDriver,
} from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { inertLeaseOwner, recordingLogger } from '../test/module-stubs.js';
import { type HandOutHost, HandOutValidation } from './hand-out-validation.js';
import { IdleList } from './idle-list.js';
import { PoolCounters } from './pool-counters.js';
import type { DestroyReason, PoolEvents } from './pool-events.js';
import { CHECKING, ConnectionRecord, DESTROYED, LEASED, PoolLease } from './pooled-connection.js';
import { QUEUED, SETTLED, type Waiter, WaitQueue } from './wait-queue.js';

const ACQUIRE_TIMEOUT_MS = 1_000;
const VALIDATE_MS = 10;
const VALIDATE_AFTER_IDLE_MS = 500;

const leaseOwner = inertLeaseOwner<FakeConnection>();

type HostCall =
  | { readonly call: 'grant'; readonly now: number; readonly waitMs: number }
  | { readonly call: 'returnRecord'; readonly now: number }
  | { readonly call: 'retryWaiter'; readonly phase: number }
  | { readonly call: 'discard'; readonly reason: DestroyReason; readonly error: unknown };

interface SetupOptions {
  readonly validateAfterIdleMs?: number;
  /** Wraps the fake driver, e.g. to ignore abort signals. */
  readonly wrapDriver?: (driver: FakeDriver) => Driver<FakeConnection>;
}

function setup(options: SetupOptions = {}) {
  const clock = createFakeClock();
  const fakeDriver = createFakeDriver({ clock, validateLatencyMs: VALIDATE_MS });
  const validateSignals: AbortSignal[] = [];
  const inner = options.wrapDriver?.(fakeDriver) ?? fakeDriver;
  const driver: Driver<FakeConnection> = {
    ...inner,
    validate(connection, callOptions) {
      validateSignals.push(callOptions.signal);
      return inner.validate(connection, callOptions);
    },
  };
  const counters = new PoolCounters();
  const logger = recordingLogger();
  const idle = new IdleList<FakeConnection>();
  const queue: WaitQueue<FakeConnection> = new WaitQueue<FakeConnection>(
    {
      clock,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      counters,
      events: new TypedEmitter<PoolEvents>(),
      name: 'orders',
    },
    {
      readClock: () => clock.now(),
      gauges: () => ({ size: 1, idle: 0, active: 1, pending: queue.pending, connecting: 0 }),
      connectErrorSince: () => undefined,
      releaseAttempt() {},
    },
  );
  const calls: HostCall[] = [];
  const leases: PoolLease<FakeConnection>[] = [];
  const host: HandOutHost<FakeConnection> & { open: boolean; waitSumMs: number } = {
    waitSumMs: 0,
    noteWait(waitMs) {
      host.waitSumMs += waitMs;
    },
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
    classify: (error: unknown) => fakeDriver.classifyError(error),
    grant(record, now, waitMs) {
      calls.push({ call: 'grant', now, waitMs });
      record.state = LEASED;
      const lease = new PoolLease(leaseOwner, record, leases.length + 1, false, now);
      leases.push(lease);
      return lease;
    },
    returnRecord(_record, now) {
      calls.push({ call: 'returnRecord', now });
    },
    retryWaiter(waiter) {
      calls.push({ call: 'retryWaiter', phase: waiter.phase });
    },
    discard(record, reason, error) {
      calls.push({ call: 'discard', reason, error });
      record.state = DESTROYED;
    },
  };
  const validation = new HandOutValidation(
    {
      driver,
      clock,
      validateAfterIdleMs: options.validateAfterIdleMs ?? VALIDATE_AFTER_IDLE_MS,
      idle,
      queue,
      counters,
      logger,
      logContext: {},
      name: 'orders',
    },
    host,
  );
  let nextId = 1;
  const connection = async (): Promise<ConnectionRecord<FakeConnection>> => {
    const opened = await fakeDriver.connect({ signal: new AbortController().signal });
    return new ConnectionRecord(opened, nextId++, clock.now(), Infinity);
  };
  const outcomes = new Map<Waiter<FakeConnection>, { status: string; value: unknown }>();
  /** A waiter created at the current time, with its outcome recorded. */
  const waiter = (signal?: AbortSignal): Waiter<FakeConnection> => {
    const created = queue.create(clock.now(), signal, 'acquired here', false);
    const outcome = { status: 'pending', value: undefined as unknown };
    outcomes.set(created, outcome);
    created.promise.then(
      (lease) => {
        outcome.status = 'fulfilled';
        outcome.value = lease;
      },
      (error: unknown) => {
        outcome.status = 'rejected';
        outcome.value = error;
      },
    );
    return created;
  };
  const outcome = (of: Waiter<FakeConnection>) =>
    outcomes.get(of) as { status: string; value: unknown };
  return {
    clock,
    fakeDriver,
    validateSignals,
    counters,
    logger,
    idle,
    queue,
    calls,
    leases,
    host,
    validation,
    connection,
    waiter,
    outcome,
  };
}

describe('HandOutValidation', () => {
  describe('start', () => {
    it('marks the record CHECKING and the waiter validating, with one deadline timer', async () => {
      const { clock, queue, validation, connection, waiter } = setup();
      const record = await connection();
      const forWaiter = waiter();
      validation.start(forWaiter, record, clock.now());
      expect(record.state).toBe(CHECKING);
      expect(queue.validating.has(forWaiter)).toBe(true);
      expect(queue.pending).toBe(1);
      expect(forWaiter.record).toBe(record);
      // The deadline timer and the fake driver's latency timer.
      expect(clock.pendingTimers()).toBe(2);
    });

    it('grants a validated connection, marking the lease validated', async () => {
      const { clock, host, queue, calls, leases, validation, connection, waiter, outcome } =
        setup();
      const record = await connection();
      const forWaiter = waiter();
      clock.advance(5);
      validation.start(forWaiter, record, clock.now());
      await clock.advanceAsync(VALIDATE_MS);
      expect(calls).toEqual([{ call: 'grant', now: 15, waitMs: 15 }]);
      expect(outcome(forWaiter)).toEqual({ status: 'fulfilled', value: leases[0] });
      expect(leases[0]?.validated).toBe(true);
      expect(record.lastValidatedAt).toBe(15);
      expect(host.waitSumMs).toBe(15);
      expect(forWaiter.phase).toBe(SETTLED);
      expect(queue.validating.size).toBe(0);
      expect(forWaiter.record).toBeUndefined();
      expect(clock.pendingTimers()).toBe(0);
    });
  });

  describe('a failed validation', () => {
    it('retries the waiter, then discards the connection with a ValidationError', async () => {
      const { clock, fakeDriver, counters, queue, calls, validation, connection, waiter, outcome } =
        setup();
      const record = await connection();
      const forWaiter = waiter();
      fakeDriver.failNextValidations(1, 'connection');
      validation.start(forWaiter, record, clock.now());
      await clock.advanceAsync(VALIDATE_MS);
      expect(calls).toHaveLength(2);
      expect(calls[0]).toEqual({ call: 'retryWaiter', phase: QUEUED });
      expect(calls[1]).toMatchObject({ call: 'discard', reason: 'validation-failed' });
      const error = (calls[1] as { error: unknown }).error;
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).reason).toBe('connection');
      expect(counters.validationFailures).toBe(1);
      expect(counters.errors).toBe(1);
      // The waiter is not rejected: it is served again within its deadline.
      expect(outcome(forWaiter).status).toBe('pending');
      expect(queue.validating.size).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('suspects the other idle connections, so they are validated before their hand-out', async () => {
      const { clock, fakeDriver, counters, idle, validation, connection, waiter } = setup();
      const checked = await connection();
      const [first, second] = [await connection(), await connection()];
      idle.link(first);
      idle.link(second);
      fakeDriver.failNextValidations(1);
      validation.start(waiter(), checked, clock.now());
      await clock.advanceAsync(VALIDATE_MS);
      expect(first.idleSince).toBe(Number.NEGATIVE_INFINITY);
      expect(second.idleSince).toBe(Number.NEGATIVE_INFINITY);
      expect(counters.suspected).toBe(2);
    });

    it('discards as aborted, without counting a failure, when the caller gave up', async () => {
      const { clock, counters, calls, validation, connection, waiter, outcome } = setup();
      const record = await connection();
      const controller = new AbortController();
      const forWaiter = waiter(controller.signal);
      validation.start(forWaiter, record, clock.now());
      const reason = new Error('caller left');
      controller.abort(reason);
      await clock.flush();
      expect(outcome(forWaiter)).toEqual({ status: 'rejected', value: reason });
      expect(calls).toEqual([{ call: 'discard', reason: 'aborted', error: reason }]);
      expect(counters.validationFailures).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('discards as close when the pool closed meanwhile', async () => {
      const { clock, fakeDriver, host, calls, validation, connection, waiter } = setup();
      const record = await connection();
      fakeDriver.failNextValidations(1);
      validation.start(waiter(), record, clock.now());
      host.open = false;
      await clock.advanceAsync(VALIDATE_MS);
      expect(calls.at(-1)).toMatchObject({ call: 'discard', reason: 'close' });
    });
  });

  describe('the deadline', () => {
    it("rejects with AcquireTimeoutError at the waiter's deadline and aborts validate", async () => {
      const {
        clock,
        fakeDriver,
        counters,
        calls,
        validateSignals,
        validation,
        connection,
        waiter,
        outcome,
      } = setup();
      const record = await connection();
      fakeDriver.setValidateLatency(10 * ACQUIRE_TIMEOUT_MS);
      clock.advance(200);
      const forWaiter = waiter();
      clock.advance(300);
      validation.start(forWaiter, record, clock.now());
      await clock.advanceAsync(ACQUIRE_TIMEOUT_MS - 300 - 1);
      expect(outcome(forWaiter).status).toBe('pending');
      await clock.advanceAsync(1);
      const error = outcome(forWaiter).value;
      expect(error).toBeInstanceOf(AcquireTimeoutError);
      expect(error).toMatchObject({ waitedMs: ACQUIRE_TIMEOUT_MS });
      expect(counters.timeouts).toBe(1);
      expect(forWaiter.gaveUp).toBe('timeout');
      expect(validateSignals).toHaveLength(1);
      expect(validateSignals[0]?.aborted).toBe(true);
      expect(validateSignals[0]?.reason).toBe(error);
      // A validation that did not answer in time counts as failed; the waiter is not retried.
      expect(calls).toEqual([
        { call: 'discard', reason: 'validation-failed', error: expect.any(ValidationError) },
      ]);
      expect(clock.pendingTimers()).toBe(0);
    });
  });

  it('returns a healthy connection whose caller gave up to the pool', async () => {
    const { clock, calls, validation, connection, waiter } = setup({
      // A driver that does not honour the signal: validate answers after the caller left.
      wrapDriver: (driver) => ({
        ...driver,
        validate: (connection) =>
          driver.validate(connection, { signal: new AbortController().signal }),
      }),
    });
    const record = await connection();
    const controller = new AbortController();
    validation.start(waiter(controller.signal), record, clock.now());
    clock.advance(3);
    controller.abort(new Error('caller left'));
    await clock.advanceAsync(VALIDATE_MS);
    expect(calls).toEqual([{ call: 'returnRecord', now: VALIDATE_MS }]);
    expect(record.idleSince).toBe(VALIDATE_MS);
    expect(record.lastValidatedAt).toBe(VALIDATE_MS);
  });

  it('ignores the outcome for a connection the pool discarded meanwhile', async () => {
    const { clock, calls, validation, connection, waiter, outcome } = setup();
    const record = await connection();
    const forWaiter = waiter();
    validation.start(forWaiter, record, clock.now());
    record.state = DESTROYED;
    await clock.advanceAsync(VALIDATE_MS);
    expect(calls).toEqual([]);
    expect(outcome(forWaiter).status).toBe('pending');
  });

  describe('suspectIdle', () => {
    it('marks every idle connection but the cause, counting each once', async () => {
      const { counters, logger, idle, validation, connection } = setup();
      const [cause, first, second] = [await connection(), await connection(), await connection()];
      for (const record of [cause, first, second]) idle.link(record);
      validation.suspectIdle(cause);
      expect(cause.idleSince).toBe(0);
      expect(first.idleSince).toBe(Number.NEGATIVE_INFINITY);
      expect(second.idleSince).toBe(Number.NEGATIVE_INFINITY);
      expect(counters.suspected).toBe(2);
      expect(logger.lines.filter((line) => line.startsWith('debug '))).toHaveLength(1);
      // Already suspect: not counted or logged again.
      validation.suspectIdle(undefined);
      expect(counters.suspected).toBe(3);
      validation.suspectIdle(undefined);
      expect(counters.suspected).toBe(3);
      expect(logger.lines).toHaveLength(2);
    });

    it('does nothing when validateAfterIdleMs is Infinity (never validate)', async () => {
      const { counters, idle, validation, connection } = setup({
        validateAfterIdleMs: Number.POSITIVE_INFINITY,
      });
      const record = await connection();
      idle.link(record);
      validation.suspectIdle(undefined);
      expect(record.idleSince).toBe(0);
      expect(counters.suspected).toBe(0);
    });
  });
});
