import {
  type Disposable,
  type ErrorReason,
  InvalidOptionError,
  InvalidReleaseError,
  isConnectionFatalReason,
  type Listener,
  numberOption,
  PoolClosedError,
  toDisposable,
} from '@enhanced-pool/core';
import {
  createHealthChecker,
  type HealthChecker,
  type HealthReport,
  type Readiness,
} from '@enhanced-pool/health-checker';
import type { ConnectionTypePoolOptions } from './connection-type.js';
import type { Lease } from './lease.js';
import type {
  AcquireOptions,
  CloseOptions,
  Pool,
  QueryOptions,
  ReadyOptions,
  RunHealthCheckOptions,
  WithConnectionContext,
  WithConnectionOptions,
} from './pool.js';
import { CLOSED, CLOSING, OPEN, PoolEngine } from './pool-engine.js';
import type { PoolEvents } from './pool-events.js';
import { MAX_TIMER_DELAY_MS, type PoolOptions, type QueryPoolOptions } from './pool-options.js';
import type { PoolStats } from './pool-stats.js';
import { ACTIVE, type ConnectionRecord, type PoolLease } from './pooled-connection.js';
import type { QueryStats } from './query-stats.js';
import { SharedQuery } from './shared-query.js';
import { resolveQueryPoolOptions } from './shared-query-options.js';

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

/**
 * The enhanced connection pool (the seed's `EnhancedConnectionPool`). `createPool()` returns
 * the same thing typed as the {@link Pool} interface.
 *
 * @typeParam TConnection - the driver's connection type.
 * @typeParam TQueryResult - what the driver's `query()` resolves with.
 */
