import { type Clock, unrefTimer } from './clock.js';
import { ConsecutiveWindow } from './consecutive-window.js';
import { CountWindow } from './count-window.js';
import {
  type BreakerStoreError,
  BrokenCircuitError,
  InvalidBreakerOptionError,
  PermitAlreadyReportedError,
  type RejectingState,
} from './errors.js';
import {
  type CircuitBreakerEvents,
  type CircuitBreakerListener,
  type Disposable,
  emit,
  type OutcomeEvent,
  type RejectedEvent,
  type StateChangeEvent,
  type StateChangeReason,
  type StoreErrorEvent,
  surface,
} from './events.js';
import {
  type CallOutcome,
  type CircuitBreakerOptions,
  type Classification,
  defaultClassify,
  type ResolvedCircuitBreakerOptions,
  resolveCircuitBreakerOptions,
} from './options.js';
import { FAILED, type OutcomeWindow, SLOW, TRIP_FAILURES, TRIP_NONE } from './outcome-window.js';
import type { CircuitBreakerSnapshot, CircuitState } from './snapshot.js';
import { type SharedStateTarget, StoreLink } from './store-link.js';
import { TimeWindow } from './time-window.js';

/** What `execute()` passes to the function it runs. */
export interface ExecutionContext {
  /**
   * The caller's signal, or a shared signal that never aborts when the caller gave none (so
   * `fn` can always pass `signal` on without a check, and no `AbortController` is made per call).
   * Remove any listener you add to it, as well-behaved code does.
   */
  readonly signal: AbortSignal;
}

/** Options of one `execute()` call. */
export interface ExecuteOptions {
  /**
   * Aborts the call: an already-aborted signal rejects at once without running `fn`; an abort
   * while `fn` runs rejects `execute()` at once with `signal.reason` (`fn` sees the abort through
   * its context). A caller's abort is classified `'ignore'` by default.
   */
  readonly signal?: AbortSignal;
}

/**
 * Admission to one call, for callers that can't wrap a function (a pool acquiring a connection).
 * Report exactly one outcome. The permit remembers the breaker's generation when it was issued:
 * if the breaker has moved on since (opened, was isolated or reset), the outcome is counted in
 * `metrics()` but never moves the state.
 *
 * A second report throws {@link PermitAlreadyReportedError} and changes nothing. A report on a
 * half-open trial the breaker already counted as failed (its probe deadline passed) is accepted
 * and ignored.
 */
export interface Permit {
  /** The breaker generation this permit was issued in. */
  readonly generation: number;
  /** True for a half-open trial call. */
  readonly trial: boolean;
  /**
   * The call succeeded. `durationMs` (if given) decides whether it was slow; otherwise the
   * breaker measures from `tryAcquire()`.
   */
  success(durationMs?: number): void;
  /** The call failed with `error`; `classify({ error, aborted: false })` has the last word. */
  failure(error: unknown, durationMs?: number): void;
  /** The call says nothing about the dependency's health (e.g. it was cancelled). */
  ignore(): void;
}

/** Figures for dashboards and health checks. Counters run since the breaker was created. */
export interface CircuitBreakerMetrics {
  readonly name: string | undefined;
  readonly state: CircuitState;
  /** Settled admitted calls: `successes + failures + ignored`. */
  readonly calls: number;
  readonly successes: number;
  /** Includes half-open trials that hit `halfOpenProbeTimeoutMs`. */
  readonly failures: number;
  readonly ignored: number;
  /** Successes and failures longer than `slowCallDurationMs`. */
  readonly slowCalls: number;
  /** Calls refused (by `execute()` or `tryAcquire()`). */
  readonly rejections: number;
  /** Outcomes of calls admitted in an earlier state (counted above, but they moved nothing). */
  readonly staleOutcomes: number;
  /** Half-open trials that did not settle within `halfOpenProbeTimeoutMs`. */
  readonly probeTimeouts: number;
  /** Calls currently in the window. */
  readonly windowCalls: number;
  /**
   * Failures / calls in the window (0 when empty). For a consecutive window: the failure run /
   * `window.failures`.
   */
  readonly failureRate: number;
  /** Slow calls / calls in the window (for a consecutive window: the slow run / threshold). */
  readonly slowCallRate: number;
  /** Half-open trial calls now in flight. */
  readonly trialsInFlight: number;
  /** Openings since the breaker was last closed. */
  readonly attempt: number;
  readonly timeInStateMs: number;
}

/**
 * A circuit breaker: stops calling a failing dependency, lets a few trial calls through after a
 * while, and closes again when they succeed.
 */
