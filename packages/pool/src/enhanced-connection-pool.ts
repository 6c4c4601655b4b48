import {
  AcquireTimeoutError,
  type Clock,
  ConnectError,
  type Disposable,
  type Driver,
  type DriverCallOptions,
  type ErrorReason,
  InvalidReleaseError,
  isConnectionFatalReason,
  type Listener,
  type LogContext,
  type Logger,
  numberOption,
  PoolClosedError,
  PoolExhaustedError,
  redactSecrets,
  type TimerHandle,
  TypedEmitter,
  toDisposable,
  unrefTimer,
  ValidationError,
} from '@enhanced-pool/core';
import type { Lease } from './lease.js';
import type {
  AcquireOptions,
  CloseOptions,
  Pool,
  ReadyOptions,
  WithConnectionContext,
} from './pool.js';
import { DESTROY_REASONS, type DestroyReason, type PoolEvents } from './pool-events.js';
import {
  MAX_TIMER_DELAY_MS,
  type PoolOptions,
  type ResolvedPoolOptions,
  resolvePoolOptions,
} from './pool-options.js';
import type { PoolStats } from './pool-stats.js';
import {
  ACTIVE,
  CHECKING,
  ConnectionRecord,
  DESTROYED,
  IDLE,
  LEASED,
  type LeaseOwner,
  PoolLease,
  RELEASED,
  RELEASING,
  REVOKED,
} from './pooled-connection.js';

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

/** Waiter phases. */
const QUEUED = 0;
const VALIDATING = 1;
const SETTLED = 2;

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
/** First delay before the pool retries keeping `minSize` after a failed connect; doubles. */
const FILL_RETRY_BASE_MS = 1_000;
const FILL_RETRY_MAX_MS = 30_000;

const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;
const noop = (): void => {};

function timerDelay(ms: number): number {
  return ms <= 0 ? 0 : ms >= MAX_TIMER_DELAY_MS ? MAX_TIMER_DELAY_MS : Math.ceil(ms);
}

