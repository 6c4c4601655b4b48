import type { Permit } from '@enhanced-pool/circuit-breaker';
import {
  type Clock,
  ConnectError,
  type Driver,
  type ErrorReason,
  isRetryableReason,
  type LogContext,
  type Logger,
  PoolClosedError,
  type TimerHandle,
  type TypedEmitter,
  unrefTimer,
} from '@enhanced-pool/core';
import type { CloseProtocol } from './close-protocol.js';
import { BACKING_OFF, type ConnectGate, HELD, REFUSED, WAIT } from './connect-gate.js';
import { callDriver, errorMessage } from './driver-calls.js';
import { FleetBudget, type FleetBudgetHost } from './fleet-budget.js';
import { FleetBudgetUnsupportedError } from './fleet-budget-error.js';
import { fleetSlotsOf, type ResolvedFleetBudget } from './fleet-budget-options.js';
import type { IdleList } from './idle-list.js';
import type { Lease } from './lease.js';
import type { PoolCounters } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import type { ReadyWaiters } from './ready-waiters.js';
import type { SizingLoop } from './sizing-loop.js';
import type { Waiter, WaitQueue } from './wait-queue.js';

/** What {@link Connector.start} did, besides {@link WAIT} and {@link REFUSED}. */
export const STARTED = 0;
type ConnectOutcome = typeof STARTED | typeof WAIT | typeof REFUSED;

/** Weight of the newest connect duration in the smoothed connect time. */
const CONNECT_TIME_WEIGHT = 0.3;

/**
 * One `driver.connect()` in flight.
 */
export class ConnectAttempt<TConnection> {
  readonly controller = new AbortController();
  timer: TimerHandle | undefined = undefined;
  settled = false;
  abortCause: 'timeout' | 'surplus' | 'close' | undefined = undefined;

  constructor(
    /** The waiter it was started for; cleared when that waiter settles. */
    public waiter: Waiter<TConnection> | undefined,
    readonly startedAt: number,
    /** The breaker's admission; reported exactly once, when the connect settles. */
    readonly permit: Permit | undefined,
    /** Started to keep `minSize` (counted as a replacement in health reports). */
    readonly forMinimum: boolean,
  ) {}
}

/** What the connector reads from and calls back into; the pool implements it. */
export interface ConnectorHost<TConnection> {
  readonly size: number;
  readonly targetSize: number;
  readonly lastNow: number;
  readonly idle: IdleList<TConnection>;
  readonly queue: WaitQueue<TConnection>;
  isOpen(): boolean;
  readClock(): number;
  classify(error: unknown): ErrorReason;
  /** A connect succeeded: make the connection a member of the pool (or close it if closing). */
  adopt(connection: TConnection, attempt: ConnectAttempt<TConnection>, now: number): void;
  /** Needed with a fleet budget: a lease to count free slots on, in turn with other callers. */
  acquire?(): Promise<Lease<TConnection>>;
  /** Needed with a fleet budget: slots may be free again. */
  resumeCreation?(): void;
}

function isBudgetHost<TConnection>(
  host: ConnectorHost<TConnection>,
): host is ConnectorHost<TConnection> & FleetBudgetHost<TConnection> {
  return typeof host.acquire === 'function' && typeof host.resumeCreation === 'function';
}

/** A new connection found no free slot of the fleet budget and was closed at once. */
const NO_SLOT: unique symbol = Symbol('no free fleet slot');

export interface ConnectorOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly clock: Clock;
  readonly minSize: number;
  readonly maxSize: number;
  readonly acquireTimeoutMs: number;
  readonly counters: PoolCounters;
  readonly events: TypedEmitter<PoolEvents>;
  /** `ready()` callers: rejected when a connect fails below `minSize`. */
  readonly readyWaiters: Pick<ReadyWaiters, 'rejectAll'>;
  /** Told when a connect settles during close. */
  readonly closer: Pick<CloseProtocol<TConnection>, 'check'>;
  /** Its tick starts when a connect does. */
  readonly sizing: Pick<SizingLoop<TConnection>, 'arm'> | undefined;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
  /** The `fleetBudget` option; each new connection claims a slot before it joins. */
  readonly fleetBudget?: ResolvedFleetBudget | undefined;
  /** For the budget's jittered looks. */
  readonly random?: () => number;
}

