import {
  AcquireTimeoutError,
  type Clock,
  type Driver,
  type DriverCallOptions,
  type ErrorReason,
  InvalidOptionError,
  PoolClosedError,
  PoolExhaustedError,
  type TimerHandle,
  unrefTimer,
} from '@enhanced-pool/core';
import { callDriver, isBrokenWith } from './driver-calls.js';
import type { Lease } from './lease.js';
import type { AcquireOptions, QueryOptions } from './pool.js';
import type { PoolGauges } from './pool-counters.js';
import { ACTIVE, type PoolLease } from './pooled-connection.js';
import type { QueryStats } from './query-stats.js';
import { findSessionStatement } from './statement-guard.js';
import { StatementRefusedError } from './statement-guard-error.js';
import { timerDelay } from './timer-delay.js';

/** What the shared statements reach of the pool; the pool implements it. */
export interface SharedQueryHost<TConnection> {
  /** The pool's own acquire: a shared connection is a lease the pool holds for its callers. */
  acquire(options?: AcquireOptions): Promise<Lease<TConnection>>;
  classify(error: unknown): ErrorReason;
  readClock(): number;
  isOpen(): boolean;
  /** Idle connections ready to hand out now. */
  idleCount(): number;
  /** Whether the pool may open another connection now (below `maxSize`, connects included). */
  canGrow(): boolean;
  /** Acquires waiting in the pool's queue, ours included. */
  waitingAcquires(): number;
  gauges(): PoolGauges;
}

/** What the shared statements are built with; resolved pool options. */
export interface SharedQueryOptions<TConnection> {
  readonly driver: Driver<TConnection>;
  /** Statements on the wire per connection at most; 1 for a driver without pipelining. */
  readonly maxInFlightPerConnection: number;
  /** Connections shared at once at most. */
  readonly maxSharedConnections: number;
  /** How long a statement may wait for room on a shared connection. */
  readonly acquireTimeoutMs: number;
  /** Statements allowed to wait beyond what connections being opened will take. */
  readonly maxWaiting: number;
  readonly clock: Clock;
  readonly name: string;
}

const QUEUED = 0;
const SENT = 1;
const SETTLED = 2;

/** One `pool.query()`: queued, then on a lane's wire, then settled. */
class Statement {
  state: typeof QUEUED | typeof SENT | typeof SETTLED = QUEUED;
  /** Queue links. */
  previous: Statement | undefined = undefined;
  next: Statement | undefined = undefined;
  queued = false;
  deadline = 0;
  retried = false;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly text: string,
    readonly values: readonly unknown[] | undefined,
    readonly signal: AbortSignal | undefined,
    readonly idempotent: boolean,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** A connection the pool holds for shared statements, and what is on its wire. */
class Lane<TConnection> {
  inFlight = 0;
  /** Takes new statements; false once draining (lifetime over, yielding, dead). */
  accepting = true;
  /** Stopped accepting to give its connection to a lease waiter. */
  yielding = false;
  /**
   * When it last made progress (opened, or answered a statement), on a counter: between lanes
   * with as many statements on the wire, the one answering most recently is the better bet (a
   * slow statement answers nothing).
   */
  progress = 0;

