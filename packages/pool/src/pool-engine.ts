import { type AdaptiveSizer, createAdaptiveSizer } from '@enhanced-pool/adaptive-sizer';
import type { CircuitBreaker } from '@enhanced-pool/circuit-breaker';
import {
  type Clock,
  type ConnectError,
  type Driver,
  type ErrorReason,
  InvalidReleaseError,
  PoolClosedError,
  PoolExhaustedError,
  TypedEmitter,
} from '@enhanced-pool/core';
import { CloseProtocol } from './close-protocol.js';
import { ConnectGate } from './connect-gate.js';
import type { ConnectionTypePoolOptions } from './connection-type.js';
import { type ConnectAttempt, Connector } from './connector.js';
import { classifyWith, driverLogContext, isBrokenWith } from './driver-calls.js';
import { HandOutValidation } from './hand-out-validation.js';
import { PoolHealthTarget } from './health-target.js';
import { IdleList } from './idle-list.js';
import { IdleReaper } from './idle-reaper.js';
import { LatencyHistogram } from './latency-histogram.js';
import { LeakDetector } from './leak-detector.js';
import type { Lease } from './lease.js';
import type { AcquireOptions } from './pool.js';
import { PoolCounters, type PoolGauges } from './pool-counters.js';
import type { DestroyReason, PoolEvents } from './pool-events.js';
import type { PoolOptions, ResolvedPoolOptions } from './pool-options.js';
import {
  ACTIVE,
  ConnectionRecord,
  DESTROYED,
  IDLE,
  LEASED,
  lifetimeEnd,
  MAINTAINED,
  PoolLease,
  RELEASED,
  RELEASING,
  REVOKED,
} from './pooled-connection.js';
import { ReadyWaiters } from './ready-waiters.js';
import { ReleaseWork } from './release-work.js';
import { resolvePoolOptions } from './resolve-pool-options.js';
import { SizingLoop } from './sizing-loop.js';
import { type Waiter, WaitQueue } from './wait-queue.js';

export const OPEN = 0;
export const CLOSING = 1;
export const CLOSED = 2;

const noop = (): void => {};

/**
 * The engine under {@link EnhancedConnectionPool}: the hot path (acquire, grant, release,
 * return to a waiter or to idle), membership (a connection joining, a connection discarded),
 * and the wiring of one module per concept, each reaching the pool through a narrow host
 * interface implemented here (see the package README's map). Those members are stripped from
 * the published types (the internal tag), as are the modules themselves.
 *
 * @typeParam TConnection - the driver's connection type.
 */
export abstract class PoolEngine<TConnection> {
  readonly name: string;
  readonly connCircuitBreaker: CircuitBreaker | undefined;

  /** @internal */ readonly minSize: number;
  /** @internal */ readonly maxSize: number;
  /** @internal Open connections: idle, leased, or in transit. */
  size = 0;
  /** @internal The size the sizer asked for; `minSize` until it decides. */
  targetSize: number;
  /**
   * @internal The latest clock reading. Releases use it instead of reading the clock (one
   * reading per acquire+release cycle instead of two): it is never later than the true release
   * time, so idle time is overestimated, never under: validation errs toward validating.
   */
  lastNow: number;
  /** @internal */ readonly idle = new IdleList<TConnection>();
  /** @internal */ readonly queue: WaitQueue<TConnection>;
  /** @internal Every open connection, for `releaseConnection()`, leak sweeps and close. */
  readonly records = new Map<TConnection, ConnectionRecord<TConnection>>();
  /** @internal */ readonly counters = new PoolCounters();
  /** @internal Leases handed out (a field here, not in `counters`: the hot path's own). */
  acquired = 0;
  /** @internal Leases ended. */
  released = 0;
  // The sums of holds and waits: the histograms' own when they record, else these (one
  // addition per release either way); the sizer reads them since its last sample.
  private holdTotalMs = 0;
  private waitTotalMs = 0;
  private holdSampledMs = 0;
  private waitSampledMs = 0;
  /** @internal Whether the latency histograms record (the `metrics` option). */
  protected readonly recordLatency: boolean;
  /** @internal Waits of acquires that waited; those served from idle at once are counted, not recorded. */
  protected readonly waits = new LatencyHistogram();
  /** @internal How long each lease was held. */
  protected readonly holds = new LatencyHistogram();
  /** @internal How long each successful connect took. */
  protected readonly connects = new LatencyHistogram();

