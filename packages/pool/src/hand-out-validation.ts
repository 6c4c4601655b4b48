import {
  type Clock,
  type Driver,
  type ErrorReason,
  type LogContext,
  type Logger,
  ValidationError,
} from '@enhanced-pool/core';
import { callDriver, errorMessage } from './driver-calls.js';
import type { IdleList } from './idle-list.js';
import type { PoolCounters } from './pool-counters.js';
import type { DestroyReason } from './pool-events.js';
import { CHECKING, type ConnectionRecord, type PoolLease } from './pooled-connection.js';
import { timerDelay } from './timer-delay.js';
import { QUEUED, VALIDATING, type Waiter, type WaitQueue } from './wait-queue.js';

/** What hand-out validation calls back into; the pool implements it. */
export interface HandOutHost<TConnection> {
  /** A validated hand-out ends a wait: for the sizer's sums and the wait histogram. */
  noteWait(waitMs: number): void;
  isOpen(): boolean;
  readClock(): number;
  classify(error: unknown): ErrorReason;
  grant(
    record: ConnectionRecord<TConnection>,
    now: number,
    waitMs: number,
    stack: string | undefined,
  ): PoolLease<TConnection>;
  /** A connection free again: to the first waiter, else to idle. */
  returnRecord(record: ConnectionRecord<TConnection>, now: number): void;
  /** Put a waiter whose connection failed validation back in the queue and serve it again. */
  retryWaiter(waiter: Waiter<TConnection>): void;
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason, error?: unknown): void;
}

export interface HandOutValidationOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  readonly clock: Clock;
  readonly validateAfterIdleMs: number;
  readonly idle: IdleList<TConnection>;
  readonly queue: WaitQueue<TConnection>;
  readonly counters: PoolCounters;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/** `idleSince` of a suspect: older than any threshold, so the next hand-out validates it. */
const SUSPECT = Number.NEGATIVE_INFINITY;

/**
 * Validation before hand-out, and suspicion. An idle connection trusted too long ago
 * (`validateAfterIdleMs`) makes one round trip before its waiter gets it, within that waiter's
 * deadline; if it fails, the waiter goes back to the head of the queue and is served by another
 * idle connection or a new one, still within its deadline.
 *
 * Suspicion: when one connection turns out dead (a connection-class error, a failed
 * validation, a broken socket), the others that were idle at that moment probably died with
 * it (a server restart, a proxy or firewall dropping idle sockets, an admin killing idle
 * backends). Each is then validated before its next hand-out, however recently it was used.
 */
export class HandOutValidation<TConnection> {
  constructor(
    private readonly options: HandOutValidationOptions<TConnection>,
    private readonly host: HandOutHost<TConnection>,
  ) {}

  /**
   * Marks every idle connection suspect. Costs nothing on the hot path: a suspect's trusted-since
   * reading is set to `-Infinity`, which the usual `now - idleSince < validateAfterIdleMs` test
   * already sends to validation. `validateAfterIdleMs: Infinity` (never validate) is respected.
   */
  suspectIdle(cause: ConnectionRecord<TConnection> | undefined): void {
    if (this.options.validateAfterIdleMs === Number.POSITIVE_INFINITY) return;
    let marked = 0;
    for (let record = this.options.idle.oldest; record !== undefined; record = record.newer) {
      if (record === cause || record.idleSince === SUSPECT) continue;
      record.idleSince = SUSPECT;
      marked++;
    }
    if (marked === 0) return;
    this.options.counters.suspected += marked;
    this.options.logger.debug(
      `Pool "${this.options.name}": a connection died; validating ${marked} idle connection(s) ` +
        'before their next hand-out',
      { ...this.options.logContext, connectionId: cause?.id },
    );
  }

  /** Validates `record` for `waiter` (already out of the queue) within its deadline. */
  start(waiter: Waiter<TConnection>, record: ConnectionRecord<TConnection>, now: number): void {
    record.state = CHECKING;
    waiter.phase = VALIDATING;
    waiter.record = record;
    const controller = new AbortController();
    waiter.controller = controller;
    this.options.queue.validating.add(waiter);
    waiter.timer = this.options.clock.setTimeout(
      () => this.onDeadline(waiter),
      timerDelay(waiter.deadline - now),
    );
    const { driver } = this.options;
    callDriver(() => driver.validate(record.connection, { signal: controller.signal })).then(
      () => this.onValidated(waiter, record),
      (error: unknown) => this.onFailed(waiter, record, error),
    );
  }

  private onDeadline(waiter: Waiter<TConnection>): void {
    waiter.timer = undefined;
    if (waiter.phase !== VALIDATING) return;
    waiter.gaveUp = 'timeout';
    const { queue } = this.options;
    const error = queue.timeoutError(waiter, this.host.readClock());
    queue.settle(waiter);
    waiter.reject(error);
    waiter.controller?.abort(error);
  }

  private finish(waiter: Waiter<TConnection>): void {
    if (waiter.timer !== undefined) {
      this.options.clock.clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
    this.options.queue.validating.delete(waiter);
    waiter.record = undefined;
    waiter.controller = undefined;
  }

  private onValidated(waiter: Waiter<TConnection>, record: ConnectionRecord<TConnection>): void {
    this.finish(waiter);
    if (record.state !== CHECKING) return;
    const now = this.host.readClock();
    record.lastValidatedAt = now;
    if (waiter.phase === VALIDATING) {
      this.options.queue.settle(waiter);
      const waitMs = now - waiter.enqueuedAt;
      this.host.noteWait(waitMs);
      const lease = this.host.grant(record, now, waitMs, waiter.stack);
      lease.validated = true;
      waiter.resolve(lease);
    } else {
      // Its caller gave up, but the connection proved healthy: the next waiter or idle gets it.
      record.idleSince = now;
      this.host.returnRecord(record, now);
    }
  }

  private onFailed(
    waiter: Waiter<TConnection>,
    record: ConnectionRecord<TConnection>,
    error: unknown,
  ): void {
    this.finish(waiter);
    if (record.state !== CHECKING) return;
    let reason: DestroyReason = 'validation-failed';
    if (!this.host.isOpen() || waiter.gaveUp === 'close') reason = 'close';
    else if (waiter.gaveUp === 'abort') reason = 'aborted';
    if (reason === 'validation-failed') {
      const { counters, logger, logContext, name } = this.options;
      counters.validationFailures++;
      counters.errors++;
      logger.debug(`Pool "${name}": connection ${record.id} failed validation`, {
        ...logContext,
        error: errorMessage(error),
      });
      error = new ValidationError(this.host.classify(error), error);
      // Before the waiter is served again: the idle connection it gets next is validated too.
      this.suspectIdle(record);
    }
    if (waiter.phase === VALIDATING) {
      // Replace it within the same deadline: back to the head of the queue, then serve it from
      // another idle connection or a new one.
      waiter.phase = QUEUED;
      this.host.retryWaiter(waiter);
    }
    this.host.discard(record, reason, error);
  }
}