/**
 * Opens physical connections: decides how many are useful (one per queued waiter not covered
 * by a connect in flight, what `minSize` lacks, what the sizer's target lacks), paces them
 * while connections are in use, runs each `driver.connect()` under the pool's deadline and
 * abort, and turns its outcome into the gate's verdict and the waiters' fate. Every connect
 * passes the {@link ConnectGate} first.
 */
export class Connector<TConnection> {
  /** Connects in flight; they count toward `maxSize`. */
  connecting = 0;
  lastConnectError: ConnectError | undefined = undefined;
  lastConnectErrorAt = Number.NEGATIVE_INFINITY;
  private readonly attempts = new Set<ConnectAttempt<TConnection>>();
  /** Exponentially smoothed duration of successful connects; NaN before the first. */
  private smoothedConnectMs = Number.NaN;
  // Copied out of `options`: read on every queued acquire.
  private readonly minSize: number;
  private readonly maxSize: number;
  /** The fleet budget's claims and looks; `undefined` without `fleetBudget`. */
  readonly budget: FleetBudget<TConnection> | undefined;
  /** Aborts the budget's statements when the pool closes. */
  private readonly closing = new AbortController();

  constructor(
    private readonly options: ConnectorOptions<TConnection>,
    private readonly gate: ConnectGate,
    private readonly host: ConnectorHost<TConnection>,
  ) {
    this.minSize = options.minSize;
    this.maxSize = options.maxSize;
    const budget = options.fleetBudget;
    const slots = budget === undefined ? undefined : fleetSlotsOf(options.driver);
    if (budget !== undefined && slots !== undefined && isBudgetHost(host)) {
      const { clock, logger, logContext, name } = options;
      this.budget = new FleetBudget(
        {
          budget,
          slots,
          driverName: options.driver.name,
          clock,
          random: options.random ?? Math.random,
          logger,
          logContext,
          name,
          signal: this.closing.signal,
        },
        host,
      );
      gate.budget = this.budget;
    } else this.budget = undefined;
  }

  /**
   * How many connects are useful now: one per queued waiter plus what `minSize` lacks, or what
   * the sizer's target lacks if that is more. A connect beyond it is surplus.
   */
  connectsNeeded(): number {
    const { size, targetSize, queue } = this.host;
    const missing = this.minSize - size;
    const forWaiters = queue.length + Math.max(missing, 0);
    return Math.max(forWaiters, targetSize - size);
  }

  /** Starts connects for queued waiters not already covered by one, within `maxSize`. */
  fillForWaiters(trigger: Waiter<TConnection> | undefined): void {
    const { queue } = this.host;
    const maxSize = this.maxSize;
    if (queue.length <= this.connecting || this.host.size + this.connecting >= maxSize) return;
    const allowed = this.allowedForWaiters();
    while (
      queue.length > this.connecting &&
      this.host.size + this.connecting < maxSize &&
      this.connecting < allowed
    ) {
      const outcome = this.start(trigger, false);
      if (outcome === REFUSED) {
        this.failUncoveredWaiters(undefined);
        return;
      }
      if (outcome === WAIT) return;
      trigger = undefined;
    }
  }

  /** Opens connections up to `minSize`, as far as the creation policy allows now. */
  ensureMinimum(): void {
    if (!this.host.isOpen()) return;
    while (this.host.size + this.connecting < this.minSize) {
      const outcome = this.start(undefined, true);
      if (outcome === STARTED) continue;
      if (outcome === REFUSED && this.gate.fatalError === undefined) this.gate.armProbe();
      return;
    }
  }

  /** Opens connections toward the sizer's target (pre-warming); never while refused. */
  growToTarget(): void {
    while (this.host.isOpen() && this.host.size + this.connecting < this.host.targetSize) {
      if (this.start(undefined, false) !== STARTED) return;
    }
  }

  /** After capacity was freed or creation may resume: serve waiters, keep `minSize`. */
  replenish(): void {
    if (!this.host.isOpen()) return;
    this.fillForWaiters(undefined);
    this.ensureMinimum();
  }