  /** @internal */
  protected readonly options: ResolvedPoolOptions<TConnection>;
  private readonly driver: Driver<TConnection>;
  private readonly clock: Clock;
  private readonly acquireTimeoutMs: number;
  private readonly validateAfterIdleMs: number;
  private readonly fifo: boolean;
  private readonly maxUses: number;
  private readonly maxWaiting: number;
  /** @internal */
  protected readonly leakDetectionMs: number;
  private readonly hasIsBroken: boolean;
  /** Release needs async work (reset or validateOnRelease). */
  private readonly releaseIsAsync: boolean;
  /** @internal */
  protected readonly events = new TypedEmitter<PoolEvents>();
  private observeAcquired = false;
  private observeReleased = false;
  private observeCreated = false;
  private observeDestroyed = false;
  /** @internal */
  protected state = OPEN;
  private nextConnectionId = 1;
  private nextLeaseId = 1;
  /** @internal */
  protected readonly closeController = new AbortController();
  /** @internal */
  protected closePromise: Promise<void> | undefined = undefined;
  /** @internal */
  protected closeResolve: () => void = noop;

  /** @internal */
  protected readonly gate: ConnectGate;
  /** @internal */
  protected readonly connector: Connector<TConnection>;
  /** @internal */
  protected readonly validation: HandOutValidation<TConnection>;
  private readonly releaseWork: ReleaseWork<TConnection>;
  /** @internal */
  protected readonly reaper: IdleReaper<TConnection>;
  /** @internal */
  protected readonly leaks: LeakDetector<TConnection>;
  /** @internal */
  protected readonly sizing: SizingLoop<TConnection> | undefined;
  /** @internal */
  protected readonly health: PoolHealthTarget<TConnection>;
  /** @internal */
  protected readonly closer: CloseProtocol<TConnection>;
  /** @internal */
  protected readonly readyWaiters = new ReadyWaiters();

  constructor(options: PoolOptions<TConnection> | ConnectionTypePoolOptions<TConnection>) {
    const resolved = resolvePoolOptions(options);
    this.options = resolved;
    this.name = resolved.name;
    this.driver = resolved.driver;
    this.clock = resolved.clock;
    this.minSize = resolved.minSize;
    this.maxSize = resolved.maxSize;
    this.targetSize = resolved.minSize;
    this.acquireTimeoutMs = resolved.acquireTimeoutMs;
    this.validateAfterIdleMs = resolved.validateAfterIdleMs;
    this.fifo = resolved.idleOrder === 'fifo';
    this.maxUses = resolved.maxUses;
    this.maxWaiting = resolved.maxWaiting;
    this.leakDetectionMs = resolved.leakDetectionMs;
    this.hasIsBroken = typeof this.driver.isBroken === 'function';
    this.recordLatency = resolved.metrics;
    this.lastNow = this.clock.now();
    const logContext = driverLogContext(this.name, this.driver);
    const { clock, driver, counters, events, name } = this;
    const logger = resolved.logger;
    const shared = { clock, logger, logContext, name };

    const queue = new WaitQueue({ ...resolved, ...shared, counters, events }, this);
    this.queue = queue;
    const gate = new ConnectGate({ ...resolved, ...shared }, this);
    this.gate = gate;
    this.connCircuitBreaker = gate.breaker;
    this.closer = new CloseProtocol({ ...shared, driver }, this);
    const sizer: AdaptiveSizer | undefined =
      resolved.adaptiveSizing === undefined
        ? undefined
        : createAdaptiveSizer(resolved.adaptiveSizing);
    // The connector and the sizing loop need each other: the connector reaches the loop late.
    const connector: Connector<TConnection> = new Connector(
      {
        ...resolved,
        ...shared,
        counters,
        events,
        readyWaiters: this.readyWaiters,
        closer: this.closer,
        sizing: { arm: () => this.sizing?.arm() },
      },
      gate,
      this,
    );
    this.connector = connector;
    this.sizing =
      sizer === undefined
        ? undefined
        : new SizingLoop(
            {
              ...shared,
              sizer,
              gate,
              connector,
              events,
              intervalMs: resolved.sizingIntervalMs,
            },
            this,
          );
    this.validation = new HandOutValidation(
      { ...resolved, ...shared, counters, idle: this.idle, queue },
      this,
    );
    this.releaseWork = new ReleaseWork(
      {
        ...shared,
        driver,
        counters,
        validateOnRelease: resolved.validateOnRelease,
        callOptions: { signal: this.closeController.signal },
      },
      this,
    );
    this.releaseIsAsync = this.releaseWork.needed;
    this.reaper = new IdleReaper(this.idle, clock, resolved.idleTimeoutMs, this);
    this.leaks = new LeakDetector({ ...resolved, ...shared, counters, events }, this);
    this.health = new PoolHealthTarget(
      { driver, breaker: gate.breaker, connector, gate, readyWaiters: this.readyWaiters, name },
      this,
    );
    this.connector.ensureMinimum();
  }

