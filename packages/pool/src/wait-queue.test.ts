import { AcquireTimeoutError, ConnectError, TypedEmitter } from '@enhanced-pool/core';
import { createFakeClock, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it, vi } from 'vitest';
import { PoolCounters, type PoolGauges } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import {
  QUEUED,
  SETTLED,
  VALIDATING,
  type Waiter,
  type WaiterAttempt,
  WaitQueue,
  type WaitQueueHost,
} from './wait-queue.js';

const ACQUIRE_TIMEOUT_MS = 1_000;
const GAUGES: PoolGauges = { size: 4, idle: 0, active: 4, pending: 3, connecting: 1 };

interface Outcome {
  status: 'pending' | 'fulfilled' | 'rejected';
  error: unknown;
}

function setup() {
  const clock = createFakeClock();
  const counters = new PoolCounters();
  const events = new TypedEmitter<PoolEvents>();
  const released: WaiterAttempt<string>[] = [];
  const causeAskedSince: number[] = [];
  const state = { lastConnectError: undefined as ConnectError | undefined };
  const host: WaitQueueHost<string> = {
    readClock: () => clock.now(),
    gauges: () => GAUGES,
    connectErrorSince(since) {
      causeAskedSince.push(since);
      return state.lastConnectError;
    },
    releaseAttempt: (attempt) => released.push(attempt),
  };
  const queue = new WaitQueue<string>(
    { clock, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, counters, events, name: 'orders' },
    host,
  );
  const outcomes = new Map<Waiter<string>, Outcome>();

  /** Creates a waiter at the current time and records how its promise settles. */
  const create = (signal?: AbortSignal): Waiter<string> => {
    const waiter = queue.create(clock.now(), signal, undefined, false);
    const outcome: Outcome = { status: 'pending', error: undefined };
    outcomes.set(waiter, outcome);
    waiter.promise.then(
      () => {
        outcome.status = 'fulfilled';
      },
      (error: unknown) => {
        outcome.status = 'rejected';
        outcome.error = error;
      },
    );
    return waiter;
  };
  const enqueue = (signal?: AbortSignal): Waiter<string> => {
    const waiter = create(signal);
    queue.push(waiter, clock.now());
    return waiter;
  };
  /** Puts a created waiter in the VALIDATING phase, as hand-out validation does. */
  const validating = (waiter: Waiter<string>): AbortController => {
    const controller = new AbortController();
    waiter.phase = VALIDATING;
    waiter.controller = controller;
    queue.validating.add(waiter);
    return controller;
  };
  const outcome = (waiter: Waiter<string>): Outcome => outcomes.get(waiter) as Outcome;
  const order = (): Waiter<string>[] => {
    const waiters: Waiter<string>[] = [];
    for (let waiter = queue.head; waiter !== undefined; waiter = waiter.next) waiters.push(waiter);
    const backward: Waiter<string>[] = [];
    for (let waiter = queue.tail; waiter !== undefined; waiter = waiter.previous) {
      backward.push(waiter);
    }
    expect(backward.reverse()).toEqual(waiters);
    expect(queue.length).toBe(waiters.length);
    return waiters;
  };
  return {
    clock,
    counters,
    events,
    queue,
    released,
    causeAskedSince,
    state,
    create,
    enqueue,
    validating,
    outcome,
    order,
  };
}

