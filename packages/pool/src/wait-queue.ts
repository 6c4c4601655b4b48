import {
  AcquireTimeoutError,
  type Clock,
  type ConnectError,
  type TimerHandle,
  type TypedEmitter,
} from '@enhanced-pool/core';
import type { Lease } from './lease.js';
import type { PoolCounters, PoolGauges } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import type { ConnectionRecord } from './pooled-connection.js';
import { timerDelay } from './timer-delay.js';

/** Waiter phases. */
export const QUEUED = 0;
/** Out of the queue, waiting for the validation of the connection it was given. */
export const VALIDATING = 1;
export const SETTLED = 2;
export type WaiterPhase = typeof QUEUED | typeof VALIDATING | typeof SETTLED;

const noop = (): void => {};

/** The connect started for a waiter, as the waiter sees it (the connector's `ConnectAttempt`). */
export interface WaiterAttempt<TConnection> {
  waiter: Waiter<TConnection> | undefined;
}

/**
 * An acquire that could not be served at once: queued, or waiting for a validation. One object
 * per such acquire; it is its own queue node (`previous` / `next`).
 */
export class Waiter<TConnection> {
  resolve: (lease: Lease<TConnection>) => void = noop;
  reject: (error: unknown) => void = noop;
  readonly promise: Promise<Lease<TConnection>>;
  phase: WaiterPhase = QUEUED;
  previous: Waiter<TConnection> | undefined = undefined;
  next: Waiter<TConnection> | undefined = undefined;
  /** The connect started on this waiter's behalf, if any. */
  attempt: WaiterAttempt<TConnection> | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** While VALIDATING: the connection, the validate() signal and the deadline timer. */
  record: ConnectionRecord<TConnection> | undefined = undefined;
  controller: AbortController | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  gaveUp: 'timeout' | 'abort' | 'close' | undefined = undefined;

