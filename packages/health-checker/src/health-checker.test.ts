import { inspect } from 'node:util';
import { type Clock, InvalidOptionError, type Logger, type TimerHandle } from '@enhanced-pool/core';
import { createFakeClock, createFakeDriver, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { FakePoolTarget } from '../test/fake-pool-target.js';
import {
  createHealthChecker,
  type HealthCheckerOptions,
  type HealthCheckTarget,
  type HealthReport,
} from './index.js';

const SECRET = 'hunter2';
const SECRET_MESSAGE = `connect ECONNREFUSED postgres://app:${SECRET}@db.internal:5432/app password=${SECRET} sslmode=require`;

interface SetupOptions extends HealthCheckerOptions {
  minSize?: number;
  maxSize?: number;
  warm?: number;
  validateLatencyMs?: number;
  maxLifetimeMs?: number;
}

async function setup(options: SetupOptions = {}) {
  const {
    minSize = 4,
    maxSize = 10,
    warm = minSize,
    validateLatencyMs = 0,
    maxLifetimeMs,
  } = options;
  const clock = createFakeClock();
  const driver = createFakeDriver({ clock, validateLatencyMs });
  const target = new FakePoolTarget(driver, clock, minSize, maxSize, maxLifetimeMs);
  await target.warm(warm);
  const logged: { level: string; message: string; context: unknown }[] = [];
  const logger: Logger = {
    debug: (message, context) => logged.push({ level: 'debug', message, context }),
    info: (message, context) => logged.push({ level: 'info', message, context }),
    warn: (message, context) => logged.push({ level: 'warn', message, context }),
    error: (message, context) => logged.push({ level: 'error', message, context }),
  };
  const checker = createHealthChecker(target, { clock, logger, ...options });
  const reports: HealthReport[] = [];
  checker.on('report', (report) => reports.push(report));
  /** Runs a check on demand, moving fake time from timer to timer until it finishes. */
  const run = async (): Promise<HealthReport> => {
    const pending = checker.runNow();
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await clock.flush();
    // Bounded in fake time: a run that keeps re-arming timers must fail, not spin.
    const deadline = clock.now() + 600_000;
    while (!settled) {
      const next = clock.nextTimerAt();
      if (next === undefined) throw new Error('the run is stuck: no timer left to advance to');
      if (next > deadline) throw new Error('the run did not finish within 600 s of fake time');
      await clock.advanceAsync(next - clock.now());
    }
    return pending;
  };
  return { clock, driver, target, checker, reports, logged, run };
}

describe('createHealthChecker: scheduling', () => {
  it('runs every healthCheckIntervalMs on one timer, re-armed after each run; stop() leaves none', async () => {
    const { clock, checker, reports } = await setup();
    checker.start();
    checker.start();
    expect(checker.started).toBe(true);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advanceAsync(59_999);
    expect(reports).toHaveLength(0);
    await clock.advanceAsync(1);
    expect(reports).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advanceAsync(180_000);
    expect(reports.map((report) => report.startedAt)).toEqual([60_000, 120_000, 180_000, 240_000]);

    await checker.stop();
    expect(checker.started).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
    await clock.advanceAsync(600_000);
    expect(reports).toHaveLength(4);
    await checker.stop();
  });

  it('never overlaps: validations slower than the interval push the next run back', async () => {
    const { clock, driver, target, checker, reports } = await setup({
      validationIntervalMs: 0,
      validateLatencyMs: 90_000,
      validationTimeoutMs: 120_000,
    });
    let inFlight = 0;
    let maxInFlight = 0;
    const validate = driver.validate.bind(driver);
    driver.validate = async (connection, options) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await validate(connection, options);
      } finally {
        inFlight -= 1;
      }
    };
    checker.start();
    await clock.advanceAsync(60_000);
    // A run is in progress: an on-demand check joins it instead of starting a second one.
    const joined = checker.runNow();
    expect(checker.runNow()).toBe(joined);
    await clock.advanceAsync(600_000);
    await checker.stop();

    // The last run was cut short by stop(); every finished one took the 90 s of validation.
    const finished = reports.filter((report) => report.healthy);
    expect(finished.length).toBeGreaterThanOrEqual(3);
    for (const [index, report] of finished.entries()) {
      expect(report.durationMs).toBe(90_000);
      if (index > 0) {
        const previous = finished[index - 1] as HealthReport;
        expect(report.startedAt).toBe(previous.startedAt + previous.durationMs + 60_000);
      }
    }
    // 4 idle connections: at most half of them (2) are out for a check at any time.
    expect(maxInFlight).toBe(2);
    expect(target.checking()).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runs at least every keepaliveMs / 2 when keepalive is on', async () => {
    const { clock, checker, reports } = await setup({
      healthCheckIntervalMs: 300_000,
      keepaliveMs: 60_000,
    });
    checker.start();
    await clock.advanceAsync(90_000);
    expect(reports.map((report) => report.startedAt)).toEqual([30_000, 60_000, 90_000]);
    await checker.stop();
  });

  it('does not schedule when healthCheckIntervalMs is Infinity, but runs on demand', async () => {
    const { clock, checker, run } = await setup({ healthCheckIntervalMs: Infinity });
    checker.start();
    expect(clock.pendingTimers()).toBe(0);
    expect((await run()).healthy).toBe(true);
    await checker.stop();
  });

  it("unref's its timers so an idle checker never keeps the process alive", async () => {
    const fake = createFakeClock();
    const unrefed: number[] = [];
    const handles = new Map<number, TimerHandle>();
    let nextId = 1;
    const clock: Clock = {
      now: () => fake.now(),
      setTimeout(callback, delayMs) {
        const id = nextId++;
        handles.set(id, fake.setTimeout(callback, delayMs));
        return { id, unref: () => unrefed.push(id) };
      },
      clearTimeout: (handle) => fake.clearTimeout(handles.get((handle as { id: number }).id)),
    };
    const driver = createFakeDriver({ clock: fake });
    const target = new FakePoolTarget(driver, fake, 2, 4);
    await target.warm(2);
    const checker = createHealthChecker(target, { clock, validationIntervalMs: 0 });
    checker.start();
    expect(unrefed).toEqual([1]);
    await fake.advanceAsync(60_000);
    // The schedule timer, the validation deadline (2 idle: one checked at a time), then the
    // re-armed schedule timer.
    expect(unrefed).toEqual([1, 2, 3]);
    await checker.stop();
    expect(fake.pendingTimers()).toBe(0);
  });
});