  // ---------------------------------------------------------------------------------------
  // Acquire

  acquire(options?: AcquireOptions): Promise<Lease<TConnection>> {
    if (this.state !== OPEN) return Promise.reject(new PoolClosedError({ poolName: this.name }));
    const signal = options?.signal;
    if (signal?.aborted) {
      this.counters.aborted++;
      return Promise.reject(signal.reason);
    }
    const now = this.readClock();
    const stack = this.leakDetectionMs > 0 ? new Error('Lease acquired here').stack : undefined;
    if (this.queue.head === undefined && this.idle.newest !== undefined) {
      const record = this.takeIdle(now);
      if (record !== undefined) {
        if (now - record.idleSince < this.validateAfterIdleMs) {
          return Promise.resolve(this.grant(record, now, 0, stack));
        }
        const waiter = this.queue.create(now, signal, stack, false);
        this.validation.start(waiter, record, now);
        return waiter.promise;
      }
    }
    return this.enqueue(now, signal, stack, false);
  }

  // ---------------------------------------------------------------------------------------
  // Leases (what PoolLease calls)

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
    this.released++;
    // The last clock reading, not a new one: exact in a busy pool, short in an idle one.
    const holdMs = this.lastNow - lease.acquiredAt;
    if (this.recordLatency) this.holds.record(holdMs);
    else this.holdTotalMs += holdMs;
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
      void this.releaseWork.run(record);
    } else {
      this.returnRecord(record, this.lastNow);
    }
  }

  /** @internal */
  destroyLease(lease: PoolLease<TConnection>, error: unknown): void {
    if (!this.endLease(lease)) return;
    this.discard(lease.record, 'destroyed-by-user', error);
  }

  /** @internal Classifies an error a holder reports; see `Lease.reportError`. */
  abstract reportLeaseError(lease: PoolLease<TConnection>, error: unknown): ErrorReason;

  // ---------------------------------------------------------------------------------------
  // Hand-out

  /**
   * Takes the next usable idle connection (most recently released, or least recently with
   * `idleOrder: 'fifo'`), closing dead ones on the way.
   */
  /** @internal */
  protected takeIdle(now: number): ConnectionRecord<TConnection> | undefined {
    const idle = this.idle;
    for (
      let record = this.fifo ? idle.oldest : idle.newest;
      record !== undefined;
      record = this.fifo ? idle.oldest : idle.newest
    ) {
      if (now >= record.expiresAt) this.discard(record, 'lifetime');
      else if (this.hasIsBroken && this.isBroken(record)) this.discardBroken(record);
      else {
        // Still marked IDLE: the caller sets the next state before anything else runs.
        idle.unlink(record);
        return record;
      }
    }
    return undefined;
  }

  /** @internal */
  grant(
    record: ConnectionRecord<TConnection>,
    now: number,
    waitMs: number,
    stack: string | undefined,
  ): PoolLease<TConnection> {
    record.state = LEASED;
    const uses = ++record.uses;
    const lease = new PoolLease(this, record, this.nextLeaseId++, uses === 1, now);
    record.lease = lease;
    this.acquired++;
    if (this.leakDetectionMs > 0) {
      lease.stack = stack;
      this.leaks.noteGranted(now);
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
   * @internal Where a connection goes when it is free again (released, opened, validated after
   * its waiter gave up, back from a health check): to the first waiter, else to idle. Dead or
   * expired ones are closed.
   */
  returnRecord(record: ConnectionRecord<TConnection>, now: number, fromHealthCheck = false): void {
    if (this.state !== OPEN) {
      this.discard(record, 'close');
      return;
    }
    if (this.hasIsBroken && this.isBroken(record)) {
      this.discardBroken(record);
      return;
    }
    if (now >= record.expiresAt) {
      this.discard(record, 'lifetime');
      return;
    }
    const waiter = this.queue.head;
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
      this.queue.unlink(waiter);
      // A retry of idempotent work takes a connection only after a round trip: just opened or
      // just validated (this reading), or validated now.
      if (waiter.mustValidate && record.lastValidatedAt !== now) {
        this.validation.start(waiter, record, now);
      } else this.serve(waiter, record, now);
      return;
    }
    if (fromHealthCheck) {
      // A ping is not a borrower: it keeps its place in idle time.
      this.idle.link(record);
      this.reaper.noteRelinked(record, now);
    } else {
      record.idleSince = now;
      record.lastUsedAt = now;
      this.idle.link(record);
      this.reaper.noteIdle(record, now);
    }
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
    this.queue.settle(waiter);
    if (this.leakDetectionMs > 0 || this.observeAcquired) now = this.readClock();
    const waitMs = now > waiter.enqueuedAt ? now - waiter.enqueuedAt : 0;
    this.noteWait(waitMs);
    waiter.resolve(this.grant(record, now, waitMs, waiter.stack));
  }

  /** @internal A waiter's connection failed validation: back in the queue, served again. */
  retryWaiter(waiter: Waiter<TConnection>): void {
    this.queue.insertByDeadline(waiter);
    if (this.queue.head === undefined || this.idle.newest === undefined) return;
    const now = this.readClock();
    while (this.queue.head !== undefined && this.idle.newest !== undefined) {
      const record = this.takeIdle(now);
      if (record === undefined) return;
      const next = this.queue.head;
      this.queue.unlink(next);
      if (now - record.idleSince < this.validateAfterIdleMs && !next.mustValidate) {
        this.serve(next, record, now);
      } else this.validation.start(next, record, now);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Waiters

  /** Queues an acquire nothing idle could serve, and starts a connect for it if useful. */
  /** @internal */
  protected enqueue(
    now: number,
    signal: AbortSignal | undefined,
    stack: string | undefined,
    mustValidate: boolean,
  ): Promise<Lease<TConnection>> {
    if (this.queue.length >= this.maxWaiting) {
      this.counters.exhausted++;
      return Promise.reject(new PoolExhaustedError(this.maxWaiting, { poolName: this.name }));
    }
    const waiter = this.queue.create(now, signal, stack, mustValidate);
    this.queue.push(waiter, now);
    this.sizing?.arm();
    // A full pool (the steady state under load) can open nothing for the waiter, and is at
    // least at minSize: skip asking the connector.
    if (this.size < this.maxSize) {
      this.connector.fillForWaiters(waiter);
      this.connector.ensureMinimum();
    }
    return waiter.promise;
  }

  /** @internal */
  releaseAttempt(attempt: ConnectAttempt<TConnection>): void {
    this.connector.release(attempt);
  }

  /** @internal */
  connectErrorSince(since: number): ConnectError | undefined {
    const { connector } = this;
    return connector.lastConnectErrorAt >= since ? connector.lastConnectError : undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Membership: connections joining and leaving

  /** @internal A connect succeeded. */
  adopt(connection: TConnection, attempt: ConnectAttempt<TConnection>, now: number): void {
    if (this.state !== OPEN || this.records.has(connection)) {
      // Closing (or a driver handing out the same object twice): close it, never pool it.
      this.closer.closeConnection(connection);
      this.closer.check();
      return;
    }
    const record = new ConnectionRecord(
      connection,
      this.nextConnectionId++,
      now,
      lifetimeEnd(now, this.options),
    );
    this.records.set(connection, record);
    this.size++;
    this.counters.created++;
    this.health.noteCreated(attempt.forMinimum, this.size >= this.minSize);
    if (this.recordLatency) this.connects.record(now - attempt.startedAt);
    if (this.observeCreated) {
      this.events.emit('connectionCreated', {
        connectionId: record.id,
        durationMs: now - attempt.startedAt,
      });
    }
    this.returnRecord(record, now);
    // Handed straight to a waiter: its connect was the round trip (see `withConnection`'s retry).
    if (record.lease !== undefined) record.lease.validated = true;
    if (this.size >= this.minSize) this.readyWaiters.resolveAll();
  }

  /** @internal Takes a connection out of the pool and closes it; frees its slot. */
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason, error?: unknown): void {
    const previous = record.state;
    if (previous === DESTROYED) return;
    if (previous === IDLE) this.idle.unlink(record);
    else if (previous === MAINTAINED) this.health.forget();
    record.state = DESTROYED;
    const lease = record.lease;
    if (lease !== undefined) {
      record.lease = undefined;
      if (lease.state === ACTIVE) lease.state = REVOKED;
    }
    this.records.delete(record.connection);
    this.size--;
    this.counters.countDestroyed(reason);
    if (this.observeDestroyed) {
      this.events.emit(
        'connectionDestroyed',
        error === undefined
          ? { connectionId: record.id, reason }
          : { connectionId: record.id, reason, error },
      );
    }
    this.closer.closeConnection(record.connection);
    if (this.state === OPEN) this.connector.replenish();
    else this.closer.check();
  }

  /** A connection found dead: closed, and its idle siblings suspected. */
  private discardBroken(record: ConnectionRecord<TConnection>): void {
    this.discard(record, 'broken');
    this.validation.suspectIdle(record);
  }

  // ---------------------------------------------------------------------------------------
  // Host members the modules call (see their *Host interfaces)

  /** @internal */
  isOpen(): boolean {
    return this.state === OPEN;
  }

  /** @internal The one place the derived gauges are computed. */
  gauges(): PoolGauges {
    const idle = this.idle.count;
    return {
      size: this.size,
      idle,
      active: this.size - idle,
      pending: this.queue.pending,
      connecting: this.connector.connecting,
    };
  }

  /** @internal */
  readClock(): number {
    const now = this.clock.now();
    this.lastNow = now;
    return now;
  }

  /** @internal An acquire that waited got its lease after `waitMs`. */
  noteWait(waitMs: number): void {
    if (this.recordLatency) this.waits.record(waitMs);
    else this.waitTotalMs += waitMs;
  }

  /** @internal Sum of the holds of leases ended since the sizer's last sample; it resets it. */
  get holdSumMs(): number {
    return (this.recordLatency ? this.holds.sumMs : this.holdTotalMs) - this.holdSampledMs;
  }

  set holdSumMs(sinceSample: number) {
    this.holdSampledMs = (this.recordLatency ? this.holds.sumMs : this.holdTotalMs) - sinceSample;
  }

  /** @internal Sum of the waits of acquires since the sizer's last sample (0 when served from idle). */
  get waitSumMs(): number {
    return (this.recordLatency ? this.waits.sumMs : this.waitTotalMs) - this.waitSampledMs;
  }

  set waitSumMs(sinceSample: number) {
    this.waitSampledMs = (this.recordLatency ? this.waits.sumMs : this.waitTotalMs) - sinceSample;
  }

  /** @internal */
  connectsInFlight(): number {
    return this.connector.connecting;
  }

  /** @internal */
  classify(error: unknown): ErrorReason {
    return classifyWith(this.driver, error);
  }

  /** @internal */
  suspectIdle(cause: ConnectionRecord<TConnection>): void {
    this.validation.suspectIdle(cause);
  }

  /** @internal */
  resumeCreation(): void {
    this.connector.replenish();
    this.connector.growToTarget();
  }

  /** @internal The close protocol finished: settle `close()`. */
  abstract finished(forced: number): void;

  // ---------------------------------------------------------------------------------------
  // Small helpers

  private isBroken(record: ConnectionRecord<TConnection>): boolean {
    return isBrokenWith(this.driver, record.connection);
  }

  private emitReleased(lease: PoolLease<TConnection>): void {
    this.events.emit('released', {
      connectionId: lease.record.id,
      leaseId: lease.id,
      holdMs: this.readClock() - lease.acquiredAt,
    });
  }

  /** @internal */
  protected refreshObservers(): void {
    this.observeAcquired = this.events.has('acquired');
    this.observeReleased = this.events.has('released');
    this.observeCreated = this.events.has('connectionCreated');
    this.observeDestroyed = this.events.has('connectionDestroyed');
  }
}
