import type {
  BreakerStateStore,
  BreakerStoreCallOptions,
  BreakerStoreOperation,
  BreakerStoreSubscription,
  ProbeLease,
  SharedBreakerState,
} from './breaker-state-store.js';
import { type Clock, unrefTimer } from './clock.js';
import { BreakerStoreError, BreakerStoreTimeoutError } from './errors.js';

/** The few breaker members the link reaches; the breaker's state machine stays its own. */
export interface SharedStateTarget {
  /** Another instance opened: refuse calls for `openRemainingMs` (unless isolated). */
  applyRemoteOpen(openRemainingMs: number, attempt: number): void;
  /** Another instance's trials succeeded: close if this breaker is waiting on the fleet. */
  applyRemoteClose(): void;
  /** Still half-open in `generation` (a lease answer may arrive after the breaker moved on). */
  isHalfOpenIn(generation: number): boolean;
  /** A store operation failed; the breaker emits `storeError`. */
  storeFailed(error: BreakerStoreError): void;
}

/** Where this instance stands on the half-open probe lease of the current half-open period. */
const LEASE_NONE = 0;
/** Asked the store; refusing calls until it answers or `storeTimeoutMs` passes. */
const LEASE_PENDING = 1;
/** Another instance holds the lease (or a shared open period runs) until `waitUntil`. */
const LEASE_WAITING = 2;
/** Trials may run here: the lease was granted, or the store failed and local state rules. */
const LEASE_PROBING = 3;
type LeaseMode =
  | typeof LEASE_NONE
  | typeof LEASE_PENDING
  | typeof LEASE_WAITING
  | typeof LEASE_PROBING;

let instanceCounter = 0;

/** An id unique to this breaker instance across processes: random part plus a local counter. */
function instanceId(): string {
  instanceCounter += 1;
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  const random =
    typeof crypto?.randomUUID === 'function'
      ? crypto.randomUUID()
      : `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  return `${random}-${instanceCounter}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Validates what a store delivered: data from another process is never trusted blindly. */
function parseSharedState(value: unknown): SharedBreakerState | undefined {
  if (!isRecord(value) || typeof value.source !== 'string') return undefined;
  if (value.state === 'closed') return { state: 'closed', source: value.source };
  if (value.state !== 'open') return undefined;
  const remaining = value.openRemainingMs;
  const attempt = value.attempt;
  if (typeof remaining !== 'number' || !Number.isFinite(remaining) || remaining < 0) {
    return undefined;
  }
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 0) return undefined;
  return { state: 'open', openRemainingMs: remaining, attempt, source: value.source };
}

function parseLease(value: unknown): ProbeLease | undefined {
  if (!isRecord(value)) return undefined;
  if (value.granted === true) return { granted: true };
  const retry = value.retryAfterMs;
  if (value.granted === false && typeof retry === 'number' && retry >= 0 && retry < Infinity) {
    return { granted: false, retryAfterMs: retry };
  }
  return undefined;
}

/**
 * The breaker's side of a {@link BreakerStateStore}: publishes its own openings and closes,
 * applies remote ones, and decides per half-open period whether this instance may probe.
 *
 * Nothing here is awaited by a call. Every store operation runs in the background with a
 * `storeTimeoutMs` timer on the breaker's clock (the only timers a store adds, and only while an
 * operation is in flight); a failure or timeout makes the breaker fall back to local state.
 */
export class StoreLink {
  /** This instance's id: the `source` of what it publishes and the `holder` of its lease. */
  readonly id: string = instanceId();
  /** The current open period came from another instance (a remote close may end it). */
  openedByRemote = false;
  private healthy = true;
  private lease: LeaseMode = LEASE_NONE;
  /** The store granted this instance the lease and it hasn't been released. */
  private holding = false;
  private leaseGeneration = -1;
  /** Until when a pending or waiting instance refuses calls (a clock reading). */
  private waitUntil = 0;
  private subscription: BreakerStoreSubscription | undefined;
  private disposed = false;

  constructor(
    private readonly target: SharedStateTarget,
    private readonly store: BreakerStateStore,
    private readonly name: string,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly leaseTtlMs: number,
  ) {}

  /** Subscribes, then reads the state other instances may have published before we started. */
  start(): void {
    try {
      this.subscription = this.store.subscribe(this.name, (state) => this.onMessage(state));
    } catch (error) {
      // Reported on a microtask: the breaker's creator hasn't had a chance to listen yet.
      globalThis.queueMicrotask(() => this.fail('subscribe', error));
    }
    this.run(
      'read',
      (options) => this.store.read(this.name, options),
      (value) => {
        if (value === undefined || value === null) return;
        this.onMessage(value, 'read');
      },
    );
  }

  /** This breaker opened on its own evidence: tell the others. */
  opened(openDurationMs: number, attempt: number): void {
    this.openedByRemote = false;
    this.publish({ state: 'open', openRemainingMs: openDurationMs, attempt, source: this.id });
  }

  /** This breaker's trials succeeded: tell the others they can close. */
  closed(): void {
    this.openedByRemote = false;
    this.publish({ state: 'closed', source: this.id });
  }

  /** The breaker left half-open (or was reset, isolated): give the lease back if we hold it. */
  leftHalfOpen(): void {
    this.lease = LEASE_NONE;
    this.releaseIfHolding();
  }

  /** Any transition that isn't a remote open: the open period, if any, is no longer remote. */
  localTransition(): void {
    this.openedByRemote = false;
  }