  constructor(
    readonly lease: PoolLease<TConnection>,
    readonly connection: TConnection,
    readonly expiresAt: number,
  ) {}
}

/**
 * `pool.query()`: single statements from many callers sent down a few connections the pool
 * borrows from itself and shares, pipelined when the driver can (`driver.pipelining`).
 *
 * A shared connection is an ordinary lease ("lane"), so it counts in the pool's size, is health
 * checked and validated like any other while idle, and is closed by `close()`. A lane is taken
 * when statements need room and handed back once a turn of the event loop passes with nothing of
 * ours on its wire, so an idle pool holds none. Each statement goes to the least loaded lane with room under
 * `maxInFlightPerConnection`; once that lane has half the bound on its wire, another lane is
 * opened instead (an idle connection is at hand, or the pool can grow), so one slow statement
 * delays at most the few sent behind it. With no room anywhere, statements wait first in, first out, within
 * `acquireTimeoutMs`, honouring their signal. A lane gives its connection back early when a
 * lease caller is waiting, so transactions are never starved by shared statements.
 *
 * Errors stay with their statement; a connection that dies (reason `connection`) fails only what
 * was on its wire, and is retired and replaced by the pool.
 */
export class SharedQuery<TConnection> {
  private readonly lanes: Lane<TConnection>[] = [];
  /** Lanes asked of the pool and not yet granted. */
  private opening = 0;
  /** Lanes giving their connection back to a lease waiter. */
  private yielding = 0;
  private head: Statement | undefined = undefined;
  private tail: Statement | undefined = undefined;
  private queuedCount = 0;
  private inFlightCount = 0;
  /** Counts lane openings and answers; see `Lane.progress`. */
  private sequence = 0;
  private timer: TimerHandle | undefined = undefined;
  private timerDueAt = Infinity;
  /** Hands back, once the event loop turns, the lanes whose wire is still clear. */
  private sweep: NodeJS.Immediate | undefined = undefined;
  private closed = false;
  private readonly query: NonNullable<Driver<TConnection>['query']> | undefined;
  /** What the driver gets: aborted only when the pool is done with every connection. */
  private readonly controller = new AbortController();
  private readonly callOptions: DriverCallOptions = { signal: this.controller.signal };
  private readonly bound: number;
  /**
   * A statement goes behind others on a shared connection until the least loaded one has this
   * many on its wire (half the bound); only then is another connection taken. Deep pipelines on
   * few connections answer more statements per wake-up of client and server than shallow ones
   * on many (measured: on 2 cores, 16 callers got about 1.6× the throughput on 4 connections
   * than on 10), and a slow statement still holds back fewer than this many.
   */
  private readonly spreadAt: number;

  private succeeded = 0;
  private failed = 0;
  private refused = 0;
  private aborted = 0;
  private dropped = 0;
  private timeouts = 0;
  private exhausted = 0;
  private retries = 0;

  constructor(
    private readonly options: SharedQueryOptions<TConnection>,
    private readonly host: SharedQueryHost<TConnection>,
  ) {
    const { driver } = options;
    this.query = typeof driver.query === 'function' ? driver.query.bind(driver) : undefined;
    this.bound = driver.pipelining === true ? options.maxInFlightPerConnection : 1;
    this.spreadAt = Math.ceil(this.bound / 2);
  }

