import type { CircuitBreakerOptions } from '@enhanced-pool/circuit-breaker';
import { CircuitOpenError, ConnectError, PoolClosedError, TypedEmitter } from '@enhanced-pool/core';
import {
  createFakeClock,
  createFakeDriver,
  type FakeConnection,
  type FakeDriver,
} from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { inertLeaseOwner, recordingLogger } from '../test/module-stubs.js';
import { ConnectGate } from './connect-gate.js';
import { type ConnectAttempt, Connector, type ConnectorHost } from './connector.js';
import { IdleList } from './idle-list.js';
import { PoolCounters } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import { ConnectionRecord, PoolLease } from './pooled-connection.js';
import { type Waiter, WaitQueue } from './wait-queue.js';

const ACQUIRE_TIMEOUT_MS = 1_000;
const CONNECT_MS = 100;

const leaseOwner = inertLeaseOwner<FakeConnection>();

interface SetupOptions {
  readonly minSize?: number;
  readonly maxSize?: number;
  readonly connectLatencyMs?: number;
  /** Breaker options on top of a consecutive window of `failures: 1`; default: no breaker. */
  readonly circuitBreaker?: Partial<CircuitBreakerOptions>;
  readonly outageGraceMs?: number;
}

interface Adoption {
  readonly connection: FakeConnection;
  readonly attempt: ConnectAttempt<FakeConnection>;
  readonly now: number;
}

function setup(options: SetupOptions = {}) {
  const clock = createFakeClock();
  const driver: FakeDriver = createFakeDriver({
    clock,
    connectLatencyMs: options.connectLatencyMs ?? CONNECT_MS,
  });
  const counters = new PoolCounters();
  const events = new TypedEmitter<PoolEvents>();
  const logger = recordingLogger();
  const idle = new IdleList<FakeConnection>();
  const adopted: Adoption[] = [];
  const readyRejections: unknown[] = [];
  const calls = { closerChecks: 0, sizingArms: 0, resumed: 0 };
  const maxSize = options.maxSize ?? 10;
  const minSize = options.minSize ?? 0;

  // The queue, the host and the connector call into each other, as in the pool; the closures
  // run only after all three exist.
  const queue: WaitQueue<FakeConnection> = new WaitQueue(
    { clock, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, counters, events, name: 'orders' },
    {
      readClock: () => host.readClock(),
      gauges: () => ({
        size: host.size,
        idle: idle.count,
        active: host.size - idle.count,
        pending: queue.pending,
        connecting: connector.connecting,
      }),
      connectErrorSince: () => connector.lastConnectError,
      // The queue only hands back attempts the connector made.
      releaseAttempt: (attempt) => connector.release(attempt as ConnectAttempt<FakeConnection>),
    },
  );
  const host: ConnectorHost<FakeConnection> & {
    size: number;
    targetSize: number;
    lastNow: number;
    open: boolean;
  } = {
    size: 0,
    targetSize: minSize,
    lastNow: 0,
    open: true,
    idle,
    queue,
    isOpen: () => host.open,
    readClock() {
      host.lastNow = clock.now();
      return host.lastNow;
    },
    classify: (error) => driver.classifyError(error),
    // As the pool does: the new connection serves the first waiter, else goes idle.
    adopt(connection, attempt, now) {
      adopted.push({ connection, attempt, now });
      host.size++;
      const record = new ConnectionRecord(connection, adopted.length, now, Infinity);
      const waiter = queue.head;
      if (waiter === undefined) {
        idle.link(record);
        return;
      }
      queue.unlink(waiter);
      queue.settle(waiter);
      waiter.resolve(new PoolLease(leaseOwner, record, adopted.length, true, now));
    },
  };
  const gate = new ConnectGate(
    {
      circuitBreaker:
        options.circuitBreaker === undefined
          ? false
          : { window: { kind: 'consecutive', failures: 1 }, clock, ...options.circuitBreaker },
      connectBackoff: { baseMs: 100, capMs: 100, fatalMs: 5_000 },
      outageGraceMs: options.outageGraceMs ?? 0,
      random: () => 0.5,
      clock,
      logger,
      logContext: {},
      name: 'orders',
    },
    {
      isOpen: () => host.open,
      readClock: () => host.readClock(),
      resumeCreation() {
        calls.resumed++;
        connector.replenish();
      },
    },
  );
  const connector: Connector<FakeConnection> = new Connector(
    {
      driver,
      clock,
      minSize,
      maxSize,
      acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      counters,
      events,
      readyWaiters: { rejectAll: (error) => readyRejections.push(error) },
      closer: {
        check() {
          calls.closerChecks++;
        },
      },
      sizing: {
        arm() {
          calls.sizingArms++;
        },
      },
      logger,
      logContext: {},
      name: 'orders',
    },
    gate,
    host,
  );

  const outcomes = new Map<Waiter<FakeConnection>, { status: string; error: unknown }>();
  /** Queues an acquire, as the pool does, and starts a connect for it. */
  const acquire = (signal?: AbortSignal): Waiter<FakeConnection> => {
    const now = host.readClock();
    const waiter = queue.create(now, signal, undefined, false);
    const outcome = { status: 'pending', error: undefined as unknown };
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
    queue.push(waiter, now);
    connector.fillForWaiters(waiter);
    return waiter;
  };
  const outcome = (waiter: Waiter<FakeConnection>) =>
    outcomes.get(waiter) as { status: string; error: unknown };
  /** Connections in use: counted in `size`, not idle. */
  const leaseOut = (count: number) => {
    host.size += count;
  };
  return {
    clock,
    driver,
    counters,
    events,
    logger,
    idle,
    queue,
    gate,
    connector,
    host,
    adopted,
    readyRejections,
    calls,
    acquire,
    outcome,
    leaseOut,
  };
}