describe('WaitQueue', () => {
  it('creates waiters with the shared deadline and counts each as waited', () => {
    const { clock, queue, counters } = setup();
    clock.advance(250);
    const waiter = queue.create(clock.now(), undefined, 'stack here', true);
    expect(waiter.enqueuedAt).toBe(250);
    expect(waiter.deadline).toBe(250 + ACQUIRE_TIMEOUT_MS);
    expect(waiter.stack).toBe('stack here');
    expect(waiter.mustValidate).toBe(true);
    expect(waiter.phase).toBe(QUEUED);
    expect(counters.waited).toBe(1);
    // Created is not queued.
    expect(queue.length).toBe(0);
  });

  it('keeps waiters first in first out', () => {
    const { clock, enqueue, order, queue } = setup();
    const first = enqueue();
    clock.advance(10);
    const second = enqueue();
    clock.advance(10);
    const third = enqueue();
    expect(order()).toEqual([first, second, third]);
    expect(queue.head).toBe(first);
    expect(queue.tail).toBe(third);
    expect(queue.pending).toBe(3);
  });

  it('unlinks a waiter from the middle, joining its neighbours', () => {
    const { enqueue, order, queue } = setup();
    const first = enqueue();
    const middle = enqueue();
    const last = enqueue();
    queue.unlink(middle);
    expect(order()).toEqual([first, last]);
    expect(first.next).toBe(last);
    expect(last.previous).toBe(first);
    expect(middle.previous).toBeUndefined();
    expect(middle.next).toBeUndefined();
  });

  it('arms exactly one timer for the whole queue, at the head deadline', () => {
    const { clock, enqueue } = setup();
    for (let index = 0; index < 50; index++) {
      enqueue();
      clock.advance(1);
    }
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(ACQUIRE_TIMEOUT_MS);
  });

  it('clears the timer when the last waiter leaves', () => {
    const { clock, enqueue, queue } = setup();
    const first = enqueue();
    const second = enqueue();
    queue.unlink(first);
    expect(clock.pendingTimers()).toBe(1);
    queue.unlink(second);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('expires waiters at their deadline with the pool figures and the likely cause', async () => {
    const { clock, counters, enqueue, outcome, causeAskedSince, state, order } = setup();
    state.lastConnectError = new ConnectError('connection', new FakeDriverError('connection'));
    const first = enqueue();
    clock.advance(300);
    const second = enqueue();

    clock.advance(ACQUIRE_TIMEOUT_MS - 300 - 1);
    await clock.flush();
    expect(outcome(first).status).toBe('pending');

    clock.advance(1);
    await clock.flush();
    const error = outcome(first).error;
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(error).toMatchObject({
      waitedMs: ACQUIRE_TIMEOUT_MS,
      poolSize: GAUGES.size,
      active: GAUGES.active,
      pending: GAUGES.pending,
      cause: state.lastConnectError,
    });
    expect((error as Error).message).toContain('Pool "orders"');
    expect(causeAskedSince).toEqual([0]);
    expect(counters.timeouts).toBe(1);
    expect(first.gaveUp).toBe('timeout');
    expect(first.phase).toBe(SETTLED);
    expect(order()).toEqual([second]);
    // Re-armed once, for the new head.
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(300 + ACQUIRE_TIMEOUT_MS);

    clock.advance(300);
    await clock.flush();
    expect(outcome(second).error).toBeInstanceOf(AcquireTimeoutError);
    expect(counters.timeouts).toBe(2);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('expires every waiter sharing a deadline in one firing, in order', async () => {
    const { clock, enqueue, outcome, queue } = setup();
    const waiters = [enqueue(), enqueue(), enqueue()];
    clock.advance(ACQUIRE_TIMEOUT_MS);
    await clock.flush();
    expect(waiters.map((waiter) => outcome(waiter).status)).toEqual([
      'rejected',
      'rejected',
      'rejected',
    ]);
    expect(queue.length).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('emits acquireTimeout with the same error, only when someone listens', async () => {
    const { clock, enqueue, events, outcome } = setup();
    const seen: AcquireTimeoutError[] = [];
    events.on('acquireTimeout', ({ error }) => seen.push(error));
    const waiter = enqueue();
    clock.advance(ACQUIRE_TIMEOUT_MS);
    await clock.flush();
    expect(seen).toEqual([outcome(waiter).error]);
  });

  it('gives a timeout no cause when the host has no recent connect error', async () => {
    const { clock, enqueue, outcome } = setup();
    const waiter = enqueue();
    clock.advance(ACQUIRE_TIMEOUT_MS);
    await clock.flush();
    expect((outcome(waiter).error as Error).cause).toBeUndefined();
  });

  describe('insertByDeadline', () => {
    it('puts a waiter back between those with earlier and later deadlines', () => {
      const { clock, create, enqueue, queue, order } = setup();
      const early = enqueue();
      clock.advance(10);
      const returning = create();
      clock.advance(10);
      const late = enqueue();
      queue.insertByDeadline(returning);
      expect(order()).toEqual([early, returning, late]);
    });

    it('goes after waiters with the same deadline, which came first', () => {
      const { create, enqueue, queue, order } = setup();
      const queuedFirst = enqueue();
      const returning = create();
      const queuedAfter = enqueue();
      queue.insertByDeadline(returning);
      expect(order()).toEqual([queuedFirst, queuedAfter, returning]);
    });

    it('becomes the head, and re-arms the one timer for its earlier deadline', () => {
      const { clock, create, enqueue, queue, order } = setup();
      const returning = create();
      clock.advance(100);
      const later = enqueue();
      expect(clock.nextTimerAt()).toBe(100 + ACQUIRE_TIMEOUT_MS);
      queue.insertByDeadline(returning);
      expect(order()).toEqual([returning, later]);
      expect(clock.pendingTimers()).toBe(1);
      expect(clock.nextTimerAt()).toBe(ACQUIRE_TIMEOUT_MS);
    });

    it('arms the timer when the queue was empty', () => {
      const { clock, create, queue, order } = setup();
      const returning = create();
      clock.advance(400);
      queue.insertByDeadline(returning);
      expect(order()).toEqual([returning]);
      expect(clock.pendingTimers()).toBe(1);
      expect(clock.nextTimerAt()).toBe(ACQUIRE_TIMEOUT_MS);
    });
  });

  describe('abort through the signal', () => {
    it('removes a queued waiter, rejects it with signal.reason and counts it', async () => {
      const { enqueue, outcome, order, counters } = setup();
      const controller = new AbortController();
      const first = enqueue();
      const aborting = enqueue(controller.signal);
      const last = enqueue();
      const reason = new Error('user navigated away');
      controller.abort(reason);
      await Promise.resolve();
      expect(order()).toEqual([first, last]);
      expect(outcome(aborting)).toEqual({ status: 'rejected', error: reason });
      expect(aborting.gaveUp).toBe('abort');
      expect(aborting.phase).toBe(SETTLED);
      expect(counters.aborted).toBe(1);
    });

    it('releases the connect started for the aborted waiter', () => {
      const { enqueue, released } = setup();
      const controller = new AbortController();
      const waiter = enqueue(controller.signal);
      const attempt: WaiterAttempt<string> = { waiter };
      waiter.attempt = attempt;
      controller.abort(new Error('gave up'));
      expect(released).toEqual([attempt]);
      expect(attempt.waiter).toBeUndefined();
      expect(waiter.attempt).toBeUndefined();
    });

    it('rejects a validating waiter and aborts its validation with the same reason', async () => {
      const { create, validating, outcome, queue, counters } = setup();
      const controller = new AbortController();
      const waiter = create(controller.signal);
      const validation = validating(waiter);
      const reason = new Error('gave up during validation');
      controller.abort(reason);
      await Promise.resolve();
      expect(outcome(waiter)).toEqual({ status: 'rejected', error: reason });
      expect(queue.validating.has(waiter)).toBe(false);
      expect(validation.signal.reason).toBe(reason);
      expect(counters.aborted).toBe(1);
    });
  });

  describe('settle', () => {
    it('stops listening to the signal', () => {
      const { enqueue, queue, counters } = setup();
      const controller = new AbortController();
      const removeListener = vi.spyOn(controller.signal, 'removeEventListener');
      const waiter = enqueue(controller.signal);
      const onAbort = waiter.onAbort;
      queue.unlink(waiter);
      queue.settle(waiter);
      expect(removeListener).toHaveBeenCalledWith('abort', onAbort);
      expect(waiter.onAbort).toBeUndefined();
      controller.abort(new Error('after it was served'));
      expect(counters.aborted).toBe(0);
    });

    it('detaches the connect attempt, releasing it only when the waiter left (abort or close)', () => {
      const { enqueue, queue, released } = setup();
      const served = enqueue();
      const servedAttempt: WaiterAttempt<string> = { waiter: served };
      served.attempt = servedAttempt;
      queue.unlink(served);
      queue.settle(served);
      expect(served.phase).toBe(SETTLED);
      expect(served.attempt).toBeUndefined();
      expect(servedAttempt.waiter).toBeUndefined();
      expect(released).toEqual([]);

      // A timed-out waiter leaves its connect to the connect's own deadline, so a hanging
      // connect is counted as a failure rather than aborted as surplus.
      const timedOut = enqueue();
      const timedOutAttempt: WaiterAttempt<string> = { waiter: timedOut };
      timedOut.attempt = timedOutAttempt;
      timedOut.gaveUp = 'timeout';
      queue.unlink(timedOut);
      queue.settle(timedOut);
      expect(timedOutAttempt.waiter).toBeUndefined();
      expect(released).toEqual([]);

      for (const reason of ['abort', 'close'] as const) {
        const gaveUp = enqueue();
        const gaveUpAttempt: WaiterAttempt<string> = { waiter: gaveUp };
        gaveUp.attempt = gaveUpAttempt;
        gaveUp.gaveUp = reason;
        queue.unlink(gaveUp);
        queue.settle(gaveUp);
        expect(released.at(-1)).toBe(gaveUpAttempt);
      }
      expect(released).toHaveLength(2);
    });

    it('takes a validating waiter out of the validating set', () => {
      const { create, validating, queue } = setup();
      const waiter = create();
      validating(waiter);
      expect(queue.pending).toBe(1);
      queue.settle(waiter);
      expect(queue.validating.size).toBe(0);
      expect(queue.pending).toBe(0);
    });
  });

  it('rejects queued and validating waiters on close, stopping the timer', async () => {
    const { clock, create, enqueue, validating, outcome, queue, released } = setup();
    const queued = enqueue();
    const queuedAttempt: WaiterAttempt<string> = { waiter: queued };
    queued.attempt = queuedAttempt;
    const second = enqueue();
    const beingValidated = create();
    const validation = validating(beingValidated);
    const closed = new Error('pool closed');

    queue.rejectAll(closed);
    await clock.flush();
    for (const waiter of [queued, second, beingValidated]) {
      expect(outcome(waiter)).toEqual({ status: 'rejected', error: closed });
      expect(waiter.gaveUp).toBe('close');
      expect(waiter.phase).toBe(SETTLED);
    }
    expect(validation.signal.reason).toBe(closed);
    expect(released).toEqual([queuedAttempt]);
    expect(queue.length).toBe(0);
    expect(queue.pending).toBe(0);
    expect(queue.head).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reject() takes a queued waiter out and rejects it with the given error', async () => {
    const { enqueue, outcome, queue, order } = setup();
    const waiter = enqueue();
    const other = enqueue();
    const failure = new Error('circuit open');
    queue.reject(waiter, failure);
    await Promise.resolve();
    expect(outcome(waiter)).toEqual({ status: 'rejected', error: failure });
    expect(waiter.phase).toBe(SETTLED);
    expect(order()).toEqual([other]);
  });
});