  /**
   * Fails the queued waiters that only a new connection could serve, now that none can be
   * opened: those beyond the connects still in flight, newest first, unless the pool is full
   * (then they wait for a release, as they would anyway). With `failure` (a connect error that
   * a retry won't fix) all of them; for a refusal of the breaker, those the gate does not let
   * wait for its probe (see `outageGraceMs`).
   */
  failUncoveredWaiters(failure: ConnectError | undefined): void {
    const { queue } = this.host;
    if (this.host.size + this.connecting >= this.maxSize) return;
    let excess = queue.length - this.connecting;
    if (excess <= 0) return;
    const failUpTo =
      failure === undefined
        ? this.gate.failDeadlinesUpTo(this.host.lastNow)
        : Number.POSITIVE_INFINITY;
    if (failUpTo === Number.NEGATIVE_INFINITY) return;
    const error = failure ?? this.gate.refusalError(this.lastConnectError);
    // Newest first: they have the latest deadlines, so the first one that may wait ends it
    // unless an older one cannot (deadlines only grow toward the tail).
    for (let waiter = queue.tail; waiter !== undefined && excess > 0; ) {
      const previous = waiter.previous;
      if (waiter.deadline <= failUpTo) {
        if (failure === undefined) this.options.counters.circuitRejections++;
        queue.reject(waiter, error);
      }
      excess--;
      waiter = previous;
    }
  }

  /** Aborts a connect: its deadline passed, nobody needs it any more, or the pool closes. */
  abort(attempt: ConnectAttempt<TConnection>, cause: 'timeout' | 'surplus' | 'close'): void {
    if (attempt.settled || attempt.abortCause !== undefined) return;
    attempt.abortCause = cause;
    let reason: unknown;
    if (cause === 'close') reason = new PoolClosedError({ poolName: this.options.name });
    else if (cause === 'timeout') {
      reason = new DOMException(
        `Connect timed out after ${this.options.acquireTimeoutMs} ms (acquireTimeoutMs)`,
        'TimeoutError',
      );
    } else reason = new DOMException('Connect no longer needed', 'AbortError');
    attempt.controller.abort(reason);
  }

  /** A waiter that gave up leaves the connect started for it: aborted, unless others need it. */
  release(attempt: ConnectAttempt<TConnection>): void {
    if (this.connecting > this.connectsNeeded()) this.abort(attempt, 'surplus');
  }

  abortAll(): void {
    this.closing.abort();
    for (const attempt of [...this.attempts]) this.abort(attempt, 'close');
  }

  /**
   * How many connects may be in flight for waiters (creation pacing). While connections are in
   * use, a release usually serves a waiter sooner than a new connection would: one connect is
   * started, and more only for waiters that have already waited a typical connect time (as
   * HikariCP does, a spike of short borrows then ends with about `minSize` connections, not one
   * per borrower). With nothing in use, or connects slow next to `acquireTimeoutMs`, one
   * connect per waiter.
   */
  private allowedForWaiters(): number {
    const connectMs = this.smoothedConnectMs;
    const { size, idle, queue } = this.host;
    if (size === idle.count || !(connectMs * 4 <= this.options.acquireTimeoutMs)) {
      return Number.POSITIVE_INFINITY;
    }
    // Waiters are in arrival order, so the overdue ones are a prefix of the queue.
    const overdueBefore = this.host.lastNow - connectMs;
    const limit = this.maxSize - size;
    let overdue = 0;
    for (
      let waiter = queue.head;
      waiter !== undefined && waiter.enqueuedAt <= overdueBefore && overdue < limit;
      waiter = waiter.next
    ) {
      overdue++;
    }
    return Math.max(1, overdue);
  }

  /**
   * The one place a physical connection is opened. The gate decides whether it may start; the
   * connect is bounded by `acquireTimeoutMs`, aborted on close, and aborted early when the
   * waiter it was started for gives up and nobody else needs it.
   */
  private start(waiter: Waiter<TConnection> | undefined, forMinimum: boolean): ConnectOutcome {
    if (!this.host.isOpen()) return WAIT;
    const admission = this.gate.admit(this.connecting);
    if (admission === WAIT || admission === REFUSED) return admission;
    const { clock, counters, acquireTimeoutMs, driver } = this.options;
    const attempt = new ConnectAttempt<TConnection>(
      waiter,
      this.host.readClock(),
      admission,
      forMinimum,
    );
    if (waiter !== undefined) waiter.attempt = attempt;
    this.connecting++;
    counters.connectAttempts++;
    this.attempts.add(attempt);
    attempt.timer = clock.setTimeout(() => this.abort(attempt, 'timeout'), acquireTimeoutMs);
    unrefTimer(attempt.timer);
    this.options.sizing?.arm();
    callDriver(() =>
      this.budget === undefined
        ? driver.connect({ signal: attempt.controller.signal })
        : this.openWithSlot(attempt, this.budget),
    ).then(
      (connection) => this.onConnected(attempt, connection),
      (error: unknown) => this.onConnectFailed(attempt, error),
    );
    return STARTED;
  }