  constructor(
    readonly enqueuedAt: number,
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    readonly stack: string | undefined,
    /** Serve it only a connection that made a round trip now: validated, or new. */
    readonly mustValidate: boolean,
  ) {
    this.promise = new Promise<Lease<TConnection>>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** What the queue reads from and calls back into; the pool implements it. */
export interface WaitQueueHost<TConnection> {
  readClock(): number;
  gauges(): PoolGauges;
  /** The last connect error if it happened at or after `since`: a timeout's likely cause. */
  connectErrorSince(since: number): ConnectError | undefined;
  /** A waiter gave up: abort the connect started for it, unless others need it. */
  releaseAttempt(attempt: WaiterAttempt<TConnection>): void;
}

export interface WaitQueueOptions {
  readonly clock: Clock;
  readonly acquireTimeoutMs: number;
  readonly counters: PoolCounters;
  readonly events: TypedEmitter<PoolEvents>;
  readonly name: string;
}

/**
 * The acquires waiting for a connection: queued first in first out, as an intrusive list with
 * O(1) removal from anywhere (an abort), or out of the queue while the connection they were
 * given is validated. Every waiter gets the same `acquireTimeoutMs`, so arrival order is
 * deadline order and one shared timer, armed for the head's deadline, covers the whole queue:
 * never a timer per waiter. Each waiter settles exactly once ({@link WaitQueue.settle}).
 */
export class WaitQueue<TConnection> {
  head: Waiter<TConnection> | undefined = undefined;
  tail: Waiter<TConnection> | undefined = undefined;
  length = 0;
  /** Waiters out of the queue, waiting for the validation of their connection. */
  readonly validating = new Set<Waiter<TConnection>>();
  private timer: TimerHandle | undefined = undefined;
  private timerDueAt = Number.POSITIVE_INFINITY;
  // Copied out of `options`: read on every queued acquire.
  private readonly clock: Clock;
  private readonly counters: PoolCounters;
  private readonly acquireTimeoutMs: number;

  constructor(
    private readonly options: WaitQueueOptions,
    private readonly host: WaitQueueHost<TConnection>,
  ) {
    this.clock = options.clock;
    this.counters = options.counters;
    this.acquireTimeoutMs = options.acquireTimeoutMs;
  }

  /** Acquires not yet settled: queued, or being validated for. */
  get pending(): number {
    return this.length + this.validating.size;
  }

  /** A waiter for an acquire at `now`, listening to its signal. Not queued yet. */
  create(
    now: number,
    signal: AbortSignal | undefined,
    stack: string | undefined,
    mustValidate: boolean,
  ): Waiter<TConnection> {
    this.counters.waited++;
    const waiter = new Waiter<TConnection>(
      now,
      now + this.acquireTimeoutMs,
      signal,
      stack,
      mustValidate,
    );
    if (signal !== undefined) {
      const onAbort = (): void => this.onAborted(waiter);
      waiter.onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return waiter;
  }

  /** Marks a waiter done: no more timers, listeners or connect on its behalf. */
  settle(waiter: Waiter<TConnection>): void {
    if (waiter.phase === VALIDATING) this.validating.delete(waiter);
    waiter.phase = SETTLED;
    if (waiter.onAbort !== undefined) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = undefined;
    }
    const attempt = waiter.attempt;
    if (attempt !== undefined) {
      waiter.attempt = undefined;
      attempt.waiter = undefined;
      // A caller who left (abort, close) no longer needs the connect started for it. One who
      // timed out leaves it to its own deadline: a connect that hangs must count as a failed
      // one (the breaker and the backoff see a black-holed database), not as surplus.
      if (waiter.gaveUp === 'abort' || waiter.gaveUp === 'close') this.host.releaseAttempt(attempt);
    }
  }

  /** Takes a queued waiter out and rejects it. */
  reject(waiter: Waiter<TConnection>, error: unknown): void {
    this.unlink(waiter);
    this.settle(waiter);
    waiter.reject(error);
  }

  /** Rejects every waiter, queued or validating (the pool is closing). */
  rejectAll(error: unknown): void {
    this.stop();
    for (let waiter = this.head; waiter !== undefined; waiter = this.head) {
      waiter.gaveUp = 'close';
      this.reject(waiter, error);
    }
    for (const waiter of [...this.validating]) {
      waiter.gaveUp = 'close';
      this.settle(waiter);
      waiter.reject(error);
      waiter.controller?.abort(error);
    }
  }

  /** Counts a timeout and builds its error, with the pool's figures and the likely cause. */
  timeoutError(waiter: Waiter<TConnection>, now: number): AcquireTimeoutError {
    const { events, name } = this.options;
    this.counters.timeouts++;
    const gauges = this.host.gauges();
    const error = new AcquireTimeoutError(
      {
        waitedMs: now - waiter.enqueuedAt,
        poolSize: gauges.size,
        active: gauges.active,
        pending: gauges.pending,
      },
      { poolName: name, cause: this.host.connectErrorSince(waiter.enqueuedAt) },
    );
    if (events.has('acquireTimeout')) events.emit('acquireTimeout', { error });
    return error;
  }

  /** Appends a newly arrived waiter. */
  push(waiter: Waiter<TConnection>, now: number): void {
    const tail = this.tail;
    waiter.previous = tail;
    if (tail === undefined) this.head = waiter;
    else tail.next = waiter;
    this.tail = waiter;
    this.length++;
    if (waiter.deadline < this.timerDueAt) this.arm(waiter.deadline, now);
  }

  /**
   * Puts a waiter back in deadline order: it was at or near the head before a validation
   * failed, and keeps its place ahead of callers who came later.
   */
  insertByDeadline(waiter: Waiter<TConnection>): void {
    let after: Waiter<TConnection> | undefined;
    let before = this.head;
    while (before !== undefined && before.deadline <= waiter.deadline) {
      after = before;
      before = before.next;
    }
    waiter.previous = after;
    waiter.next = before;
    if (after === undefined) this.head = waiter;
    else after.next = waiter;
    if (before === undefined) this.tail = waiter;
    else before.previous = waiter;
    this.length++;
    if (waiter.deadline < this.timerDueAt) this.arm(waiter.deadline, this.host.readClock());
  }

  unlink(waiter: Waiter<TConnection>): void {
    const { previous, next } = waiter;
    if (previous === undefined) this.head = next;
    else previous.next = next;
    if (next === undefined) this.tail = previous;
    else next.previous = previous;
    waiter.previous = undefined;
    waiter.next = undefined;
    if (--this.length === 0) this.stop();
  }

  /** Clears the deadline timer (the queue emptied, or the pool is closing). */
  stop(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Number.POSITIVE_INFINITY;
  }

  private arm(dueAt: number, now: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = this.clock.setTimeout(this.onTimer, timerDelay(dueAt - now));
  }

  /** Expires every waiter whose deadline passed: they are at the head. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueAt = Number.POSITIVE_INFINITY;
    const now = this.host.readClock();
    for (let waiter = this.head; waiter !== undefined; waiter = this.head) {
      if (waiter.deadline > now) {
        this.arm(waiter.deadline, now);
        return;
      }
      const error = this.timeoutError(waiter, now);
      waiter.gaveUp = 'timeout';
      this.reject(waiter, error);
    }
  };

  private onAborted(waiter: Waiter<TConnection>): void {
    waiter.onAbort = undefined;
    if (waiter.phase === SETTLED) return;
    const reason = waiter.signal?.reason;
    waiter.gaveUp = 'abort';
    this.counters.aborted++;
    if (waiter.phase === VALIDATING) {
      this.settle(waiter);
      waiter.reject(reason);
      waiter.controller?.abort(reason);
    } else this.reject(waiter, reason);
  }
}