export interface CircuitBreaker {
  /** `options.name`. */
  readonly name: string | undefined;
  /**
   * The current state. Reading it may move an open breaker whose open period has ended to
   * `'half-open'` (and emit `stateChange`): no timer does that in the background.
   */
  readonly state: CircuitState;
  /** Same as {@link CircuitBreaker.state}. */
  getState(): CircuitState;
  /**
   * Runs `fn({ signal })` if the breaker admits a call, records the outcome, and settles as `fn`
   * did. Rejects with {@link BrokenCircuitError} when the breaker refuses the call.
   */
  execute<T>(
    fn: (context: ExecutionContext) => T | PromiseLike<T>,
    options?: ExecuteOptions,
  ): Promise<T>;
  /**
   * Asks for admission without running anything: a {@link Permit} to report the outcome to, or
   * the {@link BrokenCircuitError} explaining the refusal (returned, not thrown).
   */
  tryAcquire(): Permit | BrokenCircuitError;
  /**
   * Holds the breaker open (state `'isolated'`, every call refused) until the returned handle is
   * disposed. Isolations stack: the breaker stays isolated until all are disposed, then closes
   * with an empty window.
   */
  isolate(): Disposable;
  /**
   * Back to closed with an empty window and attempt 0, whatever the state. Lifts every
   * isolation (their handles become no-ops) and makes calls in flight stale.
   */
  reset(): void;
  /** Subscribes to an event; dispose the result to unsubscribe. */
  on<TEvent extends keyof CircuitBreakerEvents>(
    event: TEvent,
    listener: CircuitBreakerListener<TEvent>,
  ): Disposable;
  /** The state as JSON-ready data, for `initialState` in this or another process. */
  snapshot(): CircuitBreakerSnapshot;
  metrics(): CircuitBreakerMetrics;
  /**
   * Stops sharing state through `options.store`: unsubscribes and gives back a half-open lease
   * this instance holds. The breaker goes on working on local state. Does nothing without a
   * store; safe to call twice.
   */
  dispose(): void;
}

const SUCCESS = 0;
const FAILURE = 1;
const IGNORE = 2;
type OutcomeCode = typeof SUCCESS | typeof FAILURE | typeof IGNORE;
const CLASSIFICATIONS: readonly Classification[] = ['success', 'failure', 'ignore'];

const PENDING = 0;
const REPORTED = 1;
/** A trial the breaker counted as failed when its probe deadline passed. */
const EXPIRED = 2;

let sharedContext: ExecutionContext | undefined;

/**
 * The context for calls without a signal: one frozen object holding one never-aborting signal,
 * made on first use. Many concurrent calls may each add an `abort` listener to it (fetch does),
 * so Node's "possible EventTarget memory leak" warning is turned off for this signal.
 */
function neverAbortedContext(): ExecutionContext {
  if (sharedContext === undefined) {
    const signal = new AbortController().signal;
    const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    const events = process?.getBuiltinModule?.('node:events') as
      | { setMaxListeners?: (count: number, ...targets: EventTarget[]) => void }
      | undefined;
    events?.setMaxListeners?.(0, signal);
    sharedContext = Object.freeze({ signal });
  }
  return sharedContext;
}

class BreakerPermit implements Permit {
  /** @internal */
  settled: typeof PENDING | typeof REPORTED | typeof EXPIRED = PENDING;
  /** @internal the probe timer of a trial. */
  timer: unknown = undefined;
  /** @internal when a trial's probe deadline passes. */
  deadline = 0;

  constructor(
    private readonly breaker: Breaker,
    readonly generation: number,
    readonly trial: boolean,
    /** @internal clock reading at admission, NaN when not measured. */
    readonly startedAt: number,
  ) {}

  success(durationMs?: number): void {
    this.breaker.report(this, SUCCESS, undefined, durationMs);
  }

  failure(error: unknown, durationMs?: number): void {
    this.breaker.report(this, FAILURE, error, durationMs);
  }

  ignore(): void {
    this.breaker.report(this, IGNORE, undefined, undefined);
  }
}

/**
 * The two `then` handlers of unmeasured closed calls, made once per breaker generation: a call
 * knows whether it went stale by which handlers it got, so no per-call closure is needed. A
 * breaker holds one pair (about 200 bytes) from its first call on; per-call closures instead
 * measured about 8 % slower.
 */
class ClosedHandlers {
  readonly onSuccess: (value: unknown) => unknown;
  readonly onFailure: (error: unknown) => never;

  constructor(
    breaker: Breaker,
    readonly generation: number,
  ) {
    this.onSuccess = (value) => {
      breaker.settleClosedValue(generation, value);
      return value;
    };
    this.onFailure = (error) => {
      breaker.settleClosedError(generation, error);
      throw error;
    };
  }
}

class Isolation implements Disposable {
  private disposed = false;

