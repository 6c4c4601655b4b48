import {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  createCircuitBreaker,
  exponentialBackoff,
  isBrokenCircuitError,
  type OpenDurationFunction,
  type Permit,
} from '@enhanced-pool/circuit-breaker';
import {
  CircuitOpenError,
  type Clock,
  type ConnectError,
  type Disposable,
  type ErrorReason,
  isUnreachableReason,
  type LogContext,
  type Logger,
  type TimerHandle,
  unrefTimer,
} from '@enhanced-pool/core';
import { checkReadiness, type Readiness } from '@enhanced-pool/health-checker';
import { errorMessage } from './driver-calls.js';
import type { FleetBudget } from './fleet-budget.js';
import type { ResolvedConnectBackoff } from './pool-options.js';
import { timerDelay } from './timer-delay.js';

/** Not now, but soon: a connect is in flight or a backoff step is pending. Waiters wait. */
export const WAIT = 1;
/** Not until the breaker or a fatal-error hold lets it: waiters that need a connection fail. */
export const REFUSED = 2;
/**
 * What {@link ConnectGate.admit} says: a permit of the breaker (or `undefined` without one) to
 * go ahead, {@link WAIT} or {@link REFUSED}.
 */
export type Admission = Permit | undefined | typeof WAIT | typeof REFUSED;

/** What the gate does after a failed connect. */
export const HELD = 0;
export const OPENED = 1;
export const BACKING_OFF = 2;
export type FailureVerdict = typeof HELD | typeof OPENED | typeof BACKING_OFF;

/** What the gate calls back into; the pool implements it. */
export interface ConnectGateHost {
  isOpen(): boolean;
  readClock(): number;
  /** Creation may go on: serve waiters, keep `minSize`, grow toward the sizer's target. */
  resumeCreation(): void;
}

export interface ConnectGateOptions {
  readonly circuitBreaker: CircuitBreakerOptions | false;
  readonly connectBackoff: ResolvedConnectBackoff;
  readonly outageGraceMs: number;
  readonly random: () => number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/**
 * Creation policy: whether a physical connect may start now. In order:
 * 1. an authentication or configuration failure holds creation off for `connectBackoff.fatalMs`
 *    (`REFUSED`; the breaker is held isolated, so readiness says why);
 * 2. after a failure, one attempt at a time, each after its backoff step (`WAIT`), the steps
 *    drawn by the breaker package's `exponentialBackoff` with full jitter;
 * 3. the breaker must admit it (`REFUSED` while open; half-open admits its probes).
 *
 * While the breaker refuses, {@link ConnectGate.failDeadlinesUpTo} says which callers may still wait
 * for the probe: during the first `outageGraceMs` of an outage, those whose deadline falls after
 * the breaker's next probe. Its timers (retry, probe, fatal hold, grace end) are armed only when
 * someone waits for them, and unref'd.
 */
export class ConnectGate {
  readonly breaker: CircuitBreaker | undefined;
  /** Connects that failed in a row; 0 once one succeeds. While > 0, one attempt at a time. */
  failureStreak = 0;
  /** When the breaker last refused: how long until it admits a probe. */
  refusalRetryAfterMs = 0;
  /** An authentication/configuration failure holding creation off until `fatalTimer`. */
  fatalError: ConnectError | undefined = undefined;
  /** The fleet-wide budget (the `fleetBudget` option), attached by the connector that claims. */
  budget: Pick<FleetBudget<unknown>, 'mayConnect' | 'capacity' | 'stop'> | undefined = undefined;

  private readonly backoff: OpenDurationFunction;
  private readonly subscription: Disposable | undefined;
  /** No connect starts before this clock reading (the current backoff step). */
  private retryAt = Number.NEGATIVE_INFINITY;
  /** The first failed connect of the current outage; NaN while connects succeed. */
  private outageStartedAt = Number.NaN;
  private retryTimer: TimerHandle | undefined = undefined;
  private probeTimer: TimerHandle | undefined = undefined;
  private graceTimer: TimerHandle | undefined = undefined;
  private fatalTimer: TimerHandle | undefined = undefined;
  private fatalIsolation: Disposable | undefined = undefined;

