import { type AdaptiveSizer, createAdaptiveSizer } from '@enhanced-pool/adaptive-sizer';
import {
  type CircuitBreaker,
  createCircuitBreaker,
  isBrokenCircuitError,
  type Permit,
} from '@enhanced-pool/circuit-breaker';
import {
  AcquireTimeoutError,
  CircuitOpenError,
  type Clock,
  ConnectError,
  type Disposable,
  type Driver,
  type DriverCallOptions,
  type ErrorReason,
  InvalidReleaseError,
  isConnectionFatalReason,
  isRetryableReason,
  isUnreachableReason,
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
import {
  type CheckoutForCheck,
  checkReadiness,
  createHealthChecker,
  type HealthCheckDestroyReason,
  type HealthChecker,
  type HealthCheckTarget,
  type HealthReport,
  type IdleConnectionInfo,
  type Readiness,
} from '@enhanced-pool/health-checker';
import type { Lease } from './lease.js';
import type {
  AcquireOptions,
  CloseOptions,
  Pool,
  ReadyOptions,
  RunHealthCheckOptions,
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
  MAINTAINED,
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

/** What `startConnect()` did. */
const STARTED = 0;
/** Not now, but soon: a connect is in flight or a backoff step is pending. Waiters wait. */
const WAIT = 1;
/** Not until the breaker or a fatal-error hold lets it: waiters that need a connection fail. */
const REFUSED = 2;
type ConnectOutcome = typeof STARTED | typeof WAIT | typeof REFUSED;

/** Weight of the newest connect duration in the smoothed connect time. */
const CONNECT_TIME_WEIGHT = 0.3;

const HEALTH_DESTROY_REASONS: Readonly<Record<HealthCheckDestroyReason, DestroyReason>> = {
  broken: 'broken',
  'validation-failed': 'validation-failed',
  expired: 'lifetime',
  'keepalive-failed': 'keepalive-failed',
};

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
    /** The breaker's admission; reported exactly once, when the connect settles. */
    readonly permit: Permit | undefined,
    /** Started to keep `minSize` (counted as a replacement in health reports). */
    readonly forMinimum: boolean,
  ) {}
}

/** An idle connection lent to the health checker; settled exactly once. */
class HealthCheckout<TConnection> implements CheckoutForCheck<TConnection> {
  private settled = false;

  constructor(
    private readonly pool: EnhancedConnectionPool<TConnection>,
    private readonly record: ConnectionRecord<TConnection>,
    readonly info: IdleConnectionInfo,
  ) {}

  get connection(): TConnection {
    return this.record.connection;
  }

  returnToIdle(options?: { readonly validated?: boolean }): void {
    if (this.settled) return;
    this.settled = true;
    this.pool.returnChecked(this.record, options?.validated === true);
  }