  /**
   * May a half-open trial start here in `generation`? Asks the store for the lease on the first
   * call of each half-open period and refuses until it answers; never waits for it.
   */
  mayProbe(generation: number): boolean {
    if (this.disposed) return true;
    if (this.leaseGeneration !== generation) {
      this.leaseGeneration = generation;
      this.lease = LEASE_NONE;
    }
    const mode = this.lease;
    if (mode === LEASE_PROBING) return true;
    if (mode === LEASE_PENDING) return false;
    if (mode === LEASE_WAITING && this.clock.now() < this.waitUntil) return false;
    this.requestLease(generation);
    // An instance that just saw the store fail doesn't make its callers wait for another
    // timeout: it probes on local state at once (the request still runs, to learn whether the
    // store is back and to hold the lease if it is).
    if (!this.healthy) {
      this.lease = LEASE_PROBING;
      return true;
    }
    return false;
  }

  /** A trial starts under our lease: extend it so it covers this trial's probe deadline. */
  trialStarted(): void {
    if (!this.holding || this.disposed) return;
    this.run(
      'acquireProbeLease',
      (options) => this.store.acquireProbeLease(this.name, this.id, this.leaseTtlMs, options),
      () => {},
    );
  }

  /** For a refusal while pending or waiting: when asking again may help. */
  retryAfterMs(): number {
    return Math.max(0, this.waitUntil - this.clock.now());
  }

  dispose(): void {
    if (this.disposed) return;
    this.releaseIfHolding();
    this.disposed = true;
    this.subscription?.dispose();
    this.subscription = undefined;
  }

  // --- internals ---------------------------------------------------------------------------

  private requestLease(generation: number): void {
    this.lease = LEASE_PENDING;
    this.waitUntil = this.clock.now() + this.timeoutMs;
    this.run(
      'acquireProbeLease',
      (options) => this.store.acquireProbeLease(this.name, this.id, this.leaseTtlMs, options),
      (value) => {
        const lease = parseLease(value);
        if (lease === undefined) {
          throw new BreakerStoreError('acquireProbeLease', 'the store answered with no lease');
        }
        const current = this.target.isHalfOpenIn(generation) && this.leaseGeneration === generation;
        if (lease.granted) {
          this.holding = true;
          if (current) this.lease = LEASE_PROBING;
          else this.releaseIfHolding();
        } else if (current && this.lease === LEASE_PENDING) {
          this.lease = LEASE_WAITING;
          this.waitUntil = this.clock.now() + lease.retryAfterMs;
        }
      },
      () => {
        // Unreachable or slow: decide on local state, as a breaker without a store would.
        if (this.leaseGeneration === generation && this.lease === LEASE_PENDING) {
          this.lease = LEASE_PROBING;
        }
      },
    );
  }

  private releaseIfHolding(): void {
    if (!this.holding || this.disposed) return;
    this.holding = false;
    this.run(
      'releaseProbeLease',
      (options) => this.store.releaseProbeLease(this.name, this.id, options),
      () => {},
    );
  }

  private publish(state: SharedBreakerState): void {
    if (this.disposed) return;
    this.run(
      'publish',
      (options) => this.store.publish(this.name, state, options),
      () => {},
    );
  }

  private onMessage(value: unknown, operation: BreakerStoreOperation = 'message'): void {
    if (this.disposed) return;
    const state = parseSharedState(value);
    if (state === undefined) {
      this.fail(operation, new TypeError('the store delivered something that is not a state'));
      return;
    }
    this.healthy = true;
    if (state.source === this.id) return;
    if (state.state === 'open') {
      this.target.applyRemoteOpen(state.openRemainingMs, state.attempt);
    } else {
      this.target.applyRemoteClose();
    }
  }

  /**
   * Runs one store operation in the background, bounded by `storeTimeoutMs`. `onValue` runs
   * only if the answer came in time; `onFailure` after a rejection, a throw or the timeout.
   */
  private run<T>(
    operation: BreakerStoreOperation,
    call: (options: BreakerStoreCallOptions) => Promise<T>,
    onValue: (value: T) => void,
    onFailure?: () => void,
  ): void {
    const controller = new AbortController();
    let done = false;
    const fail = (error: unknown): void => {
      if (done) return;
      done = true;
      this.clock.clearTimeout(timer);
      this.fail(operation, error);
      onFailure?.();
    };
    const timer = this.clock.setTimeout(() => {
      const error = new BreakerStoreTimeoutError(operation, this.timeoutMs, {
        breakerName: this.name,
      });
      controller.abort(error);
      fail(error);
    }, this.timeoutMs);
    unrefTimer(timer);
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(call({ signal: controller.signal }));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then((value) => {
      if (done) return;
      done = true;
      this.clock.clearTimeout(timer);
      this.healthy = true;
      try {
        onValue(value);
      } catch (error) {
        this.fail(operation, error);
        onFailure?.();
      }
    }, fail);
  }

  private fail(operation: BreakerStoreOperation, error: unknown): void {
    this.healthy = false;
    if (this.disposed && operation !== 'releaseProbeLease') return;
    const storeError = BreakerStoreError.isInstance(error)
      ? error
      : new BreakerStoreError(operation, error instanceof Error ? error.message : String(error), {
          cause: error,
          breakerName: this.name,
        });
    this.target.storeFailed(storeError);
  }
}