  constructor(
    private readonly options: ConnectGateOptions,
    private readonly host: ConnectGateHost,
  ) {
    const { baseMs, capMs } = options.connectBackoff;
    // minMs 0: the draw spans the whole step; the 1 ms floor is applied where it is used.
    this.backoff = exponentialBackoff({ baseMs, capMs, jitter: 'full', minMs: 0 });
    if (options.circuitBreaker === false) {
      this.breaker = undefined;
      this.subscription = undefined;
      return;
    }
    const breaker = createCircuitBreaker(options.circuitBreaker);
    this.breaker = breaker;
    const { logger, logContext, name } = options;
    this.subscription = breaker.on('stateChange', (event) => {
      if (event.to === 'open') {
        logger.warn(
          `Pool "${name}": connection breaker opened; callers that need a new connection ` +
            `fail fast for ${Math.round(event.openDurationMs ?? 0)} ms` +
            (options.outageGraceMs > 0
              ? ` (after waiting up to outageGraceMs ${options.outageGraceMs} for a probe)`
              : ''),
          { ...logContext, reason: event.reason, attempt: event.attempt },
        );
      } else if (event.to === 'closed' && event.from !== 'closed') {
        logger.info(`Pool "${name}": connection breaker closed (${event.reason})`, {
          ...logContext,
        });
        // A reset or a lifted isolation by the user: creation may resume now. Deferred, so
        // the pool is never re-entered from inside a call it made to the breaker.
        if (event.reason === 'reset' || event.reason === 'isolation-released') {
          queueMicrotask(() => this.onBreakerReleased(event.reason === 'reset'));
        }
      }
    });
  }

  /** May a connect start now? `connecting` is how many are in flight. */
  admit(connecting: number): Admission {
    if (this.fatalError !== undefined) return REFUSED;
    if (this.failureStreak > 0) {
      if (connecting > 0) return WAIT;
      const now = this.host.readClock();
      if (now < this.retryAt) {
        this.armRetryTimer(now);
        return WAIT;
      }
    }
    // Before the breaker, so a connect the budget holds back takes no permit.
    if (this.budget !== undefined && !this.budget.mayConnect(connecting)) return WAIT;
    const breaker = this.breaker;
    if (breaker === undefined) return undefined;
    const admitted = breaker.tryAcquire();
    if (isBrokenCircuitError(admitted)) {
      this.refusalRetryAfterMs = admitted.retryAfterMs;
      return REFUSED;
    }
    return admitted;
  }

  /** A connect succeeded: the outage, if any, is over. Returns whether there was one. */
  succeeded(): boolean {
    const recovered = this.failureStreak > 0;
    this.failureStreak = 0;
    this.retryAt = Number.NEGATIVE_INFINITY;
    this.outageStartedAt = Number.NaN;
    this.clearTimer('graceTimer');
    return recovered;
  }

  /**
   * A connect failed with `reason`. Reports it to the breaker through its permit (only "the
   * database is unreachable" counts), then decides: a fatal hold, an open breaker, or the next
   * backoff step.
   */
  failed(
    reason: ErrorReason,
    error: ConnectError,
    permit: Permit | undefined,
    durationMs: number,
    now: number,
  ): FailureVerdict {
    this.failureStreak++;
    if (this.failureStreak === 1 || Number.isNaN(this.outageStartedAt)) {
      this.outageStartedAt = now;
    }
    // Retrying can't fix wrong credentials or a wrong database: hold creation off.
    if (reason === 'authentication' || reason === 'configuration') {
      permit?.ignore();
      this.enterFatalHold(error);
      return HELD;
    }
    if (permit !== undefined) {
      if (isUnreachableReason(reason)) permit.failure(error, durationMs);
      else permit.ignore();
    }
    const snapshot = this.breaker?.snapshot();
    if (snapshot?.state === 'open' || snapshot?.state === 'isolated') {
      this.refusalRetryAfterMs =
        snapshot.state === 'open' ? (snapshot.openRemainingMs ?? 0) : Number.POSITIVE_INFINITY;
      return OPENED;
    }
    // Full jitter, floored at 1 ms so a draw of 0 can't retry in the same instant.
    this.retryAt = now + Math.max(1, this.backoff(this.failureStreak, this.options.random));
    return BACKING_OFF;
  }