  destroy(reason: HealthCheckDestroyReason): void {
    if (this.settled) return;
    this.settled = true;
    this.pool.destroyChecked(this.record, reason);
  }
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
 * Background timers (reaper, leak sweep, backoff, sizing tick, health check) are armed lazily
 * and unref'd. Every physical connect goes through `startConnect()`, the one place creation
 * policy lives: the fatal-error hold, the backoff step, then the breaker.
 *
 * @typeParam TConnection - the driver's connection type.
 */
export class EnhancedConnectionPool<TConnection>
  implements Pool<TConnection>, LeaseOwner<TConnection>
{
  readonly name: string;
  readonly connCircuitBreaker: CircuitBreaker | undefined;

  private readonly options: ResolvedPoolOptions<TConnection>;
  private readonly driver: Driver<TConnection>;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly acquireTimeoutMs: number;
  private readonly validateAfterIdleMs: number;
  private readonly fifo: boolean;
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
  private readyWaiters: ReadyWaiter[] = [];

  // Creation policy: backoff after failures, the breaker, the fatal-error hold.
  private readonly breaker: CircuitBreaker | undefined;
  private readonly breakerSubscription: Disposable | undefined;
  /** Connects that failed in a row; 0 once one succeeds. While > 0, one attempt at a time. */
  private failureStreak = 0;
  /** No connect starts before this clock reading (the current backoff step). */
  private retryAt = -Infinity;
  /** Wakes the pool at `retryAt`, armed only when someone is waiting for that step. */
  private retryTimer: TimerHandle | undefined = undefined;
  /** Wakes the pool when the open breaker will admit a probe, to keep `minSize`. */
  private probeTimer: TimerHandle | undefined = undefined;
  /** When the breaker last refused: how long until it admits a probe. */
  private refusalRetryAfterMs = 0;
  /** An authentication/configuration failure holding creation off until `fatalTimer`. */
  private fatalError: ConnectError | undefined = undefined;
  private fatalTimer: TimerHandle | undefined = undefined;
  private fatalIsolation: Disposable | undefined = undefined;
  /** Exponentially smoothed duration of successful connects; NaN before the first. */
  private smoothedConnectMs = Number.NaN;

  // Health checks and adaptive sizing.
  private readonly healthChecker: HealthChecker;
  private healthCheckingCount = 0;
  /** `minSize` was reached once: later connects to keep it are replacements. */
  private reachedMinimum = false;
  /** Replacements since the last health check's fill (its report's `replaced`). */
  private minimumRefills = 0;
  private readonly sizer: AdaptiveSizer | undefined;
  private sizingTimer: TimerHandle | undefined = undefined;
  /** The size the sizer asked for; `minSize` until it decides. */
  private targetSize: number;
  private sampledAcquired = 0;
  private sampledReleased = 0;
  /** Sum of the waits of acquires since the last sample (0 for those served from idle). */
  private waitSumMs = 0;
  /** Sum of the holds of leases ended since the last sample (release-time approximation). */
  private holdSumMs = 0;
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
  private connectAttemptCount = 0;
  private circuitRejectionCount = 0;
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
    this.fifo = resolved.idleOrder === 'fifo';
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
    this.targetSize = this.minSize;

    if (resolved.circuitBreaker === false) {
      this.breaker = undefined;
      this.breakerSubscription = undefined;
    } else {
      this.breaker = createCircuitBreaker(resolved.circuitBreaker);
      this.breakerSubscription = this.breaker.on('stateChange', (event) => {
        if (event.to === 'open') {
          this.logger.warn(
            `Pool "${this.name}": connection breaker opened; callers that need a new ` +
              `connection fail fast for ${Math.round(event.openDurationMs ?? 0)} ms`,
            { ...this.logContext, reason: event.reason, attempt: event.attempt },
          );
        } else if (event.to === 'closed' && event.from !== 'closed') {
          this.logger.info(`Pool "${this.name}": connection breaker closed (${event.reason})`, {
            ...this.logContext,
          });
          // A reset or a lifted isolation by the user: creation may resume now. Deferred, so
          // the pool is never re-entered from inside a call it made to the breaker.
          if (event.reason === 'reset' || event.reason === 'isolation-released') {
            queueMicrotask(() => this.onBreakerReleased(event.reason === 'reset'));
          }
        }
      });
    }
    this.connCircuitBreaker = this.breaker;

    this.healthChecker = createHealthChecker(this.healthTarget(), resolved.healthCheck);
    this.healthChecker.on('report', (report) => {
      if (this.events.has('healthCheck')) this.events.emit('healthCheck', report);
    });
    this.sizer =
      resolved.adaptiveSizing === undefined
        ? undefined
        : createAdaptiveSizer(resolved.adaptiveSizing);

    this.ensureMinimum();
    this.healthChecker.start();
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
        const reason = this.classify(error);
        if (isConnectionFatalReason(reason)) lease.destroy(error);
        else {
          if (reason === 'timeout') this.countConnectionError(lease.record);
          lease.release();
        }
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

  runHealthCheck(options?: RunHealthCheckOptions): Promise<HealthReport> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    return this.healthChecker.runNow(options);
  }

  lastHealthReport(): HealthReport | undefined {
    return this.healthChecker.lastReport();
  }

  isLive(): boolean {
    return this.state === OPEN;
  }

  isReady(): boolean {
    return this.readiness().ready;
  }