  /**
   * With a fleet budget: connects, then claims a slot on the new connection before it joins.
   * One that finds no slot (or can't hold one) is closed before the attempt settles, so the
   * pool's close waits for it and the excess lasts one round trip.
   */
  private async openWithSlot(
    attempt: ConnectAttempt<TConnection>,
    budget: FleetBudget<TConnection>,
  ): Promise<TConnection> {
    const { driver } = this.options;
    const signal = attempt.controller.signal;
    const connection = await driver.connect({ signal });
    let claimed: boolean;
    try {
      claimed = await budget.claim(connection, signal);
    } catch (error) {
      await callDriver(() => driver.close(connection)).catch(() => {});
      throw error;
    }
    if (!claimed) {
      await callDriver(() => driver.close(connection)).catch(() => {});
      throw NO_SLOT;
    }
    return connection;
  }

  private settle(attempt: ConnectAttempt<TConnection>): void {
    attempt.settled = true;
    if (attempt.timer !== undefined) this.options.clock.clearTimeout(attempt.timer);
    attempt.timer = undefined;
    this.attempts.delete(attempt);
    this.connecting--;
    const waiter = attempt.waiter;
    if (waiter !== undefined && waiter.attempt === attempt) waiter.attempt = undefined;
  }

  private onConnected(attempt: ConnectAttempt<TConnection>, connection: TConnection): void {
    this.settle(attempt);
    const now = this.host.readClock();
    const durationMs = now - attempt.startedAt;
    attempt.permit?.success(durationMs);
    if (this.host.isOpen()) {
      if (this.gate.succeeded()) {
        this.options.logger.info(
          `Pool "${this.options.name}": connects succeed again`,
          this.options.logContext,
        );
      }
      this.smoothedConnectMs = Number.isNaN(this.smoothedConnectMs)
        ? durationMs
        : this.smoothedConnectMs + CONNECT_TIME_WEIGHT * (durationMs - this.smoothedConnectMs);
    }
    this.host.adopt(connection, attempt, now);
    // Overdue waiters may now get connects of their own (pacing), and a recovery refills.
    this.replenish();
  }

  private onConnectFailed(attempt: ConnectAttempt<TConnection>, error: unknown): void {
    this.settle(attempt);
    const permit = attempt.permit;
    if (!this.host.isOpen()) {
      permit?.ignore();
      this.options.closer.check();
      return;
    }
    if (error === NO_SLOT) {
      // The database answered; the fleet is full. Waiters wait (within their deadline) for a
      // release or for the budget's next look.
      permit?.success(this.host.readClock() - attempt.startedAt);
      this.gate.succeeded();
      this.replenish();
      return;
    }
    if (attempt.abortCause === 'surplus') {
      permit?.ignore();
      return;
    }
    const { counters, events, logger, logContext, name, driver } = this.options;
    const now = this.host.readClock();
    const unsupported = FleetBudgetUnsupportedError.isInstance(error);
    const reason: ErrorReason = unsupported
      ? 'configuration'
      : attempt.abortCause === 'timeout'
        ? 'timeout'
        : this.host.classify(error);
    const connectError = unsupported
      ? error
      : new ConnectError(reason, error, { driverName: driver.name });
    const durationMs = now - attempt.startedAt;
    counters.errors++;
    counters.connectErrors++;
    counters.connectErrorsByReason[reason]++;
    this.lastConnectError = connectError;
    this.lastConnectErrorAt = now;
    if (events.has('connectError')) {
      events.emit('connectError', { error: connectError, reason, durationMs });
    }
    const verdict = this.gate.failed(reason, connectError, permit, durationMs, now);
    if (verdict !== HELD) {
      // The first failure of a streak is news; the rest of an outage is in the stats.
      const streak = this.gate.failureStreak;
      const log = streak === 1 ? logger.warn : logger.debug;
      log.call(logger, `Pool "${name}": connect failed (${reason})`, {
        ...logContext,
        reason,
        durationMs,
        failuresInARow: streak,
        error: errorMessage(error),
      });
    }
    if (verdict !== BACKING_OFF) this.failUncoveredWaiters(undefined);
    // A `query` failure (a session setup statement) won't pass on a retry either: the callers
    // waiting for a connection get it now rather than at their deadline.
    else if (!isRetryableReason(reason)) this.failUncoveredWaiters(connectError);
    if (this.host.size < this.minSize) this.options.readyWaiters.rejectAll(connectError);
    this.replenish();
  }
}