  /**
   * While connects are refused, which waiting callers to fail now: those whose deadline is at
   * or before the returned reading (`Infinity`: all of them; `-Infinity`: none). Callers wait
   * only in the first `outageGraceMs` of an outage, and only for a probe that comes before their
   * deadline; a fatal hold or an isolated breaker never waits. Arms the probe and grace-end
   * timers for those who wait.
   */
  failDeadlinesUpTo(now: number): number {
    const graceMs = this.options.outageGraceMs;
    if (graceMs === 0 || this.fatalError !== undefined || this.breaker === undefined) {
      return Number.POSITIVE_INFINITY;
    }
    if (Number.isNaN(this.outageStartedAt)) this.outageStartedAt = now;
    const graceEndsAt = this.outageStartedAt + graceMs;
    if (now >= graceEndsAt) return Number.POSITIVE_INFINITY;
    const state = this.breaker.getState();
    let probeAt: number;
    if (state === 'open') probeAt = now + this.refusalRetryAfterMs;
    else if (state === 'half-open') probeAt = now;
    else if (state === 'closed') return Number.NEGATIVE_INFINITY;
    else return Number.POSITIVE_INFINITY;
    this.armProbe();
    if (this.graceTimer === undefined) {
      this.graceTimer = this.options.clock.setTimeout(
        this.onGraceEnd,
        timerDelay(graceEndsAt - now),
      );
      unrefTimer(this.graceTimer);
    }
    return probeAt;
  }

  /** What a caller that needs a new connection gets while none can be opened. */
  refusalError(lastConnectError: ConnectError | undefined): ConnectError | CircuitOpenError {
    if (this.fatalError !== undefined) return this.fatalError;
    return new CircuitOpenError(this.refusalRetryAfterMs, {
      cause: lastConnectError,
      poolName: this.options.name,
    });
  }

  /**
   * Readiness as creation sees it: not while the breaker is open or isolated, nor while a fatal
   * hold keeps connects off (with the reason in words).
   */
  readiness(closed: boolean): Readiness {
    const verdict = checkReadiness({ closed, breakerState: this.breaker?.getState() });
    const fatal = this.fatalError;
    if (fatal === undefined || closed) return verdict;
    return {
      ready: false,
      reasons: [
        ...verdict.reasons,
        `connects fail with reason "${fatal.reason}"; no new connection is opened until ` +
          'the hold ends (connectBackoff.fatalMs) or connCircuitBreaker.reset()',
      ],
    };
  }

  /** The breaker refuses (open or isolated), or a fatal hold does. */
  refuses(): boolean {
    if (this.fatalError !== undefined) return true;
    const state = this.breaker?.getState();
    return state === 'open' || state === 'isolated';
  }

  /**
   * While the breaker refuses and something needs a connection, wakes the pool when it will
   * admit a probe. No timer when nothing waits: the next caller probes on demand.
   */
  armProbe(): void {
    const waitMs = this.refusalRetryAfterMs;
    if (this.probeTimer !== undefined || !Number.isFinite(waitMs)) return;
    this.probeTimer = this.options.clock.setTimeout(
      this.onProbeTimer,
      timerDelay(Math.max(1, waitMs)),
    );
    unrefTimer(this.probeTimer);
  }