  /** `pool.query(text, values, options)`. */
  run(
    text: string,
    values: readonly unknown[] | undefined,
    options?: QueryOptions,
  ): Promise<unknown> {
    const { name } = this.options;
    if (this.closed || !this.host.isOpen()) {
      return Promise.reject(new PoolClosedError({ poolName: name }));
    }
    const signal = options?.signal;
    const idempotent = options?.idempotent === true;
    const problem = checkArguments(text, values, options);
    if (problem !== undefined) return Promise.reject(problem);
    if (this.query === undefined) {
      this.refused++;
      return Promise.reject(
        new StatementRefusedError('no-driver-query', undefined, {
          poolName: name,
          driverName: this.options.driver.name,
        }),
      );
    }
    const session = findSessionStatement(text);
    if (session !== undefined) {
      this.refused++;
      return Promise.reject(
        new StatementRefusedError('session-state', session, { poolName: name }),
      );
    }
    if (signal?.aborted) {
      this.aborted++;
      return Promise.reject(signal.reason);
    }
    let statement!: Statement;
    const promise = new Promise<unknown>((resolve, reject) => {
      statement = new Statement(text, values, signal, idempotent, resolve, reject);
    });
    if (signal !== undefined) {
      const onAbort = (): void => this.abandon(statement);
      statement.onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    this.route(statement, this.host.readClock());
    return promise;
  }

  /** The figures for `getStats()`. */
  stats(): QueryStats {
    return {
      inFlight: this.inFlightCount,
      queued: this.queuedCount,
      sharedConnections: this.lanes.length,
      succeeded: this.succeeded,
      failed: this.failed,
      refused: this.refused,
      aborted: this.aborted,
      dropped: this.dropped,
      timeouts: this.timeouts,
      exhausted: this.exhausted,
      retries: this.retries,
    };
  }

  /**
   * The pool is closing: waiting statements fail with `error`, lanes take nothing more and hand
   * their connections back once what is on their wire is answered.
   */
  close(error: PoolClosedError): void {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer();
    if (this.sweep !== undefined) {
      clearImmediate(this.sweep);
      this.sweep = undefined;
    }
    while (this.head !== undefined) {
      const statement = this.head;
      this.unlink(statement);
      this.settle(statement);
      statement.reject(error);
    }
    for (const lane of [...this.lanes]) {
      lane.accepting = false;
      if (lane.inFlight === 0) this.releaseLane(lane);
    }
  }

  /** Every connection is closed: anything a driver still holds for us is abandoned. */
  dispose(): void {
    this.controller.abort(new PoolClosedError({ poolName: this.options.name }));
  }

  // -------------------------------------------------------------------------------------------
  // Routing

  private route(statement: Statement, now: number): void {
    if (this.head !== undefined) {
      // Others are waiting: first in, first out.
      this.enqueue(statement, now);
      return;
    }
    const lane = this.leastLoaded(now);
    const canOpen = this.lanes.length + this.opening < this.options.maxSharedConnections;
    if (lane !== undefined && (lane.inFlight < this.spreadAt || !canOpen)) {
      this.send(lane, statement);
      return;
    }
    if (canOpen && this.host.idleCount() > this.opening) {
      // An idle connection is at hand: a lane of its own rather than a place behind others.
      this.openLane();
      this.enqueue(statement, now);
      return;
    }
    if (lane !== undefined) {
      this.send(lane, statement);
      if (canOpen && this.opening === 0 && this.host.canGrow()) this.openLane();
      return;
    }
    if (canOpen && (this.opening === 0 || this.host.canGrow())) this.openLane();
    this.enqueue(statement, now);
  }

  /** The accepting lane with the fewest statements on its wire and room for one more. */
  private leastLoaded(now: number): Lane<TConnection> | undefined {
    const { lanes, bound } = this;
    let best: Lane<TConnection> | undefined;
    for (let index = 0; index < lanes.length; index++) {
      const lane = lanes[index]!;
      if (!lane.accepting || lane.inFlight >= bound) continue;
      if (
        best !== undefined &&
        (lane.inFlight > best.inFlight ||
          (lane.inFlight === best.inFlight && lane.progress < best.progress))
      ) {
        continue;
      }
      if (now >= lane.expiresAt || isBrokenWith(this.options.driver, lane.connection)) {
        // Its lifetime is over, or it died: it drains and the pool retires it.
        this.stopAccepting(lane);
        continue;
      }
      best = lane;
      if (lane.inFlight === 0) break;
    }
    return best;
  }

  private send(lane: Lane<TConnection>, statement: Statement): void {
    statement.state = SENT;
    lane.inFlight++;
    this.inFlightCount++;
    const query = this.query!;
    callDriver(() =>
      query(lane.connection, statement.text, statement.values, this.callOptions),
    ).then(
      (result) => this.answered(statement, lane, result),
      (error: unknown) => this.failedOn(statement, lane, error),
    );
  }

  /** Sends waiting statements to lanes with room, oldest first. */
  private pump(): void {
    if (this.head === undefined) return;
    const now = this.host.readClock();
    while (this.head !== undefined) {
      const lane = this.leastLoaded(now);
      if (lane === undefined) break;
      const statement = this.head;
      this.unlink(statement);
      this.send(lane, statement);
    }
    if (this.head === undefined) this.stopTimer();
    else this.growForQueue();
  }

  /** Statements wait with no lane to take them: ask the pool for one more, if allowed. */
  private growForQueue(): void {
    if (this.closed || this.head === undefined) return;
    if (this.lanes.length + this.opening >= this.options.maxSharedConnections) return;
    if (this.opening === 0 || this.host.idleCount() > this.opening || this.host.canGrow()) {
      this.openLane();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Answers

  private answered(statement: Statement, lane: Lane<TConnection>, result: unknown): void {
    if (statement.state === SENT) {
      this.settle(statement);
      this.succeeded++;
      statement.resolve(result);
    } else this.dropped++;
    this.finishOnLane(lane);
  }

  private failedOn(statement: Statement, lane: Lane<TConnection>, error: unknown): void {
    const reason = this.host.classify(error);
    if (reason === 'connection') {
      this.stopAccepting(lane);
      this.reportOnLease(lane, error);
    } else if (reason === 'timeout') {
      this.reportOnLease(lane, error);
    }
    if (statement.state !== SENT) {
      this.dropped++;
      this.finishOnLane(lane);
      return;
    }
    if (
      reason === 'connection' &&
      statement.idempotent &&
      !statement.retried &&
      !this.closed &&
      this.host.isOpen()
    ) {
      statement.retried = true;
      statement.state = QUEUED;
      this.retries++;
      this.finishOnLane(lane);
      // At the front: it has waited its turn already.
      this.requeueFirst(statement);
      return;
    }
    this.settle(statement);
    this.failed++;
    statement.reject(error);
    this.finishOnLane(lane);
  }

  /** A statement left `lane`'s wire. */
  private finishOnLane(lane: Lane<TConnection>): void {
    lane.progress = ++this.sequence;
    lane.inFlight--;
    this.inFlightCount--;
    if (lane.accepting && this.yielding < this.host.waitingAcquires() - this.opening) {
      // A lease caller waits for a connection: give this one back once its wire is clear.
      lane.yielding = true;
      this.yielding++;
      this.stopAccepting(lane);
    }
    if (lane.accepting && this.head !== undefined) this.pump();
    if (lane.inFlight === 0) this.drained(lane);
  }

  /**
   * Nothing of ours is on `lane`'s wire. A lane that still takes statements is kept until the
   * event loop turns: the callers just answered usually send their next statement in this same
   * turn, and handing the connection back and borrowing it again for each would cost an acquire
   * and a release per few statements (measured: one per 7 at 64 callers) and leave the next
   * statements waiting for the acquire. A draining lane, one yielding to a lease caller, or one
   * of a closed pool goes back at once.
   */
  private drained(lane: Lane<TConnection>): void {
    if (!lane.accepting || this.closed) {
      this.releaseLane(lane);
      this.growForQueue();
      return;
    }
    if (this.sweep === undefined) {
      this.sweep = setImmediate(this.onSweep);
      this.sweep.unref();
    }
  }

  private readonly onSweep = (): void => {
    this.sweep = undefined;
    const { lanes } = this;
    for (let index = lanes.length - 1; index >= 0; index--) {
      const lane = lanes[index]!;
      if (lane.inFlight === 0) this.releaseLane(lane);
    }
    this.growForQueue();
  };

  /** Tells the pool about an error on a lane's connection (it retires it on release if need be). */
  private reportOnLease(lane: Lane<TConnection>, error: unknown): void {
    if (lane.lease.state === ACTIVE) lane.lease.reportError(error);
  }

  // -------------------------------------------------------------------------------------------
  // Lanes

  private openLane(): void {
    if (this.closed) return;
    this.opening++;
    this.host.acquire().then(
      (lease) => this.laneOpened(lease as PoolLease<TConnection>),
      (error: unknown) => this.laneFailed(error),
    );
  }

  private laneOpened(lease: PoolLease<TConnection>): void {
    this.opening--;
    if (this.closed || !this.host.isOpen()) {
      lease.release();
      return;
    }
    // Held by the pool itself for many callers, for as long as there is work: never a leak.
    lease.leakReported = true;
    const lane = new Lane(lease, lease.connection, lease.record.expiresAt);
    lane.progress = ++this.sequence;
    this.lanes.push(lane);
    this.pump();
    if (lane.inFlight === 0) this.drained(lane);
  }

  private laneFailed(error: unknown): void {
    this.opening--;
    if (this.lanes.length > 0 || this.opening > 0) return;
    // Nothing will serve the waiting statements: they fail as an acquire would have.
    this.stopTimer();
    while (this.head !== undefined) {
      const statement = this.head;
      this.unlink(statement);
      this.settle(statement);
      statement.reject(error);
    }
  }

  private stopAccepting(lane: Lane<TConnection>): void {
    lane.accepting = false;
  }

  private releaseLane(lane: Lane<TConnection>): void {
    const index = this.lanes.indexOf(lane);
    if (index === -1) return;
    const last = this.lanes.pop()!;
    if (index < this.lanes.length) this.lanes[index] = last;
    if (lane.yielding) {
      lane.yielding = false;
      this.yielding--;
    }
    // A lease revoked at close is already the pool's again; release() is then a no-op.
    lane.lease.release();
  }

  // -------------------------------------------------------------------------------------------
  // The wait queue

  /** Queues `statement`, or rejects it when `maxWaiting` are already waiting. */
  private enqueue(statement: Statement, now: number): void {
    const expected = this.opening * this.bound;
    if (this.queuedCount >= this.options.maxWaiting + expected) {
      this.exhausted++;
      this.settle(statement);
      statement.reject(
        new PoolExhaustedError(this.options.maxWaiting, { poolName: this.options.name }),
      );
      return;
    }
    statement.deadline = now + this.options.acquireTimeoutMs;
    statement.queued = true;
    statement.previous = this.tail;
    if (this.tail === undefined) this.head = statement;
    else this.tail.next = statement;
    this.tail = statement;
    this.queuedCount++;
    this.armTimer(statement.deadline, now);
  }

  private requeueFirst(statement: Statement): void {
    statement.queued = true;
    statement.previous = undefined;
    statement.next = this.head;
    if (this.head === undefined) this.tail = statement;
    else this.head.previous = statement;
    this.head = statement;
    this.queuedCount++;
    const now = this.host.readClock();
    // A fresh deadline: its first wait is over.
    statement.deadline = now + this.options.acquireTimeoutMs;
    this.armTimer(statement.deadline, now);
    this.pump();
  }

  private unlink(statement: Statement): void {
    if (!statement.queued) return;
    statement.queued = false;
    const { previous, next } = statement;
    if (previous === undefined) this.head = next;
    else previous.next = next;
    if (next === undefined) this.tail = previous;
    else next.previous = previous;
    statement.previous = undefined;
    statement.next = undefined;
    this.queuedCount--;
  }

  /** The one timer: due at the earliest deadline of the queue. */
  private armTimer(dueAt: number, now: number): void {
    if (this.timer !== undefined && this.timerDueAt <= dueAt) return;
    this.stopTimer();
    this.timerDueAt = dueAt;
    this.timer = this.options.clock.setTimeout(this.onTimer, timerDelay(dueAt - now));
    unrefTimer(this.timer);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    const now = this.host.readClock();
    let earliest = Infinity;
    for (let statement = this.head; statement !== undefined; ) {
      const next = statement.next;
      if (statement.deadline <= now) {
        this.unlink(statement);
        this.settle(statement);
        this.timeouts++;
        const gauges = this.host.gauges();
        statement.reject(
          new AcquireTimeoutError(
            {
              waitedMs: now - (statement.deadline - this.options.acquireTimeoutMs),
              poolSize: gauges.size,
              active: gauges.active,
              pending: gauges.pending + this.queuedCount,
            },
            { poolName: this.options.name },
          ),
        );
      } else if (statement.deadline < earliest) earliest = statement.deadline;
      statement = next;
    }
    if (earliest < Infinity) this.armTimer(earliest, now);
  };

  // -------------------------------------------------------------------------------------------
  // Settling

  /** The caller gave up: out of the queue, or its result dropped once it arrives. */
  private abandon(statement: Statement): void {
    if (statement.state === SETTLED) return;
    this.unlink(statement);
    const reason = statement.signal!.reason;
    this.settle(statement);
    this.aborted++;
    statement.reject(reason);
    if (this.head === undefined) this.stopTimer();
  }

  private settle(statement: Statement): void {
    statement.state = SETTLED;
    if (statement.onAbort !== undefined) {
      statement.signal!.removeEventListener('abort', statement.onAbort);
      statement.onAbort = undefined;
    }
  }
}

/** A typed error for what the caller passed, or `undefined`. */
function checkArguments(
  text: unknown,
  values: unknown,
  options: QueryOptions | undefined,
): Error | undefined {
  if (typeof text !== 'string') {
    return new InvalidOptionError('text', text, 'a string of SQL');
  }
  if (values !== undefined && !Array.isArray(values)) {
    return new InvalidOptionError('values', values, 'an array of parameters, or undefined');
  }
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    return new InvalidOptionError('options', options, 'an object { signal, idempotent }');
  }
  const { signal, idempotent } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return new InvalidOptionError('signal', signal, 'an AbortSignal');
  }
  if (idempotent !== undefined && typeof idempotent !== 'boolean') {
    return new InvalidOptionError('idempotent', idempotent, 'true or false');
  }
  return undefined;
}