  readiness(): Readiness {
    const verdict = checkReadiness({
      closed: this.state !== OPEN,
      breakerState: this.breaker?.getState(),
    });
    const fatal = this.fatalError;
    if (fatal === undefined || this.state !== OPEN) return verdict;
    return {
      ready: false,
      reasons: [
        ...verdict.reasons,
        `connects fail with reason "${fatal.reason}"; no new connection is opened until ` +
          'the hold ends (connectBackoff.fatalMs) or connCircuitBreaker.reset()',
      ],
    };
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
    // Aborts validations in flight; their connections come back and are closed.
    void this.healthChecker.stop();

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
      healthChecking: this.healthCheckingCount,
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
      connectAttempts: this.connectAttemptCount,
      circuitRejections: this.circuitRejectionCount,
      breakerState: this.breaker === undefined ? 'disabled' : this.breaker.getState(),
      targetSize: this.targetSize,
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

  /**
   * Ends a lease for `release()` or `destroy()`: false when the pool had already taken the
   * connection back (revoked at close), so there is nothing more to do; throws on a second end.
   */
  private endLease(lease: PoolLease<TConnection>): boolean {
    if (lease.state !== ACTIVE) {
      if (lease.state === REVOKED) {
        lease.state = RELEASED;
        return false;
      }
      throw new InvalidReleaseError('already-released', `Lease ${lease.id} was already released`);
    }
    lease.state = RELEASED;
    lease.record.lease = undefined;
    this.releasedCount++;
    // The last clock reading, not a new one: exact in a busy pool, short in an idle one.
    this.holdSumMs += this.lastNow - lease.acquiredAt;
    if (this.observeReleased) this.emitReleased(lease);
    return true;
  }

  /** @internal */
  releaseLease(lease: PoolLease<TConnection>): void {
    if (!this.endLease(lease)) return;
    const record = lease.record;
    if (record.uses >= this.maxUses) {
      // `uses` is Infinity only for a connection its errors condemned (see reportLeaseError).
      this.discard(record, record.uses === Infinity ? 'connection-errors' : 'max-uses');
    } else if (this.releaseIsAsync) {
      record.state = RELEASING;
      void this.cleanUp(record);
    } else {
      this.returnRecord(record, this.lastNow);
    }
  }

  /** @internal */
  destroyLease(lease: PoolLease<TConnection>, error: unknown): void {
    if (!this.endLease(lease)) return;
    this.discard(lease.record, 'destroyed-by-user', error);
  }

  /** @internal */
  reportLeaseError(lease: PoolLease<TConnection>, error: unknown): ErrorReason {
    if (lease.state !== ACTIVE) {
      throw new InvalidReleaseError(
        'use-after-release',
        `Lease ${lease.id} has ended; report errors while it is held`,
      );
    }
    const reason = this.classify(error);
    if (isConnectionFatalReason(reason)) {
      lease.record.uses = Infinity;
    } else if (reason === 'timeout') {
      this.countConnectionError(lease.record);
    }
    return reason;
  }

  /** Counts a `timeout` error; at `maxConnectionErrors` the connection is retired on release. */
  private countConnectionError(record: ConnectionRecord<TConnection>): void {
    if (++record.errors >= this.options.maxConnectionErrors) record.uses = Infinity;
  }

  // ---------------------------------------------------------------------------------------
  // Hand-out

  /**
   * Takes the next usable idle connection (most recently released, or least recently with
   * `idleOrder: 'fifo'`), closing dead ones on the way.
   */
  private takeIdle(now: number): ConnectionRecord<TConnection> | undefined {
    for (
      let record = this.fifo ? this.idleOldest : this.idleNewest;
      record !== undefined;
      record = this.fifo ? this.idleOldest : this.idleNewest
    ) {
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
  private returnRecord(
    record: ConnectionRecord<TConnection>,
    now: number,
    fromHealthCheck = false,
  ): void {
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
    // Back from a health check, it keeps its place in idle time: a ping is not a borrower.
    if (fromHealthCheck) this.relinkIdle(record, now);
    else this.pushIdle(record, now);
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
    this.waitSumMs += waitMs;
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
    const now = this.readClock();
    record.lastValidatedAt = now;
    if (waiter.phase === VALIDATING) {
      this.settleWaiter(waiter);
      this.waitSumMs += now - waiter.enqueuedAt;
      waiter.resolve(this.grant(record, now, now - waiter.enqueuedAt, waiter.stack));
    } else {
      // Its caller gave up, but the connection proved healthy: the next waiter or idle gets it.
      record.idleSince = now;
      this.returnRecord(record, now);
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
    if (this.sizingTimer === undefined) this.armSizing();
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
    record.idleSince = now;
    record.lastUsedAt = now;
    this.linkIdle(record);
    const idleDue = this.size > this.targetSize ? now + this.idleTimeoutMs : Infinity;
    const dueAt = Math.min(record.expiresAt, idleDue);
    if (dueAt < this.reaperDueAt) {
      // Arming a timer is the slow path anyway: take an exact reading for this connection.
      now = this.readClock();
      record.idleSince = now;
      record.lastUsedAt = now;
      const freshIdleDue = this.size > this.targetSize ? now + this.idleTimeoutMs : Infinity;
      const freshDue = Math.min(record.expiresAt, freshIdleDue);
      if (freshDue < this.reaperDueAt) this.armReaper(freshDue, now);
    }
  }

  /** Back to idle after a health check, keeping `lastUsedAt` (what the idle timeout counts). */
  private relinkIdle(record: ConnectionRecord<TConnection>, now: number): void {
    this.linkIdle(record);
    const idleDue =
      this.size > this.targetSize
        ? record.lastUsedAt + this.idleTimeoutMs
        : Number.POSITIVE_INFINITY;
    const dueAt = Math.min(record.expiresAt, idleDue);
    if (dueAt < this.reaperDueAt) this.armReaper(dueAt, now);
  }

  /** Makes it the newest idle connection: the next one handed out. */
  private linkIdle(record: ConnectionRecord<TConnection>): void {
    record.state = IDLE;
    const newest = this.idleNewest;
    record.older = newest;
    record.newer = undefined;
    if (newest === undefined) this.idleOldest = record;
    else newest.newer = record;
    this.idleNewest = record;
    this.idleCount++;
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

  /**
   * Closes idle connections past their lifetime, or idle too long while above the target size
   * (`minSize`, or the adaptive sizer's target: the sizer keeps headroom on purpose and retires
   * it itself after its cooldown, so the idle timeout must not close what the sizer would reopen).
   */
  private readonly onReaper = (): void => {
    this.reaperTimer = undefined;
    this.reaperDueAt = Infinity;
    if (this.state !== OPEN) return;
    const now = this.readClock();
    for (let record = this.idleOldest; record !== undefined; ) {
      const newer = record.newer;
      if (now >= record.expiresAt) this.discard(record, 'lifetime');
      else if (now - record.lastUsedAt >= this.idleTimeoutMs && this.size > this.targetSize) {
        this.discard(record, 'idle-timeout');
      }
      record = newer;
    }
    let dueAt = Infinity;
    const idleApplies = this.size > this.targetSize;
    for (let record = this.idleOldest; record !== undefined; record = record.newer) {
      if (record.expiresAt < dueAt) dueAt = record.expiresAt;
      if (idleApplies && record.lastUsedAt + this.idleTimeoutMs < dueAt) {
        dueAt = record.lastUsedAt + this.idleTimeoutMs;
      }
    }
    if (dueAt < Infinity) this.armReaper(dueAt, now);
  };

  // ---------------------------------------------------------------------------------------
  // Creation

  /**
   * How many connects are useful now: one per queued waiter plus what `minSize` lacks, or what
   * the sizer's target lacks if that is more. A connect beyond it is surplus.
   */
  private connectsNeeded(): number {
    const missing = this.minSize - this.size;
    const forWaiters = this.queueLength + Math.max(missing, 0);
    return Math.max(forWaiters, this.targetSize - this.size);
  }

  /**
   * How many connects may be in flight for waiters (creation pacing). While connections are in
   * use, a release usually serves a waiter sooner than a new connection would: one connect is
   * started, and more only for waiters that have already waited a typical connect time (as
   * HikariCP does, a spike of short borrows then ends with about `minSize` connections, not one
   * per borrower). With nothing in use, or connects slow next to `acquireTimeoutMs`, one
   * connect per waiter.
   */
  private connectsAllowedForWaiters(): number {
    const connectMs = this.smoothedConnectMs;
    if (this.size === this.idleCount || !(connectMs * 4 <= this.acquireTimeoutMs)) {
      return Number.POSITIVE_INFINITY;
    }
    // Waiters are in arrival order, so the overdue ones are a prefix of the queue.
    const overdueBefore = this.lastNow - connectMs;
    const limit = this.maxSize - this.size;
    let overdue = 0;
    for (
      let waiter = this.queueHead;
      waiter !== undefined && waiter.enqueuedAt <= overdueBefore && overdue < limit;
      waiter = waiter.next
    ) {
      overdue++;
    }
    return Math.max(1, overdue);
  }

  /** Starts connects for queued waiters not already covered by one, within `maxSize`. */
  private fillForWaiters(trigger: Waiter<TConnection> | undefined): void {
    if (this.queueLength <= this.connecting || this.size + this.connecting >= this.maxSize) return;
    const allowed = this.connectsAllowedForWaiters();
    while (
      this.queueLength > this.connecting &&
      this.size + this.connecting < this.maxSize &&
      this.connecting < allowed
    ) {
      const outcome = this.startConnect(trigger);
      if (outcome === REFUSED) {
        this.failUncoveredWaiters();
        return;
      }
      if (outcome === WAIT) return;
      trigger = undefined;
    }
  }

  /** Opens connections up to `minSize`, as far as the creation policy allows now. */
  private ensureMinimum(): void {
    if (this.state !== OPEN) return;
    while (this.size + this.connecting < this.minSize) {
      const outcome = this.startConnect(undefined, true);
      if (outcome === STARTED) continue;
      if (outcome === REFUSED && this.fatalError === undefined) this.armProbe();
      return;
    }
  }

  /** Opens connections toward the sizer's target (pre-warming); never while refused. */
  private growToTarget(): void {
    while (this.state === OPEN && this.size + this.connecting < this.targetSize) {
      if (this.startConnect(undefined) !== STARTED) return;
    }
  }

  /** After capacity was freed or a backoff step ended: serve waiters, keep `minSize`. */
  private replenish(): void {
    if (this.state !== OPEN) return;
    this.fillForWaiters(undefined);
    this.ensureMinimum();
  }

  /**
   * The one place a physical connection is opened, and where creation policy lives:
   * 1. an authentication/configuration failure holds creation off (`REFUSED`);
   * 2. after a failure, one attempt at a time, each after its backoff step (`WAIT`);
   * 3. the breaker must admit it (`REFUSED` while open; half-open admits one probe).
   * The connect is bounded by `acquireTimeoutMs`, aborted on close, and aborted early when the
   * waiter it was started for gives up and nobody else needs it.
   */
  private startConnect(
    waiter: Waiter<TConnection> | undefined,
    forMinimum = false,
  ): ConnectOutcome {
    if (this.state !== OPEN) return WAIT;
    if (this.fatalError !== undefined) return REFUSED;
    if (this.failureStreak > 0) {
      if (this.connecting > 0) return WAIT;
      const now = this.readClock();
      if (now < this.retryAt) {
        this.armRetryTimer(now);
        return WAIT;
      }
    }
    let permit: Permit | undefined;
    if (this.breaker !== undefined) {
      const admitted = this.breaker.tryAcquire();
      if (isBrokenCircuitError(admitted)) {
        this.refusalRetryAfterMs = admitted.retryAfterMs;
        return REFUSED;
      }
      permit = admitted;
    }
    const attempt = new ConnectAttempt<TConnection>(waiter, this.readClock(), permit, forMinimum);
    if (waiter !== undefined) waiter.attempt = attempt;
    this.connecting++;
    this.connectAttemptCount++;
    this.attempts.add(attempt);
    attempt.timer = this.clock.setTimeout(
      () => this.abortAttempt(attempt, 'timeout'),
      this.acquireTimeoutMs,
    );
    unrefTimer(attempt.timer);
    this.armSizing();
    callDriver(() => this.driver.connect({ signal: attempt.controller.signal })).then(
      (connection) => this.onConnected(attempt, connection),
      (error: unknown) => this.onConnectFailed(attempt, error),
    );
    return STARTED;
  }

  /**
   * Fails at once the queued waiters that only a new connection could serve, now that none
   * can be opened: those beyond the connects still in flight, newest first, unless the pool
   * is full (then they wait for a release, as they would anyway).
   */
  private failUncoveredWaiters(failure?: ConnectError): void {
    if (this.size + this.connecting >= this.maxSize) return;
    let excess = this.queueLength - this.connecting;
    if (excess <= 0) return;
    const error = failure ?? this.refusalError();
    while (excess > 0) {
      const waiter = this.queueTail;
      if (waiter === undefined) return;
      this.unlinkWaiter(waiter);
      this.settleWaiter(waiter);
      if (failure === undefined) this.circuitRejectionCount++;
      waiter.reject(error);
      excess--;
    }
  }

  /** What a caller that needs a new connection gets while none can be opened. */
  private refusalError(): ConnectError | CircuitOpenError {
    if (this.fatalError !== undefined) return this.fatalError;
    return new CircuitOpenError(this.refusalRetryAfterMs, {
      cause: this.lastConnectError,
      poolName: this.name,
    });
  }

  /** Wakes the pool when the current backoff step ends, for the waiters or `minSize`. */
  private armRetryTimer(now: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.clock.setTimeout(this.onRetryTimer, timerDelay(this.retryAt - now));
    unrefTimer(this.retryTimer);
  }

  private readonly onRetryTimer = (): void => {
    this.retryTimer = undefined;
    this.readClock();
    this.replenish();
    this.growToTarget();
  };

  /**
   * While the breaker refuses and `minSize` is not met, wakes the pool when it will admit a
   * probe. No timer when nothing needs a connection: the next caller probes on demand.
   */
  private armProbe(): void {
    const waitMs = this.refusalRetryAfterMs;
    if (this.probeTimer !== undefined || !Number.isFinite(waitMs)) return;
    this.probeTimer = this.clock.setTimeout(this.onProbeTimer, timerDelay(Math.max(1, waitMs)));
    unrefTimer(this.probeTimer);
  }

  private readonly onProbeTimer = (): void => {
    this.probeTimer = undefined;
    this.readClock();
    this.replenish();
  };

  /** The user reset the breaker or lifted an isolation: creation may resume at once. */
  private onBreakerReleased(reset: boolean): void {
    if (this.state !== OPEN) return;
    if (reset) {
      this.endFatalHold(false);
      this.failureStreak = 0;
      this.retryAt = Number.NEGATIVE_INFINITY;
    }
    if (this.fatalError !== undefined) return;
    this.replenish();
  }

  /**
   * An authentication or configuration failure: retrying can't fix it, so no connection is
   * opened for `connectBackoff.fatalMs`, the breaker is held isolated (not ready), and callers
   * that need a connection get this error at once.
   */
  private enterFatalHold(error: ConnectError): void {
    this.fatalError = error;
    if (this.fatalTimer !== undefined) this.clock.clearTimeout(this.fatalTimer);
    this.fatalTimer = this.clock.setTimeout(
      () => this.endFatalHold(true),
      this.options.connectBackoff.fatalMs,
    );
    unrefTimer(this.fatalTimer);
    if (this.breaker !== undefined && this.fatalIsolation === undefined) {
      this.fatalIsolation = this.breaker.isolate();
    }
    this.logger.error(
      `Pool "${this.name}": connect failed with reason "${error.reason}"; no new connection ` +
        `for ${this.options.connectBackoff.fatalMs} ms (connectBackoff.fatalMs)`,
      { ...this.logContext, reason: error.reason, error: errorMessage(error) },
    );
  }

  private endFatalHold(resume: boolean): void {
    if (this.fatalTimer !== undefined) this.clock.clearTimeout(this.fatalTimer);
    this.fatalTimer = undefined;
    const wasHeld = this.fatalError !== undefined;
    this.fatalError = undefined;
    const isolation = this.fatalIsolation;
    this.fatalIsolation = undefined;
    isolation?.dispose();
    if (resume && wasHeld && this.state === OPEN) this.replenish();
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
    const now = this.readClock();
    const durationMs = now - attempt.startedAt;
    attempt.permit?.success(durationMs);
    if (this.state !== OPEN || this.records.has(connection)) {
      // Closing (or a driver handing out the same object twice): close it, never pool it.
      this.closeConnection(connection);
      this.checkClosed();
      return;
    }
    const recovered = this.failureStreak > 0;
    this.failureStreak = 0;
    this.retryAt = Number.NEGATIVE_INFINITY;
    this.smoothedConnectMs = Number.isNaN(this.smoothedConnectMs)
      ? durationMs
      : this.smoothedConnectMs + CONNECT_TIME_WEIGHT * (durationMs - this.smoothedConnectMs);
    const record = new ConnectionRecord(
      connection,
      this.nextConnectionId++,
      now,
      this.lifetimeEnd(now),
    );
    this.records.set(connection, record);
    this.size++;
    this.createdCount++;
    if (attempt.forMinimum && this.reachedMinimum) this.minimumRefills++;
    if (this.size >= this.minSize) this.reachedMinimum = true;
    if (this.observeCreated) {
      this.events.emit('connectionCreated', { connectionId: record.id, durationMs });
    }
    if (recovered) {
      this.logger.info(`Pool "${this.name}": connects succeed again`, this.logContext);
    }
    this.returnRecord(record, now);
    this.resolveReadyIfMet();
    // Overdue waiters may now get connects of their own (pacing), and a recovery refills.
    this.replenish();
  }

  private onConnectFailed(attempt: ConnectAttempt<TConnection>, error: unknown): void {
    this.settleAttempt(attempt);
    const permit = attempt.permit;
    if (this.state !== OPEN) {
      permit?.ignore();
      this.checkClosed();
      return;
    }
    if (attempt.abortCause === 'surplus') {
      permit?.ignore();
      return;
    }
    const now = this.readClock();
    const reason: ErrorReason = attempt.abortCause === 'timeout' ? 'timeout' : this.classify(error);
    const connectError = new ConnectError(reason, error, { driverName: this.driver.name });
    const durationMs = now - attempt.startedAt;
    this.errorCount++;
    this.connectErrorCount++;
    this.lastConnectError = connectError;
    this.lastConnectErrorAt = now;
    this.failureStreak++;
    if (this.events.has('connectError')) {
      this.events.emit('connectError', { error: connectError, reason, durationMs });
    }
    // Retrying can't fix wrong credentials or a wrong database: hold creation off.
    const fatal = reason === 'authentication' || reason === 'configuration';
    if (!fatal) {
      // The first failure of a streak is news; the rest of an outage is in the stats.
      const log = this.failureStreak === 1 ? this.logger.warn : this.logger.debug;
      log.call(this.logger, `Pool "${this.name}": connect failed (${reason})`, {
        ...this.logContext,
        reason,
        durationMs,
        failuresInARow: this.failureStreak,
        error: errorMessage(error),
      });
    }

    if (fatal) {
      permit?.ignore();
      this.enterFatalHold(connectError);
      this.failUncoveredWaiters();
    } else {
      // Only "the database is unreachable" moves the breaker; anything else says nothing.
      if (permit !== undefined) {
        if (isUnreachableReason(reason)) permit.failure(connectError, durationMs);
        else permit.ignore();
      }
      const snapshot = this.breaker?.snapshot();
      if (snapshot?.state === 'open' || snapshot?.state === 'isolated') {
        this.refusalRetryAfterMs =
          snapshot.state === 'open' ? (snapshot.openRemainingMs ?? 0) : Number.POSITIVE_INFINITY;
        this.failUncoveredWaiters();
      } else {
        const { baseMs, capMs } = this.options.connectBackoff;
        const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(this.failureStreak - 1, 30));
        // Full jitter, floored at 1 ms so a draw of 0 can't retry in the same instant.
        this.retryAt = now + Math.max(1, this.options.random() * ceiling);
        // A `query` failure (a session setup statement) won't pass on a retry either: the
        // callers waiting for a connection get it now rather than at their deadline.
        if (!isRetryableReason(reason)) this.failUncoveredWaiters(connectError);
      }
    }
    if (this.size < this.minSize) this.rejectReady(connectError);
    this.replenish();
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
    let validated = false;
    try {
      if (driver.reset !== undefined) await driver.reset(record.connection, this.closeCallOptions);
    } catch (error) {
      failure = 'reset-failed';
      cause = error;
    }
    if (failure === undefined && this.options.validateOnRelease) {
      try {
        await driver.validate(record.connection, this.closeCallOptions);
        validated = true;
      } catch (error) {
        failure = 'validation-failed';
        cause = new ValidationError(this.classify(error), error);
      }
    }
    if (record.state !== RELEASING) return;
    if (failure === undefined) {
      const now = this.readClock();
      if (validated) record.lastValidatedAt = now;
      this.returnRecord(record, now);
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
    else if (previous === MAINTAINED) this.healthCheckingCount--;
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
    this.breakerSubscription?.dispose();
    this.refreshObservers();
    this.closeResolve();
  }

  private clearBackgroundTimers(): void {
    if (this.reaperTimer !== undefined) this.clock.clearTimeout(this.reaperTimer);
    this.reaperTimer = undefined;
    this.reaperDueAt = Infinity;
    if (this.leakTimer !== undefined) this.clock.clearTimeout(this.leakTimer);
    this.leakTimer = undefined;
    for (const timer of [this.retryTimer, this.probeTimer, this.fatalTimer, this.sizingTimer]) {
      if (timer !== undefined) this.clock.clearTimeout(timer);
    }
    this.retryTimer = undefined;
    this.probeTimer = undefined;
    this.fatalTimer = undefined;
    this.sizingTimer = undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Health checks (HealthCheckTarget)

  /** The seam the health checker works through; it never touches the pool otherwise. */
  private healthTarget(): HealthCheckTarget<TConnection> {
    return {
      driver: this.driver,
      checkoutIdle: (select, limit) => this.checkoutIdle(select, limit),
      fillToMinimum: (options) => this.fillToMinimum(options),
      stats: () => ({
        size: this.size,
        minSize: this.minSize,
        maxSize: this.maxSize,
        idle: this.idleCount,
        active: this.size - this.idleCount,
        pending: this.queueLength + this.validating.size,
      }),
      ...(this.breaker === undefined
        ? {}
        : { breakerState: () => (this.breaker as CircuitBreaker).getState() }),
    };
  }

  /**
   * Takes the idle connections `select` accepts out of circulation (so no borrower gets one
   * mid-check), least recently validated first, at most `limit`.
   */
  private checkoutIdle(
    select: (info: IdleConnectionInfo, connection: TConnection) => boolean,
    limit: number,
  ): CheckoutForCheck<TConnection>[] {
    if (this.state !== OPEN || limit <= 0) return [];
    const chosen: { record: ConnectionRecord<TConnection>; info: IdleConnectionInfo }[] = [];
    for (let record = this.idleOldest; record !== undefined; record = record.newer) {
      const info: IdleConnectionInfo = {
        id: record.id,
        createdAt: record.createdAt,
        lastUsedAt: record.lastUsedAt,
        lastValidatedAt: record.lastValidatedAt,
        expiresAt: record.expiresAt,
      };
      if (select(info, record.connection)) chosen.push({ record, info });
    }
    chosen.sort((left, right) => left.info.lastValidatedAt - right.info.lastValidatedAt);
    if (chosen.length > limit) chosen.length = limit;
    return chosen.map(({ record, info }) => {
      this.unlinkIdle(record);
      record.state = MAINTAINED;
      this.healthCheckingCount++;
      return new HealthCheckout(this, record, info);
    });
  }

  /** @internal A checked connection goes back: to the first waiter, else to idle. */
  returnChecked(record: ConnectionRecord<TConnection>, validated: boolean): void {
    if (record.state !== MAINTAINED) return;
    this.healthCheckingCount--;
    // In transit, like a release: returnRecord may still close it (expired, broken, closing).
    record.state = RELEASING;
    const now = this.readClock();
    if (validated) {
      record.lastValidatedAt = now;
      record.idleSince = now;
    }
    this.returnRecord(record, now, true);
  }

  /** @internal The checker found it broken, expired or unresponsive. */
  destroyChecked(record: ConnectionRecord<TConnection>, reason: HealthCheckDestroyReason): void {
    if (record.state !== MAINTAINED) return;
    const mapped = HEALTH_DESTROY_REASONS[reason];
    if ((mapped === 'validation-failed' || mapped === 'keepalive-failed') && this.state === OPEN) {
      this.validationFailureCount++;
      this.errorCount++;
    }
    this.discard(record, this.state === OPEN ? mapped : 'close');
  }

  /**
   * Opens connections up to `minSize` through `startConnect()` (so the breaker, the backoff and
   * the fatal-error hold apply) and resolves with how many were opened meanwhile. Rejects at
   * once when no connect may start, or with the error of one that fails.
   */
  private async fillToMinimum(options: { readonly signal: AbortSignal }): Promise<number> {
    if (this.state !== OPEN) return 0;
    this.ensureMinimum();
    if (this.size < this.minSize) {
      if (this.connecting === 0) {
        if (this.fatalError !== undefined || this.breakerRefuses()) throw this.refusalError();
        throw this.lastConnectError ?? new PoolClosedError({ poolName: this.name });
      }
      await this.ready({ signal: options.signal });
    }
    // The pool replaces what it closes on its own; the report counts those replacements too.
    const replaced = this.minimumRefills;
    this.minimumRefills = 0;
    return replaced;
  }

  private breakerRefuses(): boolean {
    const state = this.breaker?.getState();
    return state === 'open' || state === 'isolated';
  }

  // ---------------------------------------------------------------------------------------
  // Adaptive sizing

  /**
   * Arms the sizing tick if it isn't running. Called on slow paths only (a waiter queues, a
   * connect starts), never by an acquire an idle connection serves.
   */
  private armSizing(): void {
    if (this.sizer === undefined || this.sizingTimer !== undefined || this.state !== OPEN) return;
    this.sizingTimer = this.clock.setTimeout(this.onSizingTick, this.options.sizingIntervalMs);
    unrefTimer(this.sizingTimer);
  }

  /** Samples the load, asks the sizer, pre-opens or retires connections, re-arms if useful. */
  private readonly onSizingTick = (): void => {
    this.sizingTimer = undefined;
    const sizer = this.sizer;
    if (sizer === undefined || this.state !== OPEN) return;
    this.readClock();
    const acquired = this.acquiredCount - this.sampledAcquired;
    const released = this.releasedCount - this.sampledReleased;
    this.sampledAcquired = this.acquiredCount;
    this.sampledReleased = this.releasedCount;
    const waitMs = acquired > 0 ? this.waitSumMs / acquired : undefined;
    const holdMs = released > 0 ? this.holdSumMs / released : undefined;
    this.waitSumMs = 0;
    this.holdSumMs = 0;
    const pending = this.queueLength + this.validating.size;
    sizer.observe({
      size: this.size + this.connecting,
      active: this.size - this.idleCount,
      idle: this.idleCount,
      pending,
      acquired,
      ...(waitMs === undefined ? {} : { waitMs }),
      ...(holdMs === undefined ? {} : { holdMs }),
    });
    const decision = sizer.decide({
      breakerOpen: this.fatalError !== undefined || this.breakerRefuses(),
    });
    const from = this.targetSize;
    this.targetSize = Math.max(this.minSize, decision.targetSize);
    if (decision.action === 'grow') this.growToTarget();
    else if (decision.action === 'shrink') this.retireIdle(decision.current - decision.targetSize);
    if (decision.action !== 'hold') {
      this.logger.debug(`Pool "${this.name}": ${decision.action} to ${decision.targetSize}`, {
        ...this.logContext,
        reason: decision.reason,
        utilization: decision.utilization,
        demand: decision.demand,
      });
      if (this.events.has('resized')) {
        this.events.emit('resized', {
          action: decision.action,
          from,
          to: this.targetSize,
          reason: decision.reason,
        });
      }
    }
    // Keep ticking while there is load to watch or surplus to retire; otherwise the next
    // waiter or connect re-arms the tick.
    if (
      acquired > 0 ||
      pending > 0 ||
      this.connecting > 0 ||
      this.size > this.minSize ||
      this.targetSize > this.minSize
    ) {
      this.armSizing();
    }
  };

  /** Closes up to `count` idle connections, least recently used first, never below `minSize`. */
  private retireIdle(count: number): void {
    let left = Math.min(count, this.idleCount, this.size - this.minSize);
    while (left > 0 && this.idleOldest !== undefined) {
      this.discard(this.idleOldest, 'shrink');
      left--;
    }
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