describe('Connector', () => {
  describe('how many connects it starts', () => {
    it('counts one per queued waiter plus what minSize lacks, or what the target lacks', () => {
      const { connector, host, acquire } = setup({ minSize: 2, maxSize: 0 });
      // maxSize 0 only stops the connects, so the arithmetic can be read alone.
      expect(connector.connectsNeeded()).toBe(2);
      acquire();
      acquire();
      expect(connector.connectsNeeded()).toBe(4);
      host.size = 1;
      expect(connector.connectsNeeded()).toBe(3);
      host.targetSize = 8;
      expect(connector.connectsNeeded()).toBe(7);
    });

    it('starts one connect per waiter while nothing is in use, for the waiter that triggered it', () => {
      const { connector, driver, counters, calls, acquire } = setup();
      const first = acquire();
      const second = acquire();
      expect(connector.connecting).toBe(2);
      expect(driver.counters.connect).toBe(2);
      expect(counters.connectAttempts).toBe(2);
      expect(first.attempt).toBeDefined();
      expect(second.attempt).toBeDefined();
      expect(first.attempt).not.toBe(second.attempt);
      expect(calls.sizingArms).toBe(2);
      // Covered waiters get no second connect.
      connector.fillForWaiters(undefined);
      expect(connector.connecting).toBe(2);
    });

    it('never goes past maxSize, counting connects in flight', () => {
      const { connector, host, acquire } = setup({ maxSize: 3 });
      host.size = 1;
      for (let index = 0; index < 5; index++) acquire();
      expect(connector.connecting).toBe(2);
    });

    it('when capacity frees up, replenish starts connects for the waiters up to maxSize', () => {
      const { connector, host, leaseOut, acquire } = setup({ maxSize: 3 });
      leaseOut(3);
      for (let index = 0; index < 5; index++) acquire();
      expect(connector.connecting).toBe(0);
      // Two connections were closed (destroyed by their holders, say).
      host.size = 1;
      connector.replenish();
      expect(connector.connecting).toBe(2);
    });

    it('serves the waiters with the new connections and stops', async () => {
      const { clock, connector, adopted, acquire, outcome } = setup();
      const first = acquire();
      const second = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(adopted).toHaveLength(2);
      expect(outcome(first).status).toBe('fulfilled');
      expect(outcome(second).status).toBe('fulfilled');
      expect(connector.connecting).toBe(0);
      expect(clock.pendingTimers()).toBe(0);
    });

    it('ensureMinimum opens what minSize lacks, marked as for the minimum', async () => {
      const { clock, connector, host, adopted } = setup({ minSize: 3 });
      host.size = 1;
      connector.ensureMinimum();
      expect(connector.connecting).toBe(2);
      connector.ensureMinimum();
      expect(connector.connecting).toBe(2);
      await clock.advanceAsync(CONNECT_MS);
      expect(adopted.map(({ attempt }) => attempt.forMinimum)).toEqual([true, true]);
      expect(host.size).toBe(3);
    });

    it('ensureMinimum, refused by the open breaker, arms the probe that retries it', async () => {
      const { clock, connector, driver, calls, host } = setup({
        minSize: 1,
        circuitBreaker: { openDurationMs: 500 },
      });
      driver.failNextConnects(1, 'connection');
      connector.ensureMinimum();
      await clock.advanceAsync(CONNECT_MS);
      expect(connector.connecting).toBe(0);
      await clock.advanceAsync(499);
      expect(calls.resumed).toBe(0);
      await clock.advanceAsync(1);
      expect(calls.resumed).toBe(1);
      expect(connector.connecting).toBe(1);
      await clock.advanceAsync(CONNECT_MS);
      expect(host.size).toBe(1);
    });

    it('ensureMinimum and growToTarget do nothing once the pool closed', () => {
      const { connector, host } = setup({ minSize: 3 });
      host.open = false;
      host.targetSize = 5;
      connector.ensureMinimum();
      connector.growToTarget();
      expect(connector.connecting).toBe(0);
    });

    it('growToTarget opens toward the target, counting connects in flight', () => {
      const { connector, host } = setup();
      host.size = 2;
      host.targetSize = 5;
      connector.growToTarget();
      expect(connector.connecting).toBe(3);
      connector.growToTarget();
      expect(connector.connecting).toBe(3);
    });

    it('after a failure, starts one connect at a time', async () => {
      const { clock, connector, driver, acquire } = setup();
      driver.failNextConnects(1, 'connection');
      acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(connector.connecting).toBe(0);
      acquire();
      acquire();
      // Still in the backoff step (50 ms): nothing starts until the gate's retry timer.
      expect(connector.connecting).toBe(0);
      await clock.advanceAsync(50);
      expect(connector.connecting).toBe(1);
      connector.fillForWaiters(undefined);
      expect(connector.connecting).toBe(1);
    });

    it('growToTarget stops at the first connect the gate does not admit', () => {
      const { connector, gate, host } = setup({ circuitBreaker: {} });
      host.targetSize = 4;
      gate.breaker?.isolate();
      connector.growToTarget();
      expect(connector.connecting).toBe(0);
    });
  });

  describe('creation pacing', () => {
    /** A pool whose connect time is measured (one connect of CONNECT_MS) and with `inUse` leased. */
    async function warmed(inUse: number, connectLatencyMs = CONNECT_MS) {
      const context = setup({ minSize: 1, connectLatencyMs });
      context.connector.ensureMinimum();
      await context.clock.advanceAsync(connectLatencyMs);
      expect(context.host.size).toBe(1);
      context.leaseOut(inUse);
      return context;
    }

    it('while connections are in use, starts one connect for a burst of waiters', async () => {
      const { connector, acquire } = await warmed(2);
      for (let index = 0; index < 5; index++) acquire();
      expect(connector.connecting).toBe(1);
    });

    it('starts more only for waiters that already waited a typical connect time', async () => {
      const { clock, connector, host, acquire } = await warmed(2);
      acquire();
      acquire();
      clock.advance(CONNECT_MS - 1);
      acquire();
      expect(connector.connecting).toBe(1);
      clock.advance(1);
      host.readClock();
      // The first two waited 100 ms: each may have its own connect now; the third not yet.
      connector.fillForWaiters(undefined);
      expect(connector.connecting).toBe(2);
    });

    it('with nothing in use, opens one per waiter', async () => {
      const { connector, idle, host, acquire } = await warmed(0);
      expect(host.size).toBe(idle.count);
      for (let index = 0; index < 3; index++) acquire();
      expect(connector.connecting).toBe(3);
    });

    it('with connects slower than a quarter of acquireTimeoutMs, opens one per waiter', async () => {
      const { connector, acquire } = await warmed(2, ACQUIRE_TIMEOUT_MS / 4 + 1);
      for (let index = 0; index < 3; index++) acquire();
      expect(connector.connecting).toBe(3);
    });
  });

  describe('connect timeout and abort', () => {
    it('aborts a connect with a TimeoutError after acquireTimeoutMs, counting it', async () => {
      const { clock, connector, counters, events, gate, readyRejections } = setup({
        minSize: 1,
        connectLatencyMs: 10 * ACQUIRE_TIMEOUT_MS,
        circuitBreaker: {},
      });
      const seen: PoolEvents['connectError'][] = [];
      events.on('connectError', (event) => seen.push(event));
      connector.ensureMinimum();
      await clock.advanceAsync(ACQUIRE_TIMEOUT_MS - 1);
      expect(counters.connectErrors).toBe(0);
      await clock.advanceAsync(1);
      const cause = connector.lastConnectError?.cause;
      expect(cause).toBeInstanceOf(DOMException);
      expect((cause as DOMException).name).toBe('TimeoutError');
      expect((cause as DOMException).message).toContain(`${ACQUIRE_TIMEOUT_MS} ms`);
      expect(connector.lastConnectError?.reason).toBe('timeout');
      expect(counters.connectErrors).toBe(1);
      expect(counters.errors).toBe(1);
      expect(seen).toEqual([
        { error: connector.lastConnectError, reason: 'timeout', durationMs: ACQUIRE_TIMEOUT_MS },
      ]);
      // A timeout means unreachable: the breaker (one failure opens it) counted it.
      expect(gate.breaker?.getState()).toBe('open');
      expect(readyRejections).toEqual([connector.lastConnectError]);
    });

    it('aborts the connect of a waiter that gave up when nobody else needs it', async () => {
      const { clock, connector, counters, driver, acquire } = setup();
      const controller = new AbortController();
      const waiter = acquire(controller.signal);
      const attempt = waiter.attempt as ConnectAttempt<FakeConnection>;
      controller.abort(new Error('caller left'));
      expect(attempt.controller.signal.reason).toBeInstanceOf(DOMException);
      expect((attempt.controller.signal.reason as DOMException).name).toBe('AbortError');
      await clock.flush();
      expect(connector.connecting).toBe(0);
      // A surplus abort is not a connect error.
      expect(counters.connectErrors).toBe(0);
      expect(driver.counters.connectFailures).toBe(1);
    });

    it('keeps the connect of a waiter that gave up when another waiter needs it', async () => {
      const { clock, connector, adopted, acquire, outcome } = setup({ maxSize: 1 });
      const controller = new AbortController();
      acquire(controller.signal);
      const stays = acquire();
      expect(connector.connecting).toBe(1);
      controller.abort(new Error('caller left'));
      await clock.advanceAsync(CONNECT_MS);
      expect(adopted).toHaveLength(1);
      expect(outcome(stays).status).toBe('fulfilled');
    });

    it('keeps it when minSize still needs it', async () => {
      const { clock, adopted, acquire } = setup({ minSize: 1 });
      const controller = new AbortController();
      acquire(controller.signal);
      controller.abort(new Error('caller left'));
      await clock.advanceAsync(CONNECT_MS);
      expect(adopted).toHaveLength(1);
    });

    it('abortAll aborts every connect with PoolClosedError and tells the closer when they end', async () => {
      const { clock, connector, host, counters, calls, acquire } = setup();
      const first = acquire();
      acquire();
      const signal = (first.attempt as ConnectAttempt<FakeConnection>).controller.signal;
      host.open = false;
      connector.abortAll();
      expect(signal.reason).toBeInstanceOf(PoolClosedError);
      await clock.flush();
      expect(connector.connecting).toBe(0);
      expect(calls.closerChecks).toBe(2);
      expect(counters.connectErrors).toBe(0);
    });
  });

  describe('failures', () => {
    it('counts, emits connectError, logs the first of a streak as a warning', async () => {
      const { clock, connector, counters, events, logger, driver, acquire } = setup();
      const seen: PoolEvents['connectError'][] = [];
      events.on('connectError', (event) => seen.push(event));
      driver.failNextConnects(2, 'connection');
      acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(counters.connectErrors).toBe(1);
      expect(counters.errors).toBe(1);
      expect(connector.lastConnectError).toBeInstanceOf(ConnectError);
      expect(connector.lastConnectErrorAt).toBe(CONNECT_MS);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ reason: 'connection', durationMs: CONNECT_MS });
      expect(logger.lines.filter((line) => line.startsWith('warn '))).toHaveLength(1);
      // The retry (after the 50 ms step) fails too: logged at debug.
      await clock.advanceAsync(50 + CONNECT_MS);
      expect(counters.connectErrors).toBe(2);
      expect(logger.lines.filter((line) => line.startsWith('warn '))).toHaveLength(1);
      expect(logger.lines.some((line) => /^debug .*connect failed/.test(line))).toBe(true);
    });

    it('lets waiters wait for the retry after a retryable failure', async () => {
      const { clock, driver, acquire, outcome } = setup();
      driver.failNextConnects(1, 'connection');
      const waiter = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(outcome(waiter).status).toBe('pending');
      await clock.advanceAsync(50 + CONNECT_MS);
      expect(outcome(waiter).status).toBe('fulfilled');
    });

    it('fails the waiters at once with the ConnectError when a retry cannot help', async () => {
      const { clock, driver, acquire, outcome, counters } = setup();
      driver.failNextConnects(1, 'query');
      const first = acquire();
      const second = acquire();
      await clock.advanceAsync(CONNECT_MS);
      // The second connect succeeded and served the first waiter; the other has no connect.
      expect(outcome(first).status).toBe('fulfilled');
      expect(outcome(second).status).toBe('rejected');
      expect(outcome(second).error).toBeInstanceOf(ConnectError);
      expect((outcome(second).error as ConnectError).reason).toBe('query');
      expect(counters.circuitRejections).toBe(0);
    });

    it('fails uncovered waiters with CircuitOpenError when the breaker opens', async () => {
      const { clock, driver, acquire, outcome, counters, connector } = setup({
        circuitBreaker: { openDurationMs: 5_000 },
      });
      driver.failNextConnects(1, 'connection');
      const waiter = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(outcome(waiter).status).toBe('rejected');
      expect(outcome(waiter).error).toBeInstanceOf(CircuitOpenError);
      expect((outcome(waiter).error as CircuitOpenError).cause).toBe(connector.lastConnectError);
      expect(counters.circuitRejections).toBe(1);
    });

    it('fails new waiters at once while the breaker refuses', async () => {
      const { clock, driver, acquire, outcome, counters, connector } = setup({
        circuitBreaker: { openDurationMs: 5_000 },
      });
      driver.failNextConnects(1, 'connection');
      acquire();
      await clock.advanceAsync(CONNECT_MS);
      const later = acquire();
      await clock.flush();
      expect(outcome(later).error).toBeInstanceOf(CircuitOpenError);
      expect(counters.circuitRejections).toBe(2);
      expect(connector.connecting).toBe(0);
    });

    it('within the outage grace, lets waiters whose deadline is after the probe wait for it', async () => {
      const { clock, driver, acquire, outcome } = setup({
        circuitBreaker: { openDurationMs: 500 },
        outageGraceMs: 2_000,
      });
      driver.failNextConnects(1, 'connection');
      const waiter = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(outcome(waiter).status).toBe('pending');
      // The probe after 500 ms succeeds (100 ms connect) and serves it.
      await clock.advanceAsync(500 + CONNECT_MS);
      expect(outcome(waiter).status).toBe('fulfilled');
    });

    it('fails waiters with the ConnectError itself on an authentication failure', async () => {
      const { clock, driver, acquire, outcome, connector } = setup({ circuitBreaker: {} });
      driver.failNextConnects(1, 'authentication');
      const waiter = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(outcome(waiter).error).toBe(connector.lastConnectError);
      expect((outcome(waiter).error as ConnectError).reason).toBe('authentication');
    });

    it('fails waiters at once when the probe would come after their deadline', async () => {
      const { clock, driver, acquire, outcome, counters } = setup({
        circuitBreaker: { openDurationMs: ACQUIRE_TIMEOUT_MS + 500 },
        outageGraceMs: 2_000,
      });
      driver.failNextConnects(1, 'connection');
      const waiter = acquire();
      await clock.advanceAsync(CONNECT_MS);
      expect(outcome(waiter).error).toBeInstanceOf(CircuitOpenError);
      expect(counters.circuitRejections).toBe(1);
    });

    it('fails only the waiters beyond the connects in flight, newest first', async () => {
      const context = setup({ minSize: 1 });
      context.connector.ensureMinimum();
      await context.clock.advanceAsync(CONNECT_MS);
      // Two in use: pacing starts one connect for the five waiters.
      context.leaseOut(2);
      const { connector, acquire, outcome } = context;
      const waiters = Array.from({ length: 5 }, () => acquire());
      expect(connector.connecting).toBe(1);
      const failure = new ConnectError('query', new Error('bad session setup'));
      connector.failUncoveredWaiters(failure);
      await context.clock.flush();
      expect(waiters.map((waiter) => outcome(waiter).status)).toEqual([
        'pending',
        'rejected',
        'rejected',
        'rejected',
        'rejected',
      ]);
      expect(outcome(waiters[4] as Waiter<FakeConnection>).error).toBe(failure);
    });

    it('fails no waiter while the pool is full: a release will serve them', async () => {
      const { connector, acquire, outcome, leaseOut, clock } = setup({ maxSize: 2 });
      leaseOut(2);
      const waiter = acquire();
      expect(connector.connecting).toBe(0);
      connector.failUncoveredWaiters(new ConnectError('query', new Error('bad session setup')));
      await clock.flush();
      expect(outcome(waiter).status).toBe('pending');
    });

    it('rejects ready() callers when a connect fails below minSize', async () => {
      const { clock, connector, driver, readyRejections } = setup({ minSize: 1 });
      driver.failNextConnects(1, 'connection');
      connector.ensureMinimum();
      await clock.advanceAsync(CONNECT_MS);
      expect(readyRejections).toEqual([connector.lastConnectError]);
    });

    it('logs the recovery once a connect succeeds after failures', async () => {
      const { clock, driver, logger, acquire } = setup();
      driver.failNextConnects(1, 'connection');
      acquire();
      await clock.advanceAsync(CONNECT_MS + 50 + CONNECT_MS);
      expect(logger.lines.some((line) => /^info .*connects succeed again/.test(line))).toBe(true);
    });
  });

  it('hands the adopted connection its attempt and the time it connected', async () => {
    const { clock, adopted, acquire } = setup();
    clock.advance(7);
    const waiter = acquire();
    const attempt = waiter.attempt;
    await clock.advanceAsync(CONNECT_MS);
    expect(adopted).toHaveLength(1);
    expect(adopted[0]?.attempt).toBe(attempt);
    expect(adopted[0]?.attempt.startedAt).toBe(7);
    expect(adopted[0]?.now).toBe(7 + CONNECT_MS);
    expect(adopted[0]?.attempt.forMinimum).toBe(false);
  });
});