  constructor(
    private readonly breaker: Breaker,
    private readonly epoch: number,
  ) {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.breaker.release(this.epoch);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

class Subscription implements Disposable {
  private disposed = false;

  constructor(private readonly cleanup: () => void) {}

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cleanup();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function createWindow(options: ResolvedCircuitBreakerOptions): OutcomeWindow {
  const window = options.window;
  if (window.kind === 'consecutive') return new ConsecutiveWindow(window.failures);
  // A copy of the three numbers, so the window doesn't keep the whole options object alive.
  const thresholds = {
    failureRateThreshold: options.failureRateThreshold,
    slowCallRateThreshold: options.slowCallRateThreshold,
    minimumCalls: options.minimumCalls,
  };
  if (window.kind === 'count') return new CountWindow(window.size, thresholds);
  return new TimeWindow(window.durationMs, window.buckets, thresholds);
}

function isValidDuration(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

const FALLBACK_OPEN_DURATION_MS = 10_000;

// Shared by every breaker until it gets a listener or a trial: an idle breaker allocates nothing
// it doesn't need (10,000 breakers, one per tenant database, must stay cheap).
const NO_LISTENERS: readonly never[] = Object.freeze([]);
const NO_TRIALS: readonly BreakerPermit[] = Object.freeze([]);

class Breaker implements CircuitBreaker, SharedStateTarget {
  readonly name: string | undefined;
  private readonly clock: Clock;
  private readonly window: OutcomeWindow;
  private readonly classifier: ((outcome: CallOutcome) => Classification) | undefined;
  private readonly slowCallDurationMs: number;
  /** Slow-call detection is on: every call needs a start and an end reading. */
  private readonly timesCalls: boolean;
  /** The window needs the time of each record. */
  private readonly windowNeedsClock: boolean;
  private readonly halfOpenPermits: number;
  private readonly probeTimeoutMs: number;
  private readonly openDurationMs: ResolvedCircuitBreakerOptions['openDurationMs'];
  private readonly random: () => number;
  private readonly context: ExecutionContext;

  private current: CircuitState = 'closed';
  /** Bumped on every transition (and on reset): permits from older generations are stale. */
  private generation = 0;
  private enteredAt: number;
  private openUntil = 0;
  private attempt = 0;
  private lastFailure: unknown = undefined;
  private isolations = 0;
  /** Bumped by reset(): older isolation handles no longer count. */
  private isolationEpoch = 0;
  /** Half-open trials in flight (at most `halfOpenPermits`); replaced, never mutated. */
  private trials: readonly BreakerPermit[] = NO_TRIALS;
  private trialSuccesses = 0;
  /** The outcome handlers of unmeasured closed calls in the current generation; made lazily. */
  private closedHandlers: ClosedHandlers | undefined = undefined;

  private calls = 0;
  private successes = 0;
  private failures = 0;
  private ignored = 0;
  private slowCalls = 0;
  private rejections = 0;
  private staleOutcomes = 0;
  private probeTimeouts = 0;

  private stateChangeListeners: readonly CircuitBreakerListener<'stateChange'>[] = NO_LISTENERS;
  private rejectedListeners: readonly CircuitBreakerListener<'rejected'>[] = NO_LISTENERS;
  private outcomeListeners: readonly CircuitBreakerListener<'outcome'>[] = NO_LISTENERS;
  private storeErrorListeners: readonly CircuitBreakerListener<'storeError'>[] = NO_LISTENERS;
  /** Shared state with other instances; `undefined` without a `store` (no cost then). */
  private readonly link: StoreLink | undefined;

  constructor(options: ResolvedCircuitBreakerOptions) {
    this.name = options.name;
    this.clock = options.clock;
    this.window = createWindow(options);
    this.classifier = options.classify;
    this.slowCallDurationMs = options.slowCallDurationMs;
    this.timesCalls = options.slowCallDurationMs !== Number.POSITIVE_INFINITY;
    this.windowNeedsClock = options.window.kind === 'time';
    this.halfOpenPermits = options.halfOpenPermits;
    this.probeTimeoutMs = options.halfOpenProbeTimeoutMs;
    this.openDurationMs = options.openDurationMs;
    this.random = options.random;
    this.context = neverAbortedContext();
    const now = this.clock.now();
    this.enteredAt = now;
    const snapshot = options.initialState;
    if (snapshot !== undefined) {
      this.attempt = snapshot.attempt;
      this.window.restore(snapshot.window, now);
      this.current = snapshot.state;
      if (snapshot.state === 'open') this.openUntil = now + (snapshot.openRemainingMs ?? 0);
      // A restored isolation has no handle here; only reset() lifts it.
      if (snapshot.state === 'isolated') this.isolations = 1;
    }
    if (options.store === undefined) {
      this.link = undefined;
    } else {
      this.link = new StoreLink(
        this,
        options.store,
        options.name as string,
        this.clock,
        options.storeTimeoutMs,
        options.halfOpenProbeTimeoutMs,
      );
      this.link.start();
    }
  }

  get state(): CircuitState {
    this.refresh();
    return this.current;
  }

  getState(): CircuitState {
    this.refresh();
    return this.current;
  }

  execute<T>(
    fn: (context: ExecutionContext) => T | PromiseLike<T>,
    options?: ExecuteOptions,
  ): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new InvalidBreakerOptionError('fn', fn, 'a function'));
    }
    const signal = options === undefined ? undefined : options.signal;
    if (signal !== undefined) return this.executeWithSignal(fn, signal);
    if (this.current === 'closed') {
      if (this.timesCalls || this.outcomeListeners.length !== 0) return this.runClosedTimed(fn);
      return this.runClosed(fn);
    }
    const admitted = this.admit();
    if (admitted instanceof BreakerPermit) return this.runPermit(fn, admitted);
    return Promise.reject(admitted);
  }

  tryAcquire(): Permit | BrokenCircuitError {
    if (this.current === 'closed') {
      return new BreakerPermit(this, this.generation, false, this.startReading());
    }
    return this.admit();
  }

  isolate(): Disposable {
    const handle = new Isolation(this, this.isolationEpoch);
    this.isolations += 1;
    if (this.isolations === 1) this.transition('isolated', 'isolated', this.clock.now());
    return handle;
  }

  /** @internal called by an isolation handle. */
  release(epoch: number): void {
    if (epoch !== this.isolationEpoch || this.isolations === 0) return;
    this.isolations -= 1;
    if (this.isolations === 0) this.close('isolation-released');
  }

  reset(): void {
    this.isolationEpoch += 1;
    this.isolations = 0;
    this.attempt = 0;
    this.lastFailure = undefined;
    this.window.reset();
    if (this.current === 'closed') this.generation += 1;
    else this.transition('closed', 'reset', this.clock.now());
  }

  on<TEvent extends keyof CircuitBreakerEvents>(
    event: TEvent,
    listener: CircuitBreakerListener<TEvent>,
  ): Disposable {
    if (typeof listener !== 'function') {
      throw new InvalidBreakerOptionError('listener', listener, 'a function');
    }
    const add = <TPayload>(
      list: readonly ((payload: TPayload) => void)[],
      update: (next: readonly ((payload: TPayload) => void)[]) => void,
    ): Disposable => {
      const entry = (payload: TPayload): void => (listener as (payload: TPayload) => void)(payload);
      // Copy on write: an emit in progress keeps the array it started with.
      update([...list, entry]);
      return new Subscription(() => {
        const current = this.listenersOf(event) as readonly ((payload: TPayload) => void)[];
        update(current.filter((candidate) => candidate !== entry));
      });
    };
    switch (event) {
      case 'stateChange':
        return add<StateChangeEvent>(this.stateChangeListeners, (next) => {
          this.stateChangeListeners = next;
        });
      case 'rejected':
        return add<RejectedEvent>(this.rejectedListeners, (next) => {
          this.rejectedListeners = next;
        });
      case 'outcome':
        return add<OutcomeEvent>(this.outcomeListeners, (next) => {
          this.outcomeListeners = next;
        });
      case 'storeError':
        return add<StoreErrorEvent>(this.storeErrorListeners, (next) => {
          this.storeErrorListeners = next;
        });
      default:
        throw new InvalidBreakerOptionError(
          'event',
          event,
          '"stateChange", "rejected", "outcome" or "storeError"',
        );
    }
  }

  private listenersOf(event: keyof CircuitBreakerEvents): readonly unknown[] {
    if (event === 'stateChange') return this.stateChangeListeners;
    if (event === 'rejected') return this.rejectedListeners;
    if (event === 'storeError') return this.storeErrorListeners;
    return this.outcomeListeners;
  }

  dispose(): void {
    this.link?.dispose();
  }

  // --- shared state (see StoreLink) ------------------------------------------------------

  /** @internal another instance opened. */
  applyRemoteOpen(openRemainingMs: number, attempt: number): void {
    this.refresh();
    const state = this.current;
    if (state === 'isolated' || openRemainingMs <= 0) return;
    const now = this.clock.now();
    const until = now + openRemainingMs;
    if (attempt > this.attempt) this.attempt = attempt;
    if (state === 'open') {
      // Already refusing: keep the later end, so the fleet's longest opening wins.
      if (until > this.openUntil) this.openUntil = until;
      return;
    }
    this.openUntil = until;
    this.transition('open', 'remote-open', now, openRemainingMs);
    (this.link as StoreLink).openedByRemote = true;
  }

  /** @internal another instance's trials succeeded. */
  applyRemoteClose(): void {
    this.refresh();
    const state = this.current;
    // A breaker that opened on its own evidence keeps its open period (its failures are newer
    // than that close, as far as it can tell); it then probes under the shared lease.
    if (state === 'half-open' || (state === 'open' && (this.link as StoreLink).openedByRemote)) {
      this.close('remote-close');
    }
  }

  /** @internal */
  isHalfOpenIn(generation: number): boolean {
    return this.current === 'half-open' && this.generation === generation;
  }

  /** @internal */
  storeFailed(error: BreakerStoreError): void {
    if (this.storeErrorListeners.length !== 0) {
      emit(this.storeErrorListeners, { name: this.name, operation: error.operation, error });
    }
  }

  snapshot(): CircuitBreakerSnapshot {
    this.refresh();
    const now = this.clock.now();
    const window = this.window.snapshot(now);
    if (this.current === 'open') {
      return {
        version: 1,
        state: 'open',
        openRemainingMs: Math.max(0, this.openUntil - now),
        attempt: this.attempt,
        window,
      };
    }
    return { version: 1, state: this.current, attempt: this.attempt, window };
  }

  metrics(): CircuitBreakerMetrics {
    this.refresh();
    const now = this.clock.now();
    const stats = this.window.stats(now);
    return {
      name: this.name,
      state: this.current,
      calls: this.calls,
      successes: this.successes,
      failures: this.failures,
      ignored: this.ignored,
      slowCalls: this.slowCalls,
      rejections: this.rejections,
      staleOutcomes: this.staleOutcomes,
      probeTimeouts: this.probeTimeouts,
      windowCalls: stats.calls,
      failureRate: stats.failureRate,
      slowCallRate: stats.slowCallRate,
      trialsInFlight: this.trials.length,
      attempt: this.attempt,
      timeInStateMs: Math.max(0, now - this.enteredAt),
    };
  }

  // --- admission -------------------------------------------------------------------------

  /** A clock reading when this call's duration may matter, NaN otherwise (no clock read). */
  private startReading(): number {
    return this.timesCalls || this.outcomeListeners.length !== 0 ? this.clock.now() : Number.NaN;
  }

  /** Moves an open breaker whose period has ended to half-open. No timer does it. */
  private refresh(): void {
    if (this.current === 'open' && this.clock.now() >= this.openUntil) {
      this.trialSuccesses = 0;
      this.transition('half-open', 'open-elapsed', this.openUntil);
    }
  }

  /** The slow path of admission: any state but a plain closed one. */
  private admit(): BreakerPermit | BrokenCircuitError {
    this.refresh();
    const state = this.current;
    if (state === 'closed')
      return new BreakerPermit(this, this.generation, false, this.startReading());
    if (state === 'half-open' && this.trials.length + this.trialSuccesses < this.halfOpenPermits) {
      if (this.link !== undefined && !this.link.mayProbe(this.generation)) {
        return this.reject('half-open', this.link.retryAfterMs());
      }
      return this.startTrial();
    }
    return this.reject(state as RejectingState);
  }

  private startTrial(): BreakerPermit {
    const now = this.clock.now();
    const permit = new BreakerPermit(this, this.generation, true, now);
    permit.deadline = now + this.probeTimeoutMs;
    this.trials = [...this.trials, permit];
    const handle = this.clock.setTimeout(() => this.expire(permit), this.probeTimeoutMs);
    unrefTimer(handle);
    permit.timer = handle;
    if (this.link !== undefined) this.link.trialStarted();
    return permit;
  }

  /** `sharedRetryAfterMs`: refused because another instance probes (or the store is asked). */
  private reject(state: RejectingState, sharedRetryAfterMs?: number): BrokenCircuitError {
    let retryAfterMs = Number.POSITIVE_INFINITY;
    if (sharedRetryAfterMs !== undefined) {
      retryAfterMs = sharedRetryAfterMs;
    } else if (state === 'open') {
      retryAfterMs = Math.max(0, this.openUntil - this.clock.now());
    } else if (state === 'half-open') {
      const now = this.clock.now();
      retryAfterMs = 0;
      for (let index = 0; index < this.trials.length; index += 1) {
        const wait = Math.max(0, (this.trials[index] as BreakerPermit).deadline - now);
        retryAfterMs = index === 0 ? wait : Math.min(retryAfterMs, wait);
      }
    }
    this.rejections += 1;
    const error = new BrokenCircuitError(state, retryAfterMs, this.lastFailure, {
      breakerName: this.name,
      sharedProbe: sharedRetryAfterMs !== undefined,
    });
    if (this.rejectedListeners.length !== 0) {
      emit(this.rejectedListeners, { name: this.name, state, error });
    }
    return error;
  }

  // --- running ---------------------------------------------------------------------------

  /**
   * The hot path: closed, no signal, no duration needed. No permit, no closure and no async
   * function per call: the outcome handlers are made once per generation and shared by every
   * call admitted in it, so they know whether the call went stale without a per-call record.
   */
  private runClosed<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>): Promise<T> {
    // Read before fn runs: fn may move the breaker (reset it, fail another call) synchronously.
    const generation = this.generation;
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.context);
    } catch (error) {
      this.settleClosed(generation, this.classifyError(error, false), error);
      return Promise.reject(error);
    }
    let handlers = this.closedHandlers;
    if (handlers === undefined || handlers.generation !== generation) {
      handlers = new ClosedHandlers(this, generation);
      this.closedHandlers = handlers;
    }
    // Promise.resolve returns a native promise as is, and adopts a value or a thenable the way
    // `await` would.
    return Promise.resolve(result).then(handlers.onSuccess as (value: T) => T, handlers.onFailure);
  }

  /** @internal a closed, unmeasured call settled (see {@link ClosedHandlers}). */
  settleClosedValue(generation: number, value: unknown): void {
    this.settleClosed(generation, this.classifyValue(value), undefined);
  }

  /** @internal a closed, unmeasured call failed (see {@link ClosedHandlers}). */
  settleClosedError(generation: number, error: unknown): void {
    this.settleClosed(generation, this.classifyError(error, false), error);
  }

  /**
   * Closed, no signal, but the duration matters (slow-call detection, `outcome` listeners): the
   * handlers close over this call's start, which still costs less than an async function.
   */
  private runClosedTimed<T>(fn: (context: ExecutionContext) => T | PromiseLike<T>): Promise<T> {
    const generation = this.generation;
    const startedAt = this.clock.now();
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.context);
    } catch (error) {
      this.settle(
        generation,
        undefined,
        startedAt,
        Number.NaN,
        this.classifyError(error, false),
        error,
      );
      return Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.settle(
          generation,
          undefined,
          startedAt,
          Number.NaN,
          this.classifyValue(value),
          undefined,
        );
        return value;
      },
      (error: unknown) => {
        this.settle(
          generation,
          undefined,
          startedAt,
          Number.NaN,
          this.classifyError(error, false),
          error,
        );
        throw error;
      },
    );
  }

  private async runPermit<T>(
    fn: (context: ExecutionContext) => T | PromiseLike<T>,
    permit: BreakerPermit,
  ): Promise<T> {
    let value: T;
    try {
      value = await fn(this.context);
    } catch (error) {
      this.settleInternal(permit, this.classifyError(error, false), error);
      throw error;
    }
    this.settleInternal(permit, this.classifyValue(value), undefined);
    return value;
  }

  private executeWithSignal<T>(
    fn: (context: ExecutionContext) => T | PromiseLike<T>,
    signal: AbortSignal,
  ): Promise<T> {
    if (
      typeof signal !== 'object' ||
      signal === null ||
      typeof signal.addEventListener !== 'function'
    ) {
      return Promise.reject(new InvalidBreakerOptionError('signal', signal, 'an AbortSignal'));
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    const admitted =
      this.current === 'closed'
        ? new BreakerPermit(this, this.generation, false, this.startReading())
        : this.admit();
    if (!(admitted instanceof BreakerPermit)) return Promise.reject(admitted);
    const permit = admitted;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.settleInternal(permit, this.classifyError(signal.reason, true), signal.reason);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let result: T | PromiseLike<T>;
      try {
        result = fn({ signal });
      } catch (error) {
        result = Promise.reject(error);
      }
      Promise.resolve(result).then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          this.settleInternal(permit, this.classifyValue(value), undefined);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          this.settleInternal(permit, this.classifyError(error, signal.aborted), error);
          reject(error);
        },
      );
    });
  }

  // --- outcomes --------------------------------------------------------------------------

  private classifyValue(value: unknown): OutcomeCode {
    if (this.classifier === undefined) return SUCCESS;
    return this.userClassify({ value });
  }

  private classifyError(error: unknown, aborted: boolean): OutcomeCode {
    if (this.classifier === undefined) return aborted ? IGNORE : FAILURE;
    return this.userClassify({ error, aborted });
  }

  private userClassify(outcome: CallOutcome): OutcomeCode {
    let classification: unknown;
    try {
      classification = (this.classifier as (outcome: CallOutcome) => Classification)(outcome);
    } catch (error) {
      surface(error);
      classification = defaultClassify(outcome);
    }
    const code = CLASSIFICATIONS.indexOf(classification as Classification);
    if (code !== -1) return code as OutcomeCode;
    surface(
      new InvalidBreakerOptionError(
        'classify',
        classification,
        "a function returning 'success', 'failure' or 'ignore'",
      ),
    );
    return CLASSIFICATIONS.indexOf(defaultClassify(outcome)) as OutcomeCode;
  }

  /** @internal a caller's report through a {@link Permit}. */
  report(
    permit: BreakerPermit,
    code: OutcomeCode,
    error: unknown,
    durationMs: number | undefined,
  ): void {
    if (permit.settled === REPORTED)
      throw new PermitAlreadyReportedError({ breakerName: this.name });
    if (durationMs !== undefined && !isValidDuration(durationMs)) {
      throw new InvalidBreakerOptionError('durationMs', durationMs, 'a finite number ≥ 0');
    }
    const expired = permit.settled === EXPIRED;
    permit.settled = REPORTED;
    if (expired) return;
    const classified = code === FAILURE ? this.classifyError(error, false) : code;
    this.settle(
      permit.generation,
      permit.trial ? permit : undefined,
      permit.startedAt,
      durationMs ?? Number.NaN,
      classified,
      error,
    );
  }

  /** Reports for `execute()`: the first of (settle, abort, probe deadline) wins. */
  private settleInternal(permit: BreakerPermit, code: OutcomeCode, error: unknown): void {
    if (permit.settled !== PENDING) return;
    permit.settled = REPORTED;
    this.settle(
      permit.generation,
      permit.trial ? permit : undefined,
      permit.startedAt,
      Number.NaN,
      code,
      error,
    );
  }

  /**
   * Counts one settled call and, unless it is stale, feeds the state machine. Every state
   * update happens before any listener runs, so a listener that calls back into the breaker
   * sees a consistent state.
   */
  private settle(
    generation: number,
    trial: BreakerPermit | undefined,
    startedAt: number,
    reportedDurationMs: number,
    code: OutcomeCode,
    error: unknown,
  ): void {
    let now = Number.NaN;
    let durationMs = reportedDurationMs;
    // Only read the clock when the start was read or the window needs the time.
    if (!Number.isNaN(startedAt) || this.windowNeedsClock) {
      now = this.clock.now();
      if (Number.isNaN(durationMs)) durationMs = now - startedAt;
    }
    const slow = code !== IGNORE && durationMs > this.slowCallDurationMs;
    this.calls += 1;
    if (code === SUCCESS) this.successes += 1;
    else if (code === FAILURE) this.failures += 1;
    else this.ignored += 1;
    if (slow) this.slowCalls += 1;

    const stale = generation !== this.generation;
    if (stale) {
      this.staleOutcomes += 1;
    } else if (trial !== undefined) {
      this.settleTrial(trial, code, slow, error);
    } else if (code !== IGNORE) {
      if (code === FAILURE) this.lastFailure = error;
      const trip = this.window.record((code === FAILURE ? FAILED : 0) | (slow ? SLOW : 0), now);
      if (trip !== TRIP_NONE) {
        this.open(trip === TRIP_FAILURES ? 'failure-threshold' : 'slow-call-threshold');
      }
    }

    if (this.outcomeListeners.length !== 0) {
      emit(this.outcomeListeners, {
        name: this.name,
        outcome: CLASSIFICATIONS[code] as Classification,
        durationMs: Number.isNaN(durationMs) ? undefined : durationMs,
        slow,
        error,
        trial: trial !== undefined,
        stale,
        probeTimedOut: false,
      });
    }
  }

  /**
   * {@link Breaker.settle} for a call admitted closed without a start reading: no duration, so
   * never slow; the clock is read only when a time window needs it.
   */
  private settleClosed(generation: number, code: OutcomeCode, error: unknown): void {
    this.calls += 1;
    if (code === SUCCESS) this.successes += 1;
    else if (code === FAILURE) this.failures += 1;
    else this.ignored += 1;

    const stale = generation !== this.generation;
    if (stale) {
      this.staleOutcomes += 1;
    } else if (code !== IGNORE) {
      if (code === FAILURE) this.lastFailure = error;
      const now = this.windowNeedsClock ? this.clock.now() : Number.NaN;
      const trip = this.window.record(code === FAILURE ? FAILED : 0, now);
      if (trip !== TRIP_NONE) {
        this.open(trip === TRIP_FAILURES ? 'failure-threshold' : 'slow-call-threshold');
      }
    }
    if (this.outcomeListeners.length !== 0) {
      emit(this.outcomeListeners, {
        name: this.name,
        outcome: CLASSIFICATIONS[code] as Classification,
        durationMs: undefined,
        slow: false,
        error,
        trial: false,
        stale,
        probeTimedOut: false,
      });
    }
  }

  private settleTrial(
    trial: BreakerPermit,
    code: OutcomeCode,
    slow: boolean,
    error: unknown,
  ): void {
    this.removeTrial(trial);
    if (code === IGNORE) return;
    if (code === FAILURE || slow) {
      if (code === FAILURE) this.lastFailure = error;
      this.open('trial-failed');
      return;
    }
    this.trialSuccesses += 1;
    if (this.trialSuccesses >= this.halfOpenPermits) this.close('trials-succeeded');
  }

  /** A trial's probe deadline passed: count it as a failure so half-open can't get stuck. */
  private expire(permit: BreakerPermit): void {
    permit.timer = undefined;
    if (permit.settled !== PENDING || permit.generation !== this.generation) return;
    permit.settled = EXPIRED;
    this.removeTrial(permit);
    this.calls += 1;
    this.failures += 1;
    this.probeTimeouts += 1;
    this.open('probe-timeout');
    if (this.outcomeListeners.length !== 0) {
      emit(this.outcomeListeners, {
        name: this.name,
        outcome: 'failure',
        durationMs: this.probeTimeoutMs,
        slow: false,
        error: undefined,
        trial: true,
        stale: false,
        probeTimedOut: true,
      });
    }
  }

  private removeTrial(trial: BreakerPermit): void {
    if (this.trials.includes(trial)) {
      this.trials =
        this.trials.length === 1 ? NO_TRIALS : this.trials.filter((other) => other !== trial);
    }
    if (trial.timer !== undefined) {
      this.clock.clearTimeout(trial.timer);
      trial.timer = undefined;
    }
  }

  // --- transitions -----------------------------------------------------------------------

  private openDuration(attempt: number): number {
    const option = this.openDurationMs;
    if (typeof option === 'number') return option;
    let duration: unknown;
    try {
      duration = option(attempt, this.random);
    } catch (error) {
      surface(error);
      return FALLBACK_OPEN_DURATION_MS;
    }
    if (isValidDuration(duration)) return duration;
    surface(
      new InvalidBreakerOptionError(
        'openDurationMs',
        duration,
        'a function returning a finite number ≥ 0',
      ),
    );
    return FALLBACK_OPEN_DURATION_MS;
  }

  private open(reason: StateChangeReason): void {
    const duration = this.openDuration(this.attempt + 1);
    this.attempt += 1;
    const now = this.clock.now();
    this.openUntil = now + duration;
    // Published before the transition gives the lease back, so no instance can take the lease
    // between the two.
    if (this.link !== undefined) this.link.opened(duration, this.attempt);
    this.transition('open', reason, now, duration);
  }

  private close(reason: StateChangeReason): void {
    this.attempt = 0;
    this.window.reset();
    if (this.link !== undefined && reason === 'trials-succeeded') this.link.closed();
    this.transition('closed', reason, this.clock.now());
  }

  private transition(
    to: CircuitState,
    reason: StateChangeReason,
    at: number,
    openDurationMs?: number,
  ): void {
    const from = this.current;
    if (from === 'half-open') this.dropTrials();
    if (this.link !== undefined) {
      this.link.localTransition();
      if (from === 'half-open') this.link.leftHalfOpen();
    }
    const previousStateMs = Math.max(0, at - this.enteredAt);
    this.current = to;
    this.generation += 1;
    this.enteredAt = at;
    if (this.stateChangeListeners.length !== 0) {
      const event: StateChangeEvent =
        openDurationMs === undefined
          ? { name: this.name, from, to, reason, attempt: this.attempt, previousStateMs }
          : {
              name: this.name,
              from,
              to,
              reason,
              attempt: this.attempt,
              openDurationMs,
              previousStateMs,
            };
      emit(this.stateChangeListeners, event);
    }
  }

  /** Leaving half-open: trials in flight become stale and their probe timers stop. */
  private dropTrials(): void {
    for (const trial of this.trials) {
      if (trial.timer !== undefined) {
        this.clock.clearTimeout(trial.timer);
        trial.timer = undefined;
      }
    }
    this.trials = NO_TRIALS;
    this.trialSuccesses = 0;
  }
}

/**
 * Creates a circuit breaker. Options are validated at once (see
 * {@link resolveCircuitBreakerOptions}); a bad one throws {@link InvalidBreakerOptionError}.
 *
 * @example
 * const breaker = createCircuitBreaker({ name: 'orders-db', openDurationMs: 5_000 });
 * const rows = await breaker.execute(({ signal }) => db.query('SELECT 1', { signal }));
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new Breaker(resolveCircuitBreakerOptions(options));
}
