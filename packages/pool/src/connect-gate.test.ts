import {
  type CircuitBreakerOptions,
  exponentialBackoff,
  type Permit,
} from '@enhanced-pool/circuit-breaker';
import {
  CircuitOpenError,
  type Clock,
  ConnectError,
  type ErrorReason,
  type TimerHandle,
} from '@enhanced-pool/core';
import { createFakeClock, type FakeClock, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../test/module-stubs.js';
import {
  BACKING_OFF,
  ConnectGate,
  type ConnectGateHost,
  type ConnectGateOptions,
  HELD,
  OPENED,
  REFUSED,
  WAIT,
} from './connect-gate.js';

const BACKOFF = { baseMs: 100, capMs: 400, fatalMs: 5_000 };
const OPEN_DURATION_MS = 500;
const GRACE_MS = 2_000;

/**
 * The fake clock, handing out timer handles with an `unref()` that records itself, so a test can
 * tell which of the gate's timers would let the process exit.
 */
function unrefRecordingClock(clock: FakeClock): Clock & { readonly unrefed: Set<TimerHandle> } {
  const unrefed = new Set<TimerHandle>();
  const inner = new Map<TimerHandle, TimerHandle>();
  return {
    unrefed,
    now: () => clock.now(),
    setTimeout(callback, delayMs) {
      const handle = {
        unref() {
          unrefed.add(handle);
        },
      };
      inner.set(handle, clock.setTimeout(callback, delayMs));
      return handle;
    },
    clearTimeout(handle) {
      clock.clearTimeout(inner.get(handle));
      inner.delete(handle);
    },
  };
}

interface SetupOptions {
  /** Breaker options on top of a consecutive window of `failures: 1`; `false`: no breaker. */
  readonly circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  readonly outageGraceMs?: number;
  readonly random?: () => number;
}

function setup(options: SetupOptions = {}) {
  const fakeClock = createFakeClock();
  const clock = unrefRecordingClock(fakeClock);
  const logger = recordingLogger();
  const host = { open: true, resumed: 0 };
  const gateHost: ConnectGateHost = {
    isOpen: () => host.open,
    readClock: () => clock.now(),
    resumeCreation: () => {
      host.resumed++;
    },
  };
  const gateOptions: ConnectGateOptions = {
    circuitBreaker:
      options.circuitBreaker === false
        ? false
        : {
            window: { kind: 'consecutive', failures: 1 },
            openDurationMs: OPEN_DURATION_MS,
            clock,
            ...options.circuitBreaker,
          },
    connectBackoff: BACKOFF,
    outageGraceMs: options.outageGraceMs ?? GRACE_MS,
    random: options.random ?? (() => 0.5),
    clock,
    logger,
    logContext: { pool: 'orders' },
    name: 'orders',
  };
  const gate = new ConnectGate(gateOptions, gateHost);
  /** Reports a failed connect of `reason` through a permit admitted now. */
  const fail = (reason: ErrorReason) => {
    const admission = gate.admit(0);
    const permit = typeof admission === 'object' ? (admission as Permit) : undefined;
    const error = connectError(reason);
    return { verdict: gate.failed(reason, error, permit, 10, clock.now()), error };
  };
  return { fakeClock, clock, logger, host, gate, fail };
}

function connectError(reason: ErrorReason): ConnectError {
  return new ConnectError(reason, new FakeDriverError(reason));
}

const isPermit = (admission: unknown): boolean =>
  typeof admission === 'object' && admission !== null && 'success' in admission;

describe('ConnectGate', () => {
  describe('admission', () => {
    it('lets a connect go with no permit when there is no breaker', () => {
      const { gate } = setup({ circuitBreaker: false });
      expect(gate.breaker).toBeUndefined();
      expect(gate.admit(0)).toBeUndefined();
      expect(gate.admit(5)).toBeUndefined();
    });

    it("hands out the breaker's permit while it is closed", () => {
      const { gate } = setup();
      expect(isPermit(gate.admit(3))).toBe(true);
    });

    it('after a failure, waits while a connect is in flight, without a timer', () => {
      const { gate, fakeClock, fail } = setup({ circuitBreaker: false });
      expect(fail('connection').verdict).toBe(BACKING_OFF);
      expect(gate.failureStreak).toBe(1);
      expect(gate.admit(1)).toBe(WAIT);
      expect(fakeClock.pendingTimers()).toBe(0);
    });

    it('waits for the backoff step with one unref’d retry timer, then resumes creation', () => {
      const { gate, clock, fakeClock, host, fail } = setup({ circuitBreaker: false });
      fail('connection');
      // random 0.5 of the first step (baseMs 100).
      expect(gate.admit(0)).toBe(WAIT);
      expect(gate.admit(0)).toBe(WAIT);
      expect(fakeClock.pendingTimers()).toBe(1);
      expect(fakeClock.nextTimerAt()).toBe(50);
      expect(clock.unrefed.size).toBe(1);

      fakeClock.advance(49);
      expect(host.resumed).toBe(0);
      expect(gate.admit(0)).toBe(WAIT);
      fakeClock.advance(1);
      expect(host.resumed).toBe(1);
      expect(gate.admit(0)).toBeUndefined();
    });

    it('does not wake a closed pool when the retry timer fires', () => {
      const { gate, fakeClock, host, fail } = setup({ circuitBreaker: false });
      fail('connection');
      gate.admit(0);
      host.open = false;
      fakeClock.advance(100);
      expect(host.resumed).toBe(0);
    });
  });

  describe('backoff steps', () => {
    it('follow exponentialBackoff with full jitter, drawn with the injected random', () => {
      const draws = [0.9, 0.25, 0.6, 1, 0.75];
      let next = 0;
      const random = () => draws[next++] as number;
      const { gate, clock, fakeClock, fail } = setup({ circuitBreaker: false, random });
      const steps: number[] = [];
      for (let attempt = 1; attempt <= draws.length; attempt++) {
        const start = clock.now();
        fail('connection');
        expect(gate.admit(0)).toBe(WAIT);
        const step = (fakeClock.nextTimerAt() as number) - start;
        steps.push(step);
        fakeClock.advance(step);
        expect(gate.admit(0)).toBeUndefined();
      }
      // Steps of 100, 200, 400, then capped at 400, each scaled by its draw.
      expect(steps).toEqual([90, 50, 240, 400, 300]);
      const backoff = exponentialBackoff({ ...BACKOFF, jitter: 'full', minMs: 0 });
      expect(steps).toEqual(draws.map((draw, index) => backoff(index + 1, () => draw)));
      expect(next).toBe(draws.length);
    });

    it('are floored at 1 ms, so a draw of 0 never retries in the same instant', () => {
      const { gate, fakeClock, fail } = setup({ circuitBreaker: false, random: () => 0 });
      fail('connection');
      expect(gate.admit(0)).toBe(WAIT);
      expect(fakeClock.nextTimerAt()).toBe(1);
      fakeClock.advance(1);
      expect(gate.admit(0)).toBeUndefined();
    });

    it('end with a success: the next connect goes at once', () => {
      const { gate, fail } = setup({ circuitBreaker: false });
      fail('connection');
      fail('connection');
      expect(gate.succeeded()).toBe(true);
      expect(gate.failureStreak).toBe(0);
      expect(gate.admit(0)).toBeUndefined();
      expect(gate.succeeded()).toBe(false);
    });
  });

  describe('breaker', () => {
    it('opens on an unreachable reason and refuses with the time until its probe', () => {
      const { gate, fakeClock, fail } = setup();
      expect(fail('connection').verdict).toBe(OPENED);
      expect(gate.refusalRetryAfterMs).toBe(OPEN_DURATION_MS);
      fakeClock.advance(200);
      expect(gate.admit(0)).toBe(REFUSED);
      expect(gate.refusalRetryAfterMs).toBe(OPEN_DURATION_MS - 200);
      expect(gate.refuses()).toBe(true);
      fakeClock.advance(300);
      // Half-open: the probe is admitted.
      const probe = gate.admit(0);
      expect(isPermit(probe)).toBe(true);
      expect((probe as Permit).trial).toBe(true);
    });

    it('does not count a reason that says nothing about reachability', () => {
      const { gate, fail } = setup();
      expect(fail('query').verdict).toBe(BACKING_OFF);
      expect(gate.breaker?.getState()).toBe('closed');
      expect(gate.breaker?.metrics()).toMatchObject({ failures: 0, ignored: 1 });
    });

    it('refuses with a CircuitOpenError carrying the retry time and the last connect error', () => {
      const { gate, fail } = setup();
      const { error } = fail('timeout');
      const refusal = gate.refusalError(error);
      expect(refusal).toBeInstanceOf(CircuitOpenError);
      expect(refusal).toMatchObject({ retryAfterMs: OPEN_DURATION_MS, cause: error });
      expect(refusal.message).toContain('Pool "orders"');
    });

    it('reports readiness as the breaker sees it', () => {
      const { gate, fail } = setup();
      expect(gate.readiness(false).ready).toBe(true);
      expect(gate.readiness(true).ready).toBe(false);
      fail('connection');
      expect(gate.readiness(false).ready).toBe(false);
    });

    it('resumes creation after the user resets an open breaker, clearing the streak', async () => {
      const { gate, fakeClock, host, fail } = setup();
      fail('connection');
      expect(gate.admit(0)).toBe(REFUSED);
      gate.breaker?.reset();
      // Deferred to a microtask: the pool is never re-entered from a call it made.
      expect(host.resumed).toBe(0);
      await fakeClock.flush();
      expect(host.resumed).toBe(1);
      expect(gate.failureStreak).toBe(0);
      expect(isPermit(gate.admit(0))).toBe(true);
    });

    it('ends a fatal hold when the user resets the breaker', async () => {
      const { gate, fakeClock, host, fail } = setup();
      fail('authentication');
      gate.breaker?.reset();
      await fakeClock.flush();
      expect(gate.fatalError).toBeUndefined();
      expect(host.resumed).toBe(1);
      expect(fakeClock.pendingTimers()).toBe(0);
      expect(isPermit(gate.admit(0))).toBe(true);
    });
  });

  describe('fatal hold', () => {
    for (const reason of ['authentication', 'configuration'] as const) {
      it(`holds creation off after a ${reason} failure, then resumes after fatalMs`, async () => {
        const { gate, clock, fakeClock, host, logger, fail } = setup();
        const { verdict, error } = fail(reason);
        expect(verdict).toBe(HELD);
        expect(gate.fatalError).toBe(error);
        expect(gate.admit(0)).toBe(REFUSED);
        expect(gate.refuses()).toBe(true);
        expect(gate.breaker?.getState()).toBe('isolated');
        // The failure itself was not counted against the database.
        expect(gate.breaker?.metrics()).toMatchObject({ failures: 0, ignored: 1 });
        expect(gate.refusalError(undefined)).toBe(error);
        const readiness = gate.readiness(false);
        expect(readiness.ready).toBe(false);
        expect(readiness.reasons.join(' ')).toContain(`"${reason}"`);
        expect(logger.lines.some((line) => line.startsWith('error '))).toBe(true);
        expect(fakeClock.pendingTimers()).toBe(1);
        expect(clock.unrefed.size).toBe(1);

        fakeClock.advance(BACKOFF.fatalMs - 1);
        expect(host.resumed).toBe(0);
        fakeClock.advance(1);
        expect(gate.fatalError).toBeUndefined();
        // Lifting the isolation closes the breaker; its event resumes creation, once.
        await fakeClock.flush();
        expect(host.resumed).toBe(1);
        expect(gate.breaker?.getState()).toBe('closed');
        expect(gate.refuses()).toBe(false);
      });
    }

    it('holds without a breaker too', () => {
      const { gate, fakeClock, host, fail } = setup({ circuitBreaker: false });
      expect(fail('authentication').verdict).toBe(HELD);
      expect(gate.admit(0)).toBe(REFUSED);
      fakeClock.advance(BACKOFF.fatalMs);
      expect(host.resumed).toBe(1);
      expect(gate.admit(0)).not.toBe(REFUSED);
    });

    it('does not resume a pool that closed during the hold', () => {
      const { fakeClock, host, fail } = setup({ circuitBreaker: false });
      fail('authentication');
      host.open = false;
      fakeClock.advance(BACKOFF.fatalMs);
      expect(host.resumed).toBe(0);
    });
  });

  describe('failDeadlinesUpTo (outage grace)', () => {
    it('fails everyone when there is no grace, no breaker, or a fatal hold', () => {
      const noGrace = setup({ outageGraceMs: 0 });
      noGrace.fail('connection');
      expect(noGrace.gate.failDeadlinesUpTo(0)).toBe(Number.POSITIVE_INFINITY);

      const noBreaker = setup({ circuitBreaker: false });
      noBreaker.fail('connection');
      expect(noBreaker.gate.failDeadlinesUpTo(0)).toBe(Number.POSITIVE_INFINITY);

      const fatal = setup();
      fatal.fail('authentication');
      expect(fatal.gate.failDeadlinesUpTo(0)).toBe(Number.POSITIVE_INFINITY);
    });

    it('fails nobody while the breaker is closed', () => {
      const { gate, fakeClock } = setup();
      expect(gate.failDeadlinesUpTo(0)).toBe(Number.NEGATIVE_INFINITY);
      expect(fakeClock.pendingTimers()).toBe(0);
    });

    it('while open within the grace, fails only deadlines before the probe, arming two timers', () => {
      const { gate, clock, fakeClock, fail } = setup();
      fail('connection');
      fakeClock.advance(100);
      gate.admit(0);
      expect(gate.failDeadlinesUpTo(100)).toBe(100 + OPEN_DURATION_MS - 100);
      // The probe timer and the grace-end timer, both unref'd, armed once.
      expect(fakeClock.pendingTimers()).toBe(2);
      expect(clock.unrefed.size).toBe(2);
      gate.failDeadlinesUpTo(100);
      expect(fakeClock.pendingTimers()).toBe(2);
    });

    it('lets everyone wait for a half-open probe within the grace', () => {
      const { gate, fakeClock, fail } = setup();
      fail('connection');
      fakeClock.advance(OPEN_DURATION_MS);
      expect(gate.breaker?.getState()).toBe('half-open');
      expect(gate.failDeadlinesUpTo(OPEN_DURATION_MS)).toBe(OPEN_DURATION_MS);
    });

    it('fails everyone once the grace, counted from the first failure, is over', () => {
      const { gate, fakeClock, fail } = setup({ circuitBreaker: { openDurationMs: 10_000 } });
      fail('connection');
      fakeClock.advance(GRACE_MS - 1);
      expect(gate.failDeadlinesUpTo(GRACE_MS - 1)).toBeLessThan(Number.POSITIVE_INFINITY);
      fakeClock.advance(1);
      expect(gate.failDeadlinesUpTo(GRACE_MS)).toBe(Number.POSITIVE_INFINITY);
    });

    it('fails everyone while the breaker is isolated by the user', () => {
      const { gate } = setup();
      gate.breaker?.isolate();
      expect(gate.failDeadlinesUpTo(0)).toBe(Number.POSITIVE_INFINITY);
    });

    it('wakes the pool at the probe time and again when the grace ends', () => {
      const { gate, fakeClock, host, fail } = setup({
        circuitBreaker: { openDurationMs: 10_000 },
      });
      fail('connection');
      gate.failDeadlinesUpTo(0);
      fakeClock.advance(GRACE_MS);
      expect(host.resumed).toBe(1);
      expect(fakeClock.pendingTimers()).toBe(1);
      fakeClock.advance(10_000 - GRACE_MS);
      expect(host.resumed).toBe(2);
      expect(fakeClock.pendingTimers()).toBe(0);
    });

    it('starts a new grace for the next outage after a success', () => {
      const { gate, fakeClock, fail } = setup({ circuitBreaker: { openDurationMs: 10_000 } });
      fail('connection');
      fakeClock.advance(GRACE_MS);
      expect(gate.failDeadlinesUpTo(GRACE_MS)).toBe(Number.POSITIVE_INFINITY);
      gate.breaker?.reset();
      gate.succeeded();
      fail('connection');
      expect(gate.failDeadlinesUpTo(GRACE_MS)).toBe(GRACE_MS + 10_000);
    });
  });

  it('a reset ends the grace: the next outage gets a full grace of its own', async () => {
    const { gate, fakeClock, host, fail } = setup({ circuitBreaker: { openDurationMs: 10_000 } });
    fail('connection');
    gate.failDeadlinesUpTo(0);
    fakeClock.advance(100);
    gate.breaker?.reset();
    await fakeClock.flush();
    const resumedByReset = host.resumed;
    fakeClock.advance(400);
    fail('connection');
    // The new outage started at 500: its grace ends at 2 500, not at the old one's 2 000.
    expect(gate.failDeadlinesUpTo(500)).toBe(500 + 10_000);
    fakeClock.advance(GRACE_MS - 500 - 1);
    expect(host.resumed).toBe(resumedByReset);
    fakeClock.advance(501);
    expect(host.resumed).toBe(resumedByReset + 1);
  });

  it('arms no probe timer while isolated: there is no probe to wait for', () => {
    const { gate, fakeClock } = setup();
    gate.breaker?.isolate();
    gate.admit(0);
    gate.armProbe();
    expect(gate.refusalRetryAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(fakeClock.pendingTimers()).toBe(0);
  });

  it('stop() clears the retry, probe, grace and fatal timers', () => {
    const backingOff = setup({ circuitBreaker: false });
    backingOff.fail('connection');
    backingOff.gate.admit(0);
    expect(backingOff.fakeClock.pendingTimers()).toBe(1);
    backingOff.gate.stop();
    expect(backingOff.fakeClock.pendingTimers()).toBe(0);

    const open = setup();
    open.fail('connection');
    open.gate.failDeadlinesUpTo(0);
    expect(open.fakeClock.pendingTimers()).toBe(2);
    open.gate.stop();
    expect(open.fakeClock.pendingTimers()).toBe(0);

    const held = setup({ circuitBreaker: false });
    held.fail('authentication');
    expect(held.fakeClock.pendingTimers()).toBe(1);
    held.gate.stop();
    expect(held.fakeClock.pendingTimers()).toBe(0);
    held.fakeClock.advance(BACKOFF.fatalMs);
    expect(held.host.resumed).toBe(0);
  });

  it('logs the breaker opening as a warning', () => {
    const { logger, fail } = setup();
    fail('connection');
    expect(logger.lines.some((line) => /^warn .*breaker opened/.test(line))).toBe(true);
  });
});