export class EnhancedConnectionPool<TConnection, TQueryResult = unknown>
  extends PoolEngine<TConnection>
  implements Pool<TConnection, TQueryResult>
{
  // ---------------------------------------------------------------------------------------
  // Public API

  private readonly healthChecker: HealthChecker;
  private readonly sharedQueries: SharedQuery<TConnection>;

  constructor(
    options: PoolOptions<TConnection, TQueryResult> | ConnectionTypePoolOptions<TConnection>,
  ) {
    super(options);
    this.sharedQueries = this.createSharedQueries(options.query);
    const { events } = this;
    this.healthChecker = createHealthChecker(this.health, this.options.healthCheck);
    this.healthChecker.on('report', (report) => {
      if (events.has('healthCheck')) events.emit('healthCheck', report);
    });
    this.healthChecker.start();
  }

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

  query<TResult = TQueryResult>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<TResult> {
    return this.sharedQueries.run(text, values, options) as Promise<TResult>;
  }

  getQueryStats(): QueryStats {
    return this.sharedQueries.stats();
  }

  /** `pool.query()`'s shared connections: leases this pool takes from itself. */
  private createSharedQueries(given: QueryPoolOptions | undefined): SharedQuery<TConnection> {
    const { options } = this;
    const query = resolveQueryPoolOptions(given, options.maxSize);
    return new SharedQuery(
      {
        driver: options.driver,
        maxInFlightPerConnection: query.maxInFlightPerConnection,
        maxSharedConnections: query.maxSharedConnections,
        acquireTimeoutMs: options.acquireTimeoutMs,
        maxWaiting: options.maxWaiting,
        clock: options.clock,
        name: this.name,
      },
      {
        acquire: (acquireOptions) => this.acquire(acquireOptions),
        classify: (error) => this.classify(error),
        readClock: () => this.readClock(),
        isOpen: () => this.state === OPEN,
        idleCount: () => this.idle.count,
        canGrow: () => this.size + this.connectsInFlight() < this.maxSize,
        waitingAcquires: () => this.queue.length,
        gauges: () => this.gauges(),
      },
    );
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
    options?: WithConnectionOptions,
  ): Promise<TResult> {
    let retry = options?.idempotent;
    if (retry !== undefined && typeof retry !== 'boolean') {
      throw new InvalidOptionError('idempotent', retry, 'true or false');
    }
    const signal = options?.signal;
    const context: WithConnectionContext = { signal };
    let lease = (await this.acquire(options)) as PoolLease<TConnection>;
    for (;;) {
      let result: TResult;
      try {
        result = await fn(lease.connection, context);
      } catch (error) {
        if (lease.state !== ACTIVE) throw error;
        const reason = this.classify(error);
        // Once, and only when the connection was trusted without a round trip: one handed out
        // straight after its connect or a validation that fails says the database is in trouble,
        // not that a socket died idle.
        const again = retry === true && reason === 'connection' && !lease.validated;
        this.endAfterError(lease, error, reason);
        if (!again || this.state !== OPEN) throw error;
        retry = false;
        this.counters.retries++;
        lease = await this.acquireForRetry(signal);
        continue;
      }
      if (lease.state === ACTIVE) lease.release();
      return result;
    }
  }

  /** The same as `acquire()`, for a retry: whatever it gets has made a round trip. */
  private acquireForRetry(signal: AbortSignal | undefined): Promise<PoolLease<TConnection>> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    if (signal?.aborted) {
      this.counters.aborted++;
      return Promise.reject(signal.reason);
    }
    const now = this.readClock();
    const stack = this.leakDetectionMs > 0 ? new Error('Lease acquired here').stack : undefined;
    let promise: Promise<Lease<TConnection>>;
    const record = this.queue.head === undefined ? this.takeIdle(now) : undefined;
    if (record === undefined) promise = this.enqueue(now, signal, stack, true);
    else {
      const waiter = this.queue.create(now, signal, stack, true);
      this.validation.start(waiter, record, now);
      promise = waiter.promise;
    }
    return promise as Promise<PoolLease<TConnection>>;
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
      this.validation.suspectIdle(lease.record);
    } else if (reason === 'timeout') {
      this.countConnectionError(lease.record);
    }
    return reason;
  }

  /** `withConnection`'s callback failed: destroy a dead connection, else release it. */
  private endAfterError(lease: PoolLease<TConnection>, error: unknown, reason: ErrorReason): void {
    if (isConnectionFatalReason(reason)) {
      this.validation.suspectIdle(lease.record);
      lease.destroy(error);
      return;
    }
    if (reason === 'timeout') this.countConnectionError(lease.record);
    lease.release();
  }

  /** Counts a `timeout` error; at `maxConnectionErrors` the connection is retired on release. */
  private countConnectionError(record: ConnectionRecord<TConnection>): void {
    if (++record.errors >= this.options.maxConnectionErrors) record.uses = Infinity;
  }

  ready(options?: ReadyOptions): Promise<void> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    if (this.size >= this.minSize) return Promise.resolve();
    return this.readyWaiters.wait(options?.signal);
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
    return this.gate.readiness(this.state !== OPEN);
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
    this.sharedQueries.close(closedError);
    this.closeController.abort(closedError);
    this.reaper.stop();
    this.leaks.stop();
    this.gate.stop();
    this.sizing?.stop();
    // Aborts validations in flight; their connections come back and are closed.
    void this.healthChecker.stop();
    this.queue.rejectAll(closedError);
    this.connector.abortAll();
    this.readyWaiters.rejectAll(closedError);
    while (this.idle.newest !== undefined) this.discard(this.idle.newest, 'close');
    this.closer.begin(timeoutMs);
    return this.closePromise;
  }

  closeAll(options?: CloseOptions): Promise<void> {
    return this.close(options);
  }

  getStats(): PoolStats {
    const breaker = this.gate.breaker;
    const stats = this.counters.toStats(this.gauges(), {
      name: this.name,
      state: this.state === OPEN ? 'open' : this.state === CLOSING ? 'closing' : 'closed',
      acquired: this.acquired,
      released: this.released,
      healthChecking: this.health.checkedOut,
      minSize: this.minSize,
      maxSize: this.maxSize,
      targetSize: this.targetSize,
      breakerState: breaker === undefined ? 'disabled' : breaker.getState(),
      // Acquires served from idle at once waited 0 ms: counted, never recorded one by one.
      acquireWaitSeconds: this.waits.summary(
        this.recordLatency ? this.acquired - this.waits.count : 0,
      ),
      useSeconds: this.holds.summary(),
      connectSeconds: this.connects.summary(),
    });
    const budget = this.connector.budget;
    return budget === undefined ? stats : { ...stats, fleetBudget: budget.stats() };
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

  /** @internal The close protocol finished: settle `close()`. */
  finished(forced: number): void {
    this.state = CLOSED;
    if (this.events.has('closed')) this.events.emit('closed', { forced });
    this.events.clear();
    this.sharedQueries.dispose();
    this.gate.dispose();
    this.refreshObservers();
    this.closeResolve();
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
 * const { rows: [row] } = await pool.query('SELECT now() AS now');
 */
export function createPool<TConnection, TQueryResult = unknown>(
  options: PoolOptions<TConnection, TQueryResult>,
): Pool<TConnection, TQueryResult>;
/**
 * Creates a connection pool from `connectionType` + `connectionParams`: the pool builds the
 * pg driver (`'direct'`) or the Supabase driver (`'supabase'`), loading only that package.
 *
 * @example
 * const pool = createPool<pg.Client>({
 *   connectionType: 'direct',
 *   connectionParams: { host: 'localhost', port: 5432, database: 'mydb', user: 'me', password },
 * });
 */
export function createPool<TConnection = unknown>(
  options: ConnectionTypePoolOptions<TConnection>,
): Pool<TConnection>;
export function createPool<TConnection, TQueryResult = unknown>(
  options: PoolOptions<TConnection, TQueryResult> | ConnectionTypePoolOptions<TConnection>,
): Pool<TConnection, TQueryResult> {
  return new EnhancedConnectionPool(options);
}