  /**
   * The most connections the pool may hold now: `Infinity`, or with a fleet budget, those it
   * holds plus the free slots it knows of. The sizer's target should not exceed it.
   */
  growthLimit(): number {
    return this.budget === undefined ? Number.POSITIVE_INFINITY : this.budget.capacity();
  }

  /** Stops every timer and the breaker subscription (the pool is closing). */
  stop(): void {
    this.budget?.stop();
    this.clearTimer('retryTimer');
    this.clearTimer('probeTimer');
    this.clearTimer('graceTimer');
    this.clearTimer('fatalTimer');
  }

  dispose(): void {
    this.subscription?.dispose();
    // The pool made this breaker: with a shared store it leaves the store's subscription and
    // gives back a probe lease it holds, so a closed pool keeps no Redis traffic or lease.
    this.breaker?.dispose();
  }

  private armRetryTimer(now: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.options.clock.setTimeout(
      this.onRetryTimer,
      timerDelay(this.retryAt - now),
    );
    unrefTimer(this.retryTimer);
  }

  private readonly onRetryTimer = (): void => {
    this.retryTimer = undefined;
    this.wake();
  };

  private readonly onProbeTimer = (): void => {
    this.probeTimer = undefined;
    this.wake();
  };

  /** The grace is over: callers still held for a probe are refused now, if the breaker is. */
  private readonly onGraceEnd = (): void => {
    this.graceTimer = undefined;
    this.wake();
  };

  private wake(): void {
    if (!this.host.isOpen()) return;
    this.host.readClock();
    this.host.resumeCreation();
  }

  /** The user reset the breaker or lifted an isolation: creation may resume at once. */
  private onBreakerReleased(reset: boolean): void {
    if (!this.host.isOpen()) return;
    if (reset) {
      this.endFatalHold(false);
      this.failureStreak = 0;
      this.retryAt = Number.NEGATIVE_INFINITY;
      this.outageStartedAt = Number.NaN;
      this.clearTimer('graceTimer');
    }
    if (this.fatalError !== undefined) return;
    this.host.resumeCreation();
  }

  /**
   * An authentication or configuration failure: retrying can't fix it, so no connection is
   * opened for `connectBackoff.fatalMs`, the breaker is held isolated (not ready), and callers
   * that need a connection get this error at once.
   */
  private enterFatalHold(error: ConnectError): void {
    const { clock, connectBackoff, logger, logContext, name } = this.options;
    this.fatalError = error;
    this.clearTimer('fatalTimer');
    this.fatalTimer = clock.setTimeout(() => this.endFatalHold(true), connectBackoff.fatalMs);
    unrefTimer(this.fatalTimer);
    if (this.breaker !== undefined && this.fatalIsolation === undefined) {
      this.fatalIsolation = this.breaker.isolate();
    }
    logger.error(
      `Pool "${name}": connect failed with reason "${error.reason}"; no new connection ` +
        `for ${connectBackoff.fatalMs} ms (connectBackoff.fatalMs)`,
      { ...logContext, reason: error.reason, error: errorMessage(error) },
    );
  }

  private endFatalHold(resume: boolean): void {
    this.clearTimer('fatalTimer');
    const wasHeld = this.fatalError !== undefined;
    this.fatalError = undefined;
    const isolation = this.fatalIsolation;
    this.fatalIsolation = undefined;
    // Lifting the isolation closes the breaker, whose event resumes creation; without a
    // breaker, resume here.
    isolation?.dispose();
    if (resume && wasHeld && isolation === undefined && this.host.isOpen()) {
      this.host.resumeCreation();
    }
  }

  private clearTimer(name: 'retryTimer' | 'probeTimer' | 'graceTimer' | 'fatalTimer'): void {
    const timer = this[name];
    if (timer === undefined) return;
    this.options.clock.clearTimeout(timer);
    this[name] = undefined;
  }
}