describe('createHealthChecker: a run', () => {
  it('validates at most maxValidationsPerRun, least recently validated first, rotating through the pool', async () => {
    const { clock, driver, target, run } = await setup({
      minSize: 20,
      maxSize: 20,
      maxValidationsPerRun: 3,
    });
    await clock.advanceAsync(300_000);
    const validatedPerRun: number[][] = [];
    for (let round = 0; round < 7; round += 1) {
      const before = new Map(
        target.idleConnections().map((c) => [c.id, target.entryOf(c).lastValidatedAt]),
      );
      const report = await run();
      expect(report.checked).toBe(round < 6 ? 3 : 2);
      validatedPerRun.push(
        target
          .idleConnections()
          .filter((c) => target.entryOf(c).lastValidatedAt !== before.get(c.id))
          .map((c) => c.id),
      );
      await clock.advanceAsync(1_000);
    }
    expect(validatedPerRun.slice(0, 3)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    expect(new Set(validatedPerRun.flat()).size).toBe(20);
    expect(driver.counters.validate).toBe(20);
    // Nothing is due again until validationIntervalMs has passed.
    expect((await run()).checked).toBe(0);
  });

  it('never takes more than half of the idle connections at once', async () => {
    const { clock, target, run } = await setup({ minSize: 4, maxValidationsPerRun: 10 });
    target.lend();
    await clock.advanceAsync(300_000);
    const report = await run();
    // 3 idle: floor(3 / 2) = 1 per run, so borrowers still find 2.
    expect(report.checked).toBe(1);
    expect(target.checkoutLimits.at(-1)).toBe(1);
  });

  it('destroys expired and broken idle connections without a round trip, and fills back to minSize', async () => {
    const { driver, target, run } = await setup({ minSize: 4 });
    const lent = target.lend();
    driver.kill(lent, { noticed: true });
    const [first, second] = target.idleConnections();
    target.entryOf(first!).expiresAt = 0;
    driver.kill(second!, { noticed: true });

    const report = await run();
    expect(report).toMatchObject({ expired: 1, broken: 1, checked: 0, replaced: 2, size: 4 });
    expect(target.destroyed).toEqual([
      { id: first!.id, reason: 'expired' },
      { id: second!.id, reason: 'broken' },
    ]);
    expect(driver.counters.validate).toBe(0);
    // The lent connection is the borrower's business: untouched. Nothing leaked on the driver.
    expect(target.entryOf(lent).state).toBe('lent');
    expect(driver.openConnections.size).toBe(target.stats().size);
  });

  it('replaces a connection that fails validation (dropped by the server, client unaware)', async () => {
    const { clock, driver, target, run } = await setup({
      minSize: 2,
      validationIntervalMs: 60_000,
    });
    const [victim] = target.idleConnections();
    await clock.advanceAsync(60_000);
    // The least recently validated goes first: the victim (both are equal, pool order breaks the tie).
    driver.failNextValidations(1, 'connection');
    const report = await run();
    expect(report).toMatchObject({ checked: 1, failed: 1, replaced: 1, size: 2, healthy: true });
    expect(report.lastError).toEqual({
      message: 'validation failed',
      reason: 'connection',
      during: 'validation',
      connectionId: victim!.id,
    });
    expect(target.destroyed).toEqual([{ id: victim!.id, reason: 'validation-failed' }]);
    expect(driver.openConnections.size).toBe(2);
  });

  it('keepalive pings only connections silent longer than keepaliveMs, and a ping resets the silence', async () => {
    const { clock, driver, target, run } = await setup({
      minSize: 4,
      validationIntervalMs: Infinity,
      keepaliveMs: 240_000,
    });
    const [one, two, three, four] = target.idleConnections();
    await clock.advanceAsync(100_000);
    const borrowed = [target.lend(), target.lend()];
    expect(borrowed).toEqual([one, two]);
    for (const connection of borrowed) target.giveBack(connection);
    await clock.advanceAsync(150_000);
    const first = await run();
    expect(first).toMatchObject({ checked: 2, keepalives: 2, failed: 0 });
    expect(driver.counters.validate).toBe(2);
    expect(target.entryOf(three!).lastValidatedAt).toBe(250_000);
    // The ping is not use: the pool's idle timeout still sees the connection idle since 0.
    expect(target.entryOf(three!).lastUsedAt).toBe(0);

    await clock.advanceAsync(150_000);
    // one is pinged first (least recently validated, first in the pool) and fails.
    driver.failNextValidations(1, 'connection');
    const second = await run();
    // one and two are silent since 100 s (300 s now); three and four were pinged 150 s ago.
    expect(second).toMatchObject({ checked: 2, keepalives: 2, failed: 1, replaced: 1 });
    expect(target.destroyed).toEqual([{ id: one!.id, reason: 'keepalive-failed' }]);
    expect(second.lastError).toMatchObject({ during: 'keepalive', reason: 'connection' });
    expect(target.entryOf(four!).lastValidatedAt).toBe(250_000);
  });

  it('reports every figure of a run', async () => {
    const { driver, run } = await setup({
      minSize: 4,
      validationIntervalMs: 0,
      validateLatencyMs: 100,
    });
    driver.failNextValidations(1, 'connection');
    const report = await run();
    expect(report).toEqual({
      healthy: true,
      reasons: [],
      startedAt: 0,
      durationMs: 100,
      checked: 2,
      keepalives: 0,
      failed: 1,
      broken: 0,
      expired: 0,
      replaced: 1,
      breakerState: 'closed',
      size: 4,
      minSize: 4,
      lastError: {
        message: 'validation failed',
        reason: 'connection',
        during: 'validation',
        connectionId: 1,
      },
    });
    expect(Object.isFrozen(report)).toBe(true);
  });

  it('a validation that outlives validationTimeoutMs fails as a timeout, even if the driver ignores its signal', async () => {
    const { clock, driver, target, run } = await setup({
      minSize: 2,
      validationIntervalMs: 0,
      validationTimeoutMs: 1_000,
      validateLatencyMs: 10_000,
    });
    const first = await run();
    expect(first).toMatchObject({ durationMs: 1_000, checked: 1, failed: 1, replaced: 1 });
    expect(first.lastError).toMatchObject({
      reason: 'timeout',
      message: 'validation timed out after 1000 ms',
    });

    driver.validate = () => new Promise(() => {});
    const second = await run();
    expect(second).toMatchObject({ durationMs: 1_000, failed: 1, replaced: 1 });
    expect(target.destroyed.map((entry) => entry.reason)).toEqual([
      'validation-failed',
      'validation-failed',
    ]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('is unhealthy when it cannot fill to minSize, with a secret-free last error everywhere', async () => {
    const { target, logged, run } = await setup({ minSize: 3, warm: 1 });
    target.fillError = new FakeDriverError('connection', SECRET_MESSAGE);
    const report = await run();
    expect(report.healthy).toBe(false);
    expect(report.reasons).toEqual([
      'pool holds 1 of minSize 3 connections',
      'could not open connections up to minSize: connect ECONNREFUSED postgres://app:***@db.internal:5432/app password=*** sslmode=require',
    ]);
    expect(report.lastError).toMatchObject({ reason: 'connection', during: 'fill' });
    expect(JSON.stringify(report)).not.toContain(SECRET);
    expect(inspect(report, { depth: 10 })).not.toContain(SECRET);
    expect(logged.at(-1)?.level).toBe('warn');
    expect(inspect(logged, { depth: 10 })).not.toContain(SECRET);
  });

  it('redacts a secret from a failed validation too', async () => {
    const { clock, driver, run } = await setup({ minSize: 2 });
    driver.validate = () => Promise.reject(new FakeDriverError('connection', SECRET_MESSAGE));
    await clock.advanceAsync(300_000);
    const report = await run();
    expect(report.failed).toBe(1);
    expect(report.lastError?.message).toContain('postgres://app:***@db.internal');
    expect(JSON.stringify(report)).not.toContain(SECRET);
  });

  it('is unhealthy while the breaker is open, and says so first', async () => {
    const { target, run } = await setup();
    target.breaker = 'open';
    const report = await run();
    expect(report).toMatchObject({ healthy: false, breakerState: 'open' });
    expect(report.reasons).toEqual(['connection breaker is open']);
    target.breaker = 'half-open';
    expect((await run()).healthy).toBe(true);
  });

  it('survives a target that throws: the run reports it and the schedule goes on', async () => {
    const { clock, target, checker, reports } = await setup();
    const checkoutIdle = target.checkoutIdle.bind(target);
    let failures = 1;
    target.checkoutIdle = (select, limit) => {
      if (failures-- > 0) throw new Error('pool bug');
      return checkoutIdle(select, limit);
    };
    checker.start();
    await clock.advanceAsync(120_000);
    expect(reports.map((report) => report.healthy)).toEqual([false, true]);
    expect(reports[0]?.reasons).toEqual(['health check failed: pool bug']);
    expect(reports[0]?.lastError).toMatchObject({ during: 'run', reason: 'unknown' });
    await checker.stop();
  });
  it('settles every other checked-out connection even if the pool throws taking one back', async () => {
    const { target, run } = await setup({ minSize: 4, validationIntervalMs: 0 });
    const checkoutIdle = target.checkoutIdle.bind(target);
    target.checkoutIdle = (select, limit) =>
      checkoutIdle(select, limit).map((item, index) =>
        index === 0
          ? {
              ...item,
              returnToIdle: () => {
                throw new Error('pool bug on return');
              },
            }
          : item,
      );
    const report = await run();
    expect(report).toMatchObject({ healthy: false, checked: 2, failed: 0 });
    expect(report.reasons).toEqual(['health check failed: pool bug on return']);
    // The second connection went back; the first stays wherever the buggy pool left it.
    expect(target.checking()).toBe(1);
    expect(target.stats().idle).toBe(3);
  });
});

describe('createHealthChecker: stopping and cancelling', () => {
  it('stop() mid-run aborts validations, returns the connections unvalidated, and leaves zero timers', async () => {
    const { clock, driver, target, checker, reports } = await setup({
      validationIntervalMs: 0,
      validateLatencyMs: 10_000,
    });
    checker.start();
    await clock.advanceAsync(61_000);
    expect(target.checking()).toBe(2);
    await checker.stop();
    expect(target.checking()).toBe(0);
    expect(target.destroyed).toEqual([]);
    expect(target.stats().idle).toBe(4);
    expect(target.idleConnections().every((c) => target.entryOf(c).lastValidatedAt === 0)).toBe(
      true,
    );
    expect(reports.at(-1)).toMatchObject({ healthy: false, failed: 0, replaced: 0 });
    expect(reports.at(-1)?.reasons).toEqual(['stopped before the run finished']);
    expect(clock.pendingTimers()).toBe(0);
    expect(driver.openConnections.size).toBe(4);
  });

  it("runNow's signal abandons the caller's wait, not the shared run", async () => {
    const { clock, checker } = await setup({
      validationIntervalMs: 0,
      validateLatencyMs: 10_000,
      validationTimeoutMs: 20_000,
    });
    const controller = new AbortController();
    const waiting = checker.runNow({ signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    await clock.advanceAsync(10_000);
    expect(checker.lastReport()).toMatchObject({ healthy: true, checked: 2, durationMs: 10_000 });

    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    await expect(checker.runNow({ signal: aborted.signal })).rejects.toThrow('already');
  });

  it('on() returns a disposable that unsubscribes', async () => {
    const { checker, run } = await setup();
    const seen: HealthReport[] = [];
    const subscription = checker.on('report', (report) => seen.push(report));
    await run();
    subscription.dispose();
    await run();
    expect(seen).toHaveLength(1);
  });
});

describe('createHealthChecker: options', () => {
  it('has the seed defaults', async () => {
    const { checker } = await setup();
    expect(checker.options).toMatchObject({
      healthCheckIntervalMs: 60_000,
      validationIntervalMs: 300_000,
      maxValidationsPerRun: 5,
      validationTimeoutMs: 5_000,
      keepaliveMs: 0,
    });
  });

  it.each([
    ['healthCheckIntervalMs', { healthCheckIntervalMs: 0 }, 'a number ≥ 1 (or Infinity)'],
    ['validationIntervalMs', { validationIntervalMs: -1 }, 'a number ≥ 0 (or Infinity)'],
    ['maxValidationsPerRun', { maxValidationsPerRun: 0 }, 'an integer ≥ 1 (or Infinity)'],
    ['maxValidationsPerRun', { maxValidationsPerRun: 2.5 }, 'an integer ≥ 1 (or Infinity)'],
    ['validationTimeoutMs', { validationTimeoutMs: Infinity }, 'a number ≥ 1'],
    ['keepaliveMs', { keepaliveMs: 500 }, '0 (off) or a number ≥ 1000'],
    ['keepaliveMs', { keepaliveMs: -1 }, 'a number ≥ 0'],
    ['clock', { clock: {} }, 'a Clock (an object with now(), setTimeout() and clearTimeout())'],
    [
      'logger',
      { logger: { warn: () => {} } },
      'a Logger (an object with debug(), info(), warn() and error())',
    ],
  ] as const)(
    'rejects a bad %s, naming it, the value and the range',
    async (option, options, allowed) => {
      const { target } = await setup();
      let thrown: unknown;
      try {
        createHealthChecker(target, options as HealthCheckerOptions);
      } catch (error) {
        thrown = error;
      }
      expect(InvalidOptionError.isInstance(thrown)).toBe(true);
      expect(thrown).toMatchObject({ code: 'INVALID_OPTION', option, allowed });
    },
  );

  it('rejects something that is not a HealthCheckTarget', () => {
    expect(() => createHealthChecker({} as HealthCheckTarget<unknown>)).toThrow(
      /Invalid option "target"/,
    );
  });
});