/** Calls a driver method so that a synchronous throw becomes a rejection. */
function callDriver<T>(call: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

function errorMessage(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** An acquire that could not be served at once: queued, or waiting for a validation. */
class Waiter<TConnection> {
  resolve: (lease: Lease<TConnection>) => void = noop;
  reject: (error: unknown) => void = noop;
  readonly promise: Promise<Lease<TConnection>>;
  phase = QUEUED;
  previous: Waiter<TConnection> | undefined = undefined;
  next: Waiter<TConnection> | undefined = undefined;
  /** The connect started on this waiter's behalf, if any. */
  attempt: ConnectAttempt<TConnection> | undefined = undefined;
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
  ) {
    this.promise = new Promise<Lease<TConnection>>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** One `driver.connect()` in flight. */
class ConnectAttempt<TConnection> {
  readonly controller = new AbortController();
  timer: TimerHandle | undefined = undefined;
  settled = false;
  abortCause: 'timeout' | 'surplus' | 'close' | undefined = undefined;

  constructor(
    /** The waiter it was started for; cleared when that waiter settles. */
    public waiter: Waiter<TConnection> | undefined,
    readonly startedAt: number,
  ) {}
}

interface ReadyWaiter {
  resolve(): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

function zeroByReason(): Record<DestroyReason, number> {
  const counts = {} as Record<DestroyReason, number>;
  for (const reason of DESTROY_REASONS) counts[reason] = 0;
  return counts;
}

/**
 * The enhanced connection pool (the seed's `EnhancedConnectionPool`). `createPool()` returns
 * the same thing typed as the {@link Pool} interface.
 *
 * Internals, for contributors: idle connections are an intrusive doubly linked list used as a
 * stack (hand out the most recently released, so surplus connections age out at the other end
 * where the reaper looks); waiters are an intrusive FIFO list with O(1) removal; one shared
 * timer covers the deadlines of every queued waiter, because FIFO order is deadline order.
 * Background timers (reaper, leak sweep, minimum refill) are armed lazily and unref'd. Every
 * physical connect goes through `startConnect()`, the one place creation policy lives.
 *
 * @typeParam TConnection - the driver's connection type.
 */
export class EnhancedConnectionPool<TConnection>
  implements Pool<TConnection>, LeaseOwner<TConnection>
{
  readonly name: string;

  private readonly options: ResolvedPoolOptions<TConnection>;
  private readonly driver: Driver<TConnection>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly acquireTimeoutMs: number;
  private readonly validateAfterIdleMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxUses: number;
  private readonly maxWaiting: number;
  private readonly leakDetectionMs: number;
  private readonly hasIsBroken: boolean;
  /** Release needs async work (reset or validateOnRelease). */
  private readonly releaseIsAsync: boolean;
  private readonly logContext: LogContext;

  private readonly events = new TypedEmitter<PoolEvents>();
  private observeAcquired = false;
  private observeReleased = false;
  private observeCreated = false;
  private observeDestroyed = false;

  private state = OPEN;
  /**
   * The latest clock reading. Releases use it instead of reading the clock (one reading per
   * acquire+release cycle instead of two): it is never later than the true release time, so
   * idle time is overestimated, never under: validation errs toward validating.
   */
  private lastNow: number;
  private readonly closeController = new AbortController();
  /** Options for driver calls bounded only by the pool's life (reset, validate on release). */
  private readonly closeCallOptions: DriverCallOptions;

  /** Every open connection, for `releaseConnection()`, leak sweeps and close. */
  private readonly records = new Map<TConnection, ConnectionRecord<TConnection>>();
  private size = 0;
  private idleCount = 0;
  private idleOldest: ConnectionRecord<TConnection> | undefined = undefined;
  private idleNewest: ConnectionRecord<TConnection> | undefined = undefined;
  private connecting = 0;
  private readonly attempts = new Set<ConnectAttempt<TConnection>>();
  private pendingCloses = 0;
  private nextConnectionId = 1;
  private nextLeaseId = 1;

  private queueHead: Waiter<TConnection> | undefined = undefined;
  private queueTail: Waiter<TConnection> | undefined = undefined;
  private queueLength = 0;
  private queueTimer: TimerHandle | undefined = undefined;
  private queueTimerDueAt = Infinity;
  private readonly validating = new Set<Waiter<TConnection>>();

  private reaperTimer: TimerHandle | undefined = undefined;
  private reaperDueAt = Infinity;
  private leakTimer: TimerHandle | undefined = undefined;
  private fillTimer: TimerHandle | undefined = undefined;
  private fillFailures = 0;
  private readyWaiters: ReadyWaiter[] = [];
  private closePromise: Promise<void> | undefined = undefined;
  private closeResolve: () => void = noop;
  private closeTimer: TimerHandle | undefined = undefined;
  private lastConnectError: ConnectError | undefined = undefined;
  private lastConnectErrorAt = -Infinity;

  private acquiredCount = 0;
  private releasedCount = 0;
  private createdCount = 0;
  private destroyedCount = 0;
  private errorCount = 0;
  private timeoutCount = 0;
  private connectErrorCount = 0;
  private validationFailureCount = 0;
  private resetFailureCount = 0;
  private exhaustedCount = 0;
  private abortedCount = 0;
  private waitedCount = 0;
  private leakCount = 0;
  private readonly destroyedByReason = zeroByReason();

  constructor(options: PoolOptions<TConnection>) {
    const resolved = resolvePoolOptions(options);
    this.options = resolved;
    this.name = resolved.name;
    this.driver = resolved.driver;
    this.clock = resolved.clock;
    this.logger = resolved.logger;
    this.minSize = resolved.minSize;
    this.maxSize = resolved.maxSize;
    this.acquireTimeoutMs = resolved.acquireTimeoutMs;
    this.validateAfterIdleMs = resolved.validateAfterIdleMs;
    this.idleTimeoutMs = resolved.idleTimeoutMs;
    this.maxUses = resolved.maxUses;
    this.maxWaiting = resolved.maxWaiting;
    this.leakDetectionMs = resolved.leakDetectionMs;
    this.hasIsBroken = typeof this.driver.isBroken === 'function';
    this.releaseIsAsync = typeof this.driver.reset === 'function' || resolved.validateOnRelease;
    this.closeCallOptions = { signal: this.closeController.signal };
    this.lastNow = this.clock.now();
    let description: LogContext = {};
    try {
      description = { ...this.driver.describe() };
    } catch {
      // A driver that can't describe itself still works; logs just carry less context.
    }
    this.logContext = { pool: this.name, driver: this.driver.name, ...description };
    this.ensureMinimum();
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  on<TEvent extends keyof PoolEvents & string>(
    event: TEvent,
    listener: Listener<PoolEvents[TEvent]>,
  ): Disposable {
    const subscription = this.events.on(event, listener);
    this.refreshObservers();
    return toDisposable(() => {
      subscription.dispose();
      this.refreshObservers();
    });
  }

  acquire(options?: AcquireOptions): Promise<Lease<TConnection>> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    const signal = options?.signal;
    if (signal?.aborted) {
      this.abortedCount++;
      return Promise.reject(signal.reason);
    }
    const now = this.readClock();
    const stack = this.leakDetectionMs > 0 ? new Error('Lease acquired here').stack : undefined;
    if (this.queueHead === undefined && this.idleNewest !== undefined) {
      const record = this.takeIdle(now);
      if (record !== undefined) {
        if (now - record.idleSince < this.validateAfterIdleMs) {
          return Promise.resolve(this.grant(record, now, 0, stack));
        }
        const waiter = this.newWaiter(now, signal, stack);
        this.validateFor(waiter, record, now);
        return waiter.promise;
      }
    }
    if (this.queueLength >= this.maxWaiting) {
      this.exhaustedCount++;
      return Promise.reject(new PoolExhaustedError(this.maxWaiting, { poolName: this.name }));
    }
    const waiter = this.newWaiter(now, signal, stack);
    this.enqueue(waiter, now);
    this.fillForWaiters(waiter);
    this.ensureMinimum();
    return waiter.promise;
  }

  getConnection(options?: AcquireOptions): Promise<Lease<TConnection>> {
    return this.acquire(options);
  }

  releaseConnection(connection: TConnection, id: number): void {
    const record = this.records.get(connection);
    if (record === undefined) {
      throw new InvalidReleaseError(
        'foreign-connection',
        `Pool "${this.name}" does not own this connection (never acquired here, or already closed)`,
      );
    }
    const lease = record.lease;
    if (lease === undefined) {
      throw new InvalidReleaseError(
        'already-released',
        `Connection ${record.id} of pool "${this.name}" is not leased: it was already released`,
      );
    }
    if (lease.id !== id) {
      throw new InvalidReleaseError(
        'foreign-connection',
        `Lease id ${String(id)} is not the current lease of connection ${record.id}`,
      );
    }
    lease.release();
  }

  async withConnection<TResult>(
    fn: (connection: TConnection, context: WithConnectionContext) => TResult | PromiseLike<TResult>,
    options?: AcquireOptions,
  ): Promise<TResult> {
    const lease = (await this.acquire(options)) as PoolLease<TConnection>;
    let result: TResult;
    try {
      result = await fn(lease.connection, { signal: options?.signal });
    } catch (error) {
      if (lease.state === ACTIVE) {
        if (this.isConnectionFatal(error)) lease.destroy(error);
        else lease.release();
      }
      throw error;
    }
    if (lease.state === ACTIVE) lease.release();
    return result;
  }

  ready(options?: ReadyOptions): Promise<void> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    if (this.size >= this.minSize) return Promise.resolve();
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const entry: ReadyWaiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        entry.onAbort = () => {
          const index = this.readyWaiters.indexOf(entry);
          if (index !== -1) this.readyWaiters.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.readyWaiters.push(entry);
    });
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    let timeoutMs: number;
    try {
      timeoutMs = numberOption('timeoutMs', options?.timeoutMs, DEFAULT_CLOSE_TIMEOUT_MS, {
        min: 0,
        max: MAX_TIMER_DELAY_MS,
      });
    } catch (error) {
      return Promise.reject(error);
    }
    this.state = CLOSING;
    this.closePromise = new Promise<void>((resolve) => {
      this.closeResolve = resolve;
    });
    const closedError = new PoolClosedError({ poolName: this.name });
    this.closeController.abort(closedError);
    this.clearQueueTimer();
    this.clearBackgroundTimers();

    for (let waiter = this.queueHead; waiter !== undefined; waiter = this.queueHead) {
      this.unlinkWaiter(waiter);
      waiter.gaveUp = 'close';
      this.settleWaiter(waiter);
      waiter.reject(closedError);
    }
    for (const waiter of [...this.validating]) {
      if (waiter.phase !== VALIDATING) continue;
      waiter.gaveUp = 'close';
      this.settleWaiter(waiter);
      waiter.reject(closedError);
      waiter.controller?.abort(closedError);
    }
    for (const attempt of [...this.attempts]) this.abortAttempt(attempt, 'close');
    this.rejectReady(closedError);
    while (this.idleNewest !== undefined) this.discard(this.idleNewest, 'close');

    this.checkClosed();
    if (this.state === CLOSING) {
      if (timeoutMs === 0) this.forceClose();
      else this.closeTimer = this.clock.setTimeout(this.forceClose, timerDelay(timeoutMs));
    }
    return this.closePromise;
  }

  closeAll(options?: CloseOptions): Promise<void> {
    return this.close(options);
  }

  getStats(): PoolStats {
    return {
      name: this.name,
      state: this.state === OPEN ? 'open' : this.state === CLOSING ? 'closing' : 'closed',
      poolSize: this.size,
      idleConnections: this.idleCount,
      activeConnections: this.size - this.idleCount,
      connecting: this.connecting,
      pending: this.queueLength + this.validating.size,
      minSize: this.minSize,
      maxSize: this.maxSize,
      acquired: this.acquiredCount,
      released: this.releasedCount,
      created: this.createdCount,
      destroyed: this.destroyedCount,
      errors: this.errorCount,
      timeouts: this.timeoutCount,
      connectErrors: this.connectErrorCount,
      validationFailures: this.validationFailureCount,
      resetFailures: this.resetFailureCount,
      exhausted: this.exhaustedCount,
      aborted: this.abortedCount,
      waited: this.waitedCount,
      leaks: this.leakCount,
      destroyedByReason: { ...this.destroyedByReason },
    };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Never prints options or the driver: they can hold credentials. */
  [inspectSymbol](): string {
    const stats = this.getStats();
    return (
      `EnhancedConnectionPool { name: '${this.name}', state: '${stats.state}', ` +
      `size: ${stats.poolSize}, idle: ${stats.idleConnections}, ` +
      `active: ${stats.activeConnections}, connecting: ${stats.connecting}, ` +
      `pending: ${stats.pending} }`
    );
  }

  // ---------------------------------------------------------------------------------------
  // Leases (LeaseOwner)

  /** @internal */
  releaseLease(lease: PoolLease<TConnection>): void {
    if (lease.state !== ACTIVE) {
      if (lease.state === REVOKED) {
        lease.state = RELEASED;
        return;
      }
      throw new InvalidReleaseError('already-released', `Lease ${lease.id} was already released`);
    }
    lease.state = RELEASED;
    const record = lease.record;
    record.lease = undefined;
    this.releasedCount++;
    if (this.observeReleased) this.emitReleased(lease);
    if (record.uses >= this.maxUses) {
      this.discard(record, 'max-uses');
    } else if (this.releaseIsAsync) {
      record.state = RELEASING;
      void this.cleanUp(record);
    } else {
      this.returnRecord(record, this.lastNow);
    }
  }

  /** @internal */
  destroyLease(lease: PoolLease<TConnection>, error: unknown): void {
    if (lease.state !== ACTIVE) {
      if (lease.state === REVOKED) {
        lease.state = RELEASED;
        return;
      }
      throw new InvalidReleaseError('already-released', `Lease ${lease.id} was already released`);
    }
    lease.state = RELEASED;
    lease.record.lease = undefined;
    this.releasedCount++;
    if (this.observeReleased) this.emitReleased(lease);
    this.discard(lease.record, 'destroyed-by-user', error);
  }

  // ---------------------------------------------------------------------------------------
  // Hand-out

  /** Pops the most recently released usable idle connection, closing dead ones on the way. */
  private takeIdle(now: number): ConnectionRecord<TConnection> | undefined {
    for (let record = this.idleNewest; record !== undefined; record = this.idleNewest) {
      if (now >= record.expiresAt) this.discard(record, 'lifetime');
      else if (this.hasIsBroken && this.isBroken(record)) this.discard(record, 'broken');
      else {
        // Still marked IDLE: the caller sets the next state before anything else runs.
        this.unlinkIdle(record);
        return record;
      }
    }
    return undefined;
  }

  private grant(
    record: ConnectionRecord<TConnection>,
    now: number,
    waitMs: number,
    stack: string | undefined,
  ): PoolLease<TConnection> {
    record.state = LEASED;
    const uses = ++record.uses;
    const lease = new PoolLease(this, record, this.nextLeaseId++, uses === 1, now);
    record.lease = lease;
    this.acquiredCount++;
    if (this.leakDetectionMs > 0) {
      lease.stack = stack;
      if (this.leakTimer === undefined) this.armLeakTimer(now + this.leakDetectionMs, now);
    }
    if (this.observeAcquired) {
      this.events.emit('acquired', {
        connectionId: record.id,
        leaseId: lease.id,
        waitMs,
        isNew: lease.isNew,
      });
    }
    return lease;
  }

  /**
   * Where a connection goes when it is free again (released, opened, or validated after its
   * waiter gave up): to the first waiter, else to idle. Dead or expired ones are closed.
   */
  private returnRecord(record: ConnectionRecord<TConnection>, now: number): void {
    if (this.state !== OPEN) {
      this.discard(record, 'close');
      return;
    }
    if (this.hasIsBroken && this.isBroken(record)) {
      this.discard(record, 'broken');
      return;
    }
    if (now >= record.expiresAt) {
      this.discard(record, 'lifetime');
      return;
    }
    const waiter = this.queueHead;
    if (waiter !== undefined) {
      // `now` may be stale by up to the waiter's wait (its enqueue read the clock); near the
      // end of a connection's life, look again rather than hand out an expired connection.
      if (record.expiresAt - now <= this.acquireTimeoutMs) {
        now = this.readClock();
        if (now >= record.expiresAt) {
          this.discard(record, 'lifetime');
          return;
        }
      }
      this.unlinkWaiter(waiter);
      this.serve(waiter, record, now);
      return;
    }
    this.pushIdle(record, now);
  }

  /**
   * Resolves a queued waiter with a connection that needs no validation. `now` may be the
   * last reading rather than a fresh one; the clock is read again only when a leak timer or an
   * `acquired` listener needs the exact hand-out time.
   */
  private serve(
    waiter: Waiter<TConnection>,
    record: ConnectionRecord<TConnection>,
    now: number,
  ): void {
    this.settleWaiter(waiter);
    if (this.leakDetectionMs > 0 || this.observeAcquired) now = this.readClock();
    const waitMs = now > waiter.enqueuedAt ? now - waiter.enqueuedAt : 0;
    waiter.resolve(this.grant(record, now, waitMs, waiter.stack));
  }

  /** Serves queued waiters from idle connections (after a waiter went back to the queue). */
  private serveQueueFromIdle(): void {
    if (this.queueHead === undefined || this.idleNewest === undefined) return;
    const now = this.readClock();
    while (this.queueHead !== undefined && this.idleNewest !== undefined) {
      const record = this.takeIdle(now);
      if (record === undefined) return;
      const waiter = this.queueHead;
      this.unlinkWaiter(waiter);
      if (now - record.idleSince < this.validateAfterIdleMs) this.serve(waiter, record, now);
      else this.validateFor(waiter, record, now);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Validation before hand-out

  private validateFor(
    waiter: Waiter<TConnection>,
    record: ConnectionRecord<TConnection>,
    now: number,
  ): void {
    record.state = CHECKING;
    waiter.phase = VALIDATING;
    waiter.record = record;
    const controller = new AbortController();
    waiter.controller = controller;
    this.validating.add(waiter);
    waiter.timer = this.clock.setTimeout(
      () => this.onValidationDeadline(waiter),
      timerDelay(waiter.deadline - now),
    );
    callDriver(() => this.driver.validate(record.connection, { signal: controller.signal })).then(
      () => this.onValidated(waiter, record),
      (error: unknown) => this.onValidationFailed(waiter, record, error),
    );
  }

  private onValidationDeadline(waiter: Waiter<TConnection>): void {
    waiter.timer = undefined;
    if (waiter.phase !== VALIDATING) return;
    waiter.gaveUp = 'timeout';
    const error = this.timeoutError(waiter, this.readClock());
    this.settleWaiter(waiter);
    waiter.reject(error);
    waiter.controller?.abort(error);
  }

  private finishValidation(waiter: Waiter<TConnection>): void {
    if (waiter.timer !== undefined) {
      this.clock.clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
    this.validating.delete(waiter);
    waiter.record = undefined;
    waiter.controller = undefined;
  }

  private onValidated(waiter: Waiter<TConnection>, record: ConnectionRecord<TConnection>): void {
    this.finishValidation(waiter);
    if (record.state !== CHECKING) return;
    if (waiter.phase === VALIDATING) {
      this.settleWaiter(waiter);
      const now = this.readClock();
      waiter.resolve(this.grant(record, now, now - waiter.enqueuedAt, waiter.stack));
    } else {
      // Its caller gave up, but the connection proved healthy: the next waiter or idle gets it.
      this.returnRecord(record, this.readClock());
    }
  }

  private onValidationFailed(
    waiter: Waiter<TConnection>,
    record: ConnectionRecord<TConnection>,
    error: unknown,
  ): void {
    this.finishValidation(waiter);
    if (record.state !== CHECKING) return;
    let reason: DestroyReason = 'validation-failed';
    if (this.state !== OPEN || waiter.gaveUp === 'close') reason = 'close';
    else if (waiter.gaveUp === 'abort') reason = 'aborted';
    if (reason === 'validation-failed') {
      this.validationFailureCount++;
      this.errorCount++;
      this.logger.debug(`Pool "${this.name}": connection ${record.id} failed validation`, {
        ...this.logContext,
        error: errorMessage(error),
      });
      error = new ValidationError(this.classify(error), error);
    }
    if (waiter.phase === VALIDATING) {
      // Replace it within the same deadline: back to the head of the queue, then serve it from
      // another idle connection or a new one.
      waiter.phase = QUEUED;
      this.requeue(waiter);
      this.serveQueueFromIdle();
    }
    this.discard(record, reason, error);
  }

  // ---------------------------------------------------------------------------------------
  // Waiters

  private newWaiter(
    now: number,
    signal: AbortSignal | undefined,
    stack: string | undefined,
  ): Waiter<TConnection> {
    this.waitedCount++;
    const waiter = new Waiter<TConnection>(now, now + this.acquireTimeoutMs, signal, stack);
    if (signal !== undefined) {
      const onAbort = (): void => this.onWaiterAborted(waiter);
      waiter.onAbort = onAbort;
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return waiter;
  }

  private enqueue(waiter: Waiter<TConnection>, now: number): void {
    const tail = this.queueTail;
    waiter.previous = tail;
    if (tail === undefined) this.queueHead = waiter;
    else tail.next = waiter;
    this.queueTail = waiter;
    this.queueLength++;
    if (waiter.deadline < this.queueTimerDueAt) this.armQueueTimer(waiter.deadline, now);
  }

  /** Puts a waiter back in deadline order (it was at or near the head before validation). */
  private requeue(waiter: Waiter<TConnection>): void {
    let after: Waiter<TConnection> | undefined;
    let before = this.queueHead;
    while (before !== undefined && before.deadline <= waiter.deadline) {
      after = before;
      before = before.next;
    }
    waiter.previous = after;
    waiter.next = before;
    if (after === undefined) this.queueHead = waiter;
    else after.next = waiter;
    if (before === undefined) this.queueTail = waiter;
    else before.previous = waiter;
    this.queueLength++;
    if (waiter.deadline < this.queueTimerDueAt) {
      this.armQueueTimer(waiter.deadline, this.readClock());
    }
  }

  private unlinkWaiter(waiter: Waiter<TConnection>): void {
    const { previous, next } = waiter;
    if (previous === undefined) this.queueHead = next;
    else previous.next = next;
    if (next === undefined) this.queueTail = previous;
    else next.previous = previous;
    waiter.previous = undefined;
    waiter.next = undefined;
    if (--this.queueLength === 0) this.clearQueueTimer();
  }

  /** Marks a waiter done: no more timers, listeners or connect on its behalf. */
  private settleWaiter(waiter: Waiter<TConnection>): void {
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
      // A caller who gave up no longer needs the connect started for it, unless others do.
      if (waiter.gaveUp !== undefined && this.connecting > this.connectsNeeded()) {
        this.abortAttempt(attempt, 'surplus');
      }
    }
  }

  private onWaiterAborted(waiter: Waiter<TConnection>): void {
    waiter.onAbort = undefined;
    if (waiter.phase === SETTLED) return;
    const reason = waiter.signal?.reason;
    waiter.gaveUp = 'abort';
    this.abortedCount++;
    if (waiter.phase === QUEUED) {
      this.unlinkWaiter(waiter);
      this.settleWaiter(waiter);
      waiter.reject(reason);
    } else {
      this.settleWaiter(waiter);
      waiter.reject(reason);
      waiter.controller?.abort(reason);
    }
  }

  private armQueueTimer(dueAt: number, now: number): void {
    if (this.queueTimer !== undefined) this.clock.clearTimeout(this.queueTimer);
    this.queueTimerDueAt = dueAt;
    this.queueTimer = this.clock.setTimeout(this.onQueueTimer, timerDelay(dueAt - now));
  }

  private clearQueueTimer(): void {
    if (this.queueTimer === undefined) return;
    this.clock.clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
    this.queueTimerDueAt = Infinity;
  }

  /** Times out every queued waiter whose deadline passed (they are at the head: FIFO). */
  private readonly onQueueTimer = (): void => {
    this.queueTimer = undefined;
    this.queueTimerDueAt = Infinity;
    const now = this.readClock();
    for (let waiter = this.queueHead; waiter !== undefined; waiter = this.queueHead) {
      if (waiter.deadline > now) {
        this.armQueueTimer(waiter.deadline, now);
        return;
      }
      const error = this.timeoutError(waiter, now);
      this.unlinkWaiter(waiter);
      waiter.gaveUp = 'timeout';
      this.settleWaiter(waiter);
      waiter.reject(error);
    }
  };

  private timeoutError(waiter: Waiter<TConnection>, now: number): AcquireTimeoutError {
    this.timeoutCount++;
    const cause = this.lastConnectErrorAt >= waiter.enqueuedAt ? this.lastConnectError : undefined;
    const error = new AcquireTimeoutError(
      {
        waitedMs: now - waiter.enqueuedAt,
        poolSize: this.size,
        active: this.size - this.idleCount,
        pending: this.queueLength + this.validating.size,
      },
      { poolName: this.name, cause },
    );
    if (this.events.has('acquireTimeout')) this.events.emit('acquireTimeout', { error });
    return error;
  }

  // ---------------------------------------------------------------------------------------
  // Idle list

  private pushIdle(record: ConnectionRecord<TConnection>, now: number): void {
    record.state = IDLE;
    record.idleSince = now;
    const newest = this.idleNewest;
    record.older = newest;
    record.newer = undefined;
    if (newest === undefined) this.idleOldest = record;
    else newest.newer = record;
    this.idleNewest = record;
    this.idleCount++;
    const idleDue = this.size > this.minSize ? now + this.idleTimeoutMs : Infinity;
    const dueAt = Math.min(record.expiresAt, idleDue);
    if (dueAt < this.reaperDueAt) {
      // Arming a timer is the slow path anyway: take an exact reading for this connection.
      now = this.readClock();
      record.idleSince = now;
      const freshIdleDue = this.size > this.minSize ? now + this.idleTimeoutMs : Infinity;
      const freshDue = Math.min(record.expiresAt, freshIdleDue);
      if (freshDue < this.reaperDueAt) this.armReaper(freshDue, now);
    }
  }

  private unlinkIdle(record: ConnectionRecord<TConnection>): void {
    const { older, newer } = record;
    if (older === undefined) this.idleOldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.idleNewest = older;
    else newer.older = older;
    record.older = undefined;
    record.newer = undefined;
    this.idleCount--;
  }

  private armReaper(dueAt: number, now: number): void {
    if (this.reaperTimer !== undefined) this.clock.clearTimeout(this.reaperTimer);
    this.reaperDueAt = dueAt;
    this.reaperTimer = this.clock.setTimeout(this.onReaper, timerDelay(dueAt - now));
    unrefTimer(this.reaperTimer);
  }

  /** Closes idle connections past their lifetime, or idle too long while above `minSize`. */
  private readonly onReaper = (): void => {
    this.reaperTimer = undefined;
    this.reaperDueAt = Infinity;
    if (this.state !== OPEN) return;
    const now = this.readClock();
    for (let record = this.idleOldest; record !== undefined; ) {
      const newer = record.newer;
      if (now >= record.expiresAt) this.discard(record, 'lifetime');
      else if (now - record.idleSince >= this.idleTimeoutMs && this.size > this.minSize) {
        this.discard(record, 'idle-timeout');
      }
      record = newer;
    }
    let dueAt = Infinity;
    const idleApplies = this.size > this.minSize;
    for (let record = this.idleOldest; record !== undefined; record = record.newer) {
      if (record.expiresAt < dueAt) dueAt = record.expiresAt;
      if (idleApplies && record.idleSince + this.idleTimeoutMs < dueAt) {
        dueAt = record.idleSince + this.idleTimeoutMs;
      }
    }
    if (dueAt < Infinity) this.armReaper(dueAt, now);
  };

  // ---------------------------------------------------------------------------------------
  // Creation

  /** How many connects are useful now: one per queued waiter, plus what `minSize` lacks. */
  private connectsNeeded(): number {
    const missing = this.minSize - this.size;
    return this.queueLength + Math.max(missing, 0);
  }

  /** Starts one connect per queued waiter not already covered by one, within `maxSize`. */
  private fillForWaiters(trigger: Waiter<TConnection> | undefined): void {
    while (this.queueLength > this.connecting && this.size + this.connecting < this.maxSize) {
      this.startConnect(trigger);
      trigger = undefined;
    }
  }

  /** Opens connections up to `minSize`, unless a recent failure scheduled a retry. */
  private ensureMinimum(): void {
    if (this.state !== OPEN || this.fillTimer !== undefined) return;
    while (this.size + this.connecting < this.minSize) this.startConnect(undefined);
  }

  /** After capacity was freed: serve waiters with new connections and keep `minSize`. */
  private replenish(): void {
    if (this.state !== OPEN) return;
    this.fillForWaiters(undefined);
    this.ensureMinimum();
  }

  /**
   * The one place a physical connection is opened. The connect is bounded by
   * `acquireTimeoutMs`, aborted on close, and aborted early when the waiter it was started for
   * gives up and nobody else needs it.
   */
  private startConnect(waiter: Waiter<TConnection> | undefined): void {
    const attempt = new ConnectAttempt<TConnection>(waiter, this.readClock());
    if (waiter !== undefined) waiter.attempt = attempt;
    this.connecting++;
    this.attempts.add(attempt);
    attempt.timer = this.clock.setTimeout(
      () => this.abortAttempt(attempt, 'timeout'),
      this.acquireTimeoutMs,
    );
    unrefTimer(attempt.timer);
    callDriver(() => this.driver.connect({ signal: attempt.controller.signal })).then(
      (connection) => this.onConnected(attempt, connection),
      (error: unknown) => this.onConnectFailed(attempt, error),
    );
  }

  private abortAttempt(
    attempt: ConnectAttempt<TConnection>,
    cause: 'timeout' | 'surplus' | 'close',
  ): void {
    if (attempt.settled || attempt.abortCause !== undefined) return;
    attempt.abortCause = cause;
    let reason: unknown;
    if (cause === 'close') reason = new PoolClosedError({ poolName: this.name });
    else if (cause === 'timeout') {
      reason = new DOMException(
        `Connect timed out after ${this.acquireTimeoutMs} ms (acquireTimeoutMs)`,
        'TimeoutError',
      );
    } else reason = new DOMException('Connect no longer needed', 'AbortError');
    attempt.controller.abort(reason);
  }

  private settleAttempt(attempt: ConnectAttempt<TConnection>): void {
    attempt.settled = true;
    if (attempt.timer !== undefined) this.clock.clearTimeout(attempt.timer);
    attempt.timer = undefined;
    this.attempts.delete(attempt);
    this.connecting--;
    const waiter = attempt.waiter;
    if (waiter !== undefined && waiter.attempt === attempt) waiter.attempt = undefined;
  }

  private onConnected(attempt: ConnectAttempt<TConnection>, connection: TConnection): void {
    this.settleAttempt(attempt);
    if (this.state !== OPEN || this.records.has(connection)) {
      // Closing (or a driver handing out the same object twice): close it, never pool it.
      this.closeConnection(connection);
      this.checkClosed();
      return;
    }
    const now = this.readClock();
    this.fillFailures = 0;
    const record = new ConnectionRecord(
      connection,
      this.nextConnectionId++,
      now,
      this.lifetimeEnd(now),
    );
    this.records.set(connection, record);
    this.size++;
    this.createdCount++;
    if (this.observeCreated) {
      this.events.emit('connectionCreated', {
        connectionId: record.id,
        durationMs: now - attempt.startedAt,
      });
    }
    this.returnRecord(record, now);
    this.resolveReadyIfMet();
  }

  private onConnectFailed(attempt: ConnectAttempt<TConnection>, error: unknown): void {
    this.settleAttempt(attempt);
    if (this.state !== OPEN) {
      this.checkClosed();
      return;
    }
    if (attempt.abortCause === 'surplus') return;
    const now = this.readClock();
    const reason: ErrorReason = attempt.abortCause === 'timeout' ? 'timeout' : this.classify(error);
    const connectError = new ConnectError(reason, error, { driverName: this.driver.name });
    this.errorCount++;
    this.connectErrorCount++;
    this.lastConnectError = connectError;
    this.lastConnectErrorAt = now;
    const durationMs = now - attempt.startedAt;
    if (this.events.has('connectError')) {
      this.events.emit('connectError', { error: connectError, reason, durationMs });
    }
    this.logger.warn(`Pool "${this.name}": connect failed (${reason})`, {
      ...this.logContext,
      reason,
      durationMs,
      error: errorMessage(error),
    });

    // The failure reaches one waiter when waiters outnumber the connects still in flight: the
    // one it was started for, or (for a fast failure) the oldest. A connect that ran out of
    // time only fails its own waiter: others keep their own, later deadlines.
    if (this.queueLength > this.connecting) {
      const own = attempt.waiter;
      const target =
        own !== undefined && own.phase === QUEUED
          ? own
          : reason === 'timeout'
            ? undefined
            : this.queueHead;
      if (target !== undefined) {
        // At its deadline, the caller gets the documented timeout, caused by this failure.
        const error = now >= target.deadline ? this.timeoutError(target, now) : connectError;
        this.unlinkWaiter(target);
        if (error !== connectError) target.gaveUp = 'timeout';
        this.settleWaiter(target);
        target.reject(error);
      }
    }
    if (this.size < this.minSize) {
      this.rejectReady(connectError);
      this.scheduleFillRetry();
    }
    this.replenish();
  }

  private scheduleFillRetry(): void {
    if (this.fillTimer !== undefined) return;
    const delay = Math.min(
      FILL_RETRY_MAX_MS,
      FILL_RETRY_BASE_MS * 2 ** Math.min(this.fillFailures, 5),
    );
    this.fillFailures++;
    this.fillTimer = this.clock.setTimeout(() => {
      this.fillTimer = undefined;
      this.ensureMinimum();
    }, delay);
    unrefTimer(this.fillTimer);
  }

  private lifetimeEnd(createdAt: number): number {
    const { maxLifetimeMs, maxLifetimeJitter, random } = this.options;
    if (maxLifetimeMs === Infinity) return Infinity;
    return createdAt + maxLifetimeMs * (1 - maxLifetimeJitter * random());
  }

  // ---------------------------------------------------------------------------------------
  // Release work, destruction, close

  /** Runs reset (and validation on release) off the hot path, then returns or discards. */
  private async cleanUp(record: ConnectionRecord<TConnection>): Promise<void> {
    const { driver } = this;
    let failure: DestroyReason | undefined;
    let cause: unknown;
    try {
      if (driver.reset !== undefined) await driver.reset(record.connection, this.closeCallOptions);
    } catch (error) {
      failure = 'reset-failed';
      cause = error;
    }
    if (failure === undefined && this.options.validateOnRelease) {
      try {
        await driver.validate(record.connection, this.closeCallOptions);
      } catch (error) {
        failure = 'validation-failed';
        cause = new ValidationError(this.classify(error), error);
      }
    }
    if (record.state !== RELEASING) return;
    if (failure === undefined) {
      this.returnRecord(record, this.readClock());
      return;
    }
    if (this.state === OPEN) {
      this.errorCount++;
      if (failure === 'reset-failed') this.resetFailureCount++;
      else this.validationFailureCount++;
      this.logger.warn(`Pool "${this.name}": connection ${record.id} ${failure} on release`, {
        ...this.logContext,
        error: errorMessage(cause),
      });
    }
    this.discard(record, this.state === OPEN ? failure : 'close', cause);
  }

  /** Takes a connection out of the pool and closes it. Frees its slot for a replacement. */
  private discard(
    record: ConnectionRecord<TConnection>,
    reason: DestroyReason,
    error?: unknown,
  ): void {
    const previous = record.state;
    if (previous === DESTROYED) return;
    if (previous === IDLE) this.unlinkIdle(record);
    record.state = DESTROYED;
    const lease = record.lease;
    if (lease !== undefined) {
      record.lease = undefined;
      if (lease.state === ACTIVE) lease.state = REVOKED;
    }
    this.records.delete(record.connection);
    this.size--;
    this.destroyedCount++;
    this.destroyedByReason[reason]++;
    if (this.observeDestroyed) {
      this.events.emit(
        'connectionDestroyed',
        error === undefined
          ? { connectionId: record.id, reason }
          : { connectionId: record.id, reason, error },
      );
    }
    this.closeConnection(record.connection);
    if (this.state === OPEN) this.replenish();
    else this.checkClosed();
  }

  private closeConnection(connection: TConnection): void {
    this.pendingCloses++;
    callDriver(() => this.driver.close(connection)).then(this.onClosed, this.onCloseFailed);
  }

  private readonly onClosed = (): void => {
    this.pendingCloses--;
    this.checkClosed();
  };

  private readonly onCloseFailed = (error: unknown): void => {
    this.logger.warn(`Pool "${this.name}": closing a connection failed`, {
      ...this.logContext,
      error: errorMessage(error),
    });
    this.onClosed();
  };

  private checkClosed(): void {
    if (
      this.state === CLOSING &&
      this.size === 0 &&
      this.connecting === 0 &&
      this.pendingCloses === 0
    ) {
      this.finishClose(0);
    }
  }

  /** The close deadline: whatever is still leased is closed under its holder. */
  private readonly forceClose = (): void => {
    this.closeTimer = undefined;
    if (this.state !== CLOSING) return;
    const leftovers = [...this.records.values()];
    if (leftovers.length > 0) {
      this.logger.warn(
        `Pool "${this.name}": close timed out with ${leftovers.length} connection(s) still ` +
          'in use; closing them anyway',
        this.logContext,
      );
    }
    for (const record of leftovers) this.discard(record, 'close');
    this.finishClose(leftovers.length);
  };

  private finishClose(forced: number): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    if (this.closeTimer !== undefined) {
      this.clock.clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
    }
    if (this.events.has('closed')) this.events.emit('closed', { forced });
    this.events.clear();
    this.refreshObservers();
    this.closeResolve();
  }

  private clearBackgroundTimers(): void {
    if (this.reaperTimer !== undefined) this.clock.clearTimeout(this.reaperTimer);
    this.reaperTimer = undefined;
    this.reaperDueAt = Infinity;
    if (this.leakTimer !== undefined) this.clock.clearTimeout(this.leakTimer);
    this.leakTimer = undefined;
    if (this.fillTimer !== undefined) this.clock.clearTimeout(this.fillTimer);
    this.fillTimer = undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Readiness and leaks

  private resolveReadyIfMet(): void {
    if (this.readyWaiters.length === 0 || this.size < this.minSize) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
  }

  private rejectReady(error: unknown): void {
    if (this.readyWaiters.length === 0) return;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) {
      if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(error);
    }
  }

  private armLeakTimer(dueAt: number, now: number): void {
    this.leakTimer = this.clock.setTimeout(this.onLeakTimer, timerDelay(dueAt - now));
    unrefTimer(this.leakTimer);
  }

  /** Reports leases held past `leakDetectionMs`; re-arms only while unreported leases exist. */
  private readonly onLeakTimer = (): void => {
    this.leakTimer = undefined;
    if (this.state !== OPEN) return;
    const now = this.readClock();
    let nextDue = Infinity;
    for (const record of this.records.values()) {
      const lease = record.lease;
      if (lease === undefined || lease.leakReported) continue;
      const dueAt = lease.acquiredAt + this.leakDetectionMs;
      if (dueAt <= now) this.reportLeak(lease, now);
      else if (dueAt < nextDue) nextDue = dueAt;
    }
    if (nextDue < Infinity) this.armLeakTimer(nextDue, now);
  };

  private reportLeak(lease: PoolLease<TConnection>, now: number): void {
    lease.leakReported = true;
    this.leakCount++;
    const heldMs = now - lease.acquiredAt;
    this.logger.warn(
      `Pool "${this.name}": connection ${lease.record.id} (lease ${lease.id}) held for ` +
        `${Math.round(heldMs)} ms, longer than leakDetectionMs ${this.leakDetectionMs}; ` +
        `possible leak. ${lease.stack ?? ''}`,
      { ...this.logContext, connectionId: lease.record.id, leaseId: lease.id, heldMs },
    );
    if (this.events.has('leakDetected')) {
      this.events.emit('leakDetected', {
        connectionId: lease.record.id,
        leaseId: lease.id,
        heldMs,
        stack: lease.stack,
      });
    }
  }

  // ---------------------------------------------------------------------------------------
  // Small helpers

  private readClock(): number {
    const now = this.clock.now();
    this.lastNow = now;
    return now;
  }

  private isBroken(record: ConnectionRecord<TConnection>): boolean {
    try {
      return this.driver.isBroken?.(record.connection) === true;
    } catch {
      return true;
    }
  }

  private classify(error: unknown): ErrorReason {
    try {
      return this.driver.classifyError(error);
    } catch {
      return 'unknown';
    }
  }

  private isConnectionFatal(error: unknown): boolean {
    return isConnectionFatalReason(this.classify(error));
  }

  private emitReleased(lease: PoolLease<TConnection>): void {
    this.events.emit('released', {
      connectionId: lease.record.id,
      leaseId: lease.id,
      holdMs: this.readClock() - lease.acquiredAt,
    });
  }

  private refreshObservers(): void {
    this.observeAcquired = this.events.has('acquired');
    this.observeReleased = this.events.has('released');
    this.observeCreated = this.events.has('connectionCreated');
    this.observeDestroyed = this.events.has('connectionDestroyed');
  }
}

/**
 * Creates a connection pool over `options.driver`. Validates every option at once (an
 * `InvalidOptionError` names the option, the value and the allowed range) and starts opening
 * `minSize` connections in the background.
 *
 * @example
 * const pool = createPool({ driver: createPgDriver({ connectionString }), maxSize: 10 });
 * const rows = await pool.withConnection((client) => client.query('SELECT 1'));
 */
export function createPool<TConnection>(options: PoolOptions<TConnection>): Pool<TConnection> {
  return new EnhancedConnectionPool(options);
}
