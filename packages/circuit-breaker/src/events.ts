import type { BreakerStoreOperation } from './breaker-state-store.js';
import type { BreakerStoreError, BrokenCircuitError, RejectingState } from './errors.js';
import type { Classification } from './options.js';
import type { CircuitState } from './snapshot.js';

/**
 * A handle that undoes a registration (a listener, an isolation). Works with `using`
 * (`Symbol.dispose`) and with an explicit, idempotent `dispose()`. Same shape as core's.
 */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** Why the state changed. */
export type StateChangeReason =
  /** The window's failure threshold was reached (rate, or failures in a row). */
  | 'failure-threshold'
  /** The window's slow-call threshold was reached. */
  | 'slow-call-threshold'
  /** The open period ended; noticed at the first call or state read after it ended. */
  | 'open-elapsed'
  /** A half-open trial failed (or was slow). */
  | 'trial-failed'
  /** A half-open trial did not settle within `halfOpenProbeTimeoutMs`. */
  | 'probe-timeout'
  /** `halfOpenPermits` trials succeeded. */
  | 'trials-succeeded'
  /** `isolate()` was called. */
  | 'isolated'
  /** The last isolation was disposed. */
  | 'isolation-released'
  /** `reset()` was called. */
  | 'reset'
  /** A breaker of the same name in another instance opened (shared through `store`). */
  | 'remote-open'
  /** Another instance's half-open trials succeeded and it closed (shared through `store`). */
  | 'remote-close';

/** Payload of the `stateChange` event. */
export interface StateChangeEvent {
  readonly name: string | undefined;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
  /** Openings since the breaker was last closed (0 once closed). */
  readonly attempt: number;
  /** Only when `to` is `'open'`: how long it stays open. */
  readonly openDurationMs?: number;
  /** How long the breaker was in `from`. */
  readonly previousStateMs: number;
}

/** Payload of the `rejected` event: a call the breaker refused. */
export interface RejectedEvent {
  readonly name: string | undefined;
  readonly state: RejectingState;
  readonly error: BrokenCircuitError;
}

/** Payload of the `outcome` event: one admitted call settled. */
export interface OutcomeEvent {
  readonly name: string | undefined;
  readonly outcome: Classification;
  /**
   * How long the call took: as reported to the permit, or measured. `undefined` when nothing
   * needed the clock for this call (slow-call detection off and no `outcome` listener when the
   * call started).
   */
  readonly durationMs: number | undefined;
  /** Longer than `slowCallDurationMs`. */
  readonly slow: boolean;
  /** The error the call threw (or was reported with), if any. */
  readonly error: unknown;
  /** A half-open trial call. */
  readonly trial: boolean;
  /**
   * The call was admitted in an earlier state (before an opening, isolation or reset): it
   * counts in the counters but did not move the state.
   */
  readonly stale: boolean;
  /** The breaker gave up on this trial after `halfOpenProbeTimeoutMs` and counted a failure. */
  readonly probeTimedOut: boolean;
}

/**
 * Payload of the `storeError` event: a shared-state store operation failed or timed out. The
 * breaker carried on with its local state; nothing was thrown to a caller.
 */
export interface StoreErrorEvent {
  readonly name: string | undefined;
  readonly operation: BreakerStoreOperation;
  /** A `BreakerStoreTimeoutError`, or a `BreakerStoreError` whose `cause` is the store's error. */
  readonly error: BreakerStoreError;
}

/** Every event a breaker emits, by name. */
export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent;
  rejected: RejectedEvent;
  outcome: OutcomeEvent;
  storeError: StoreErrorEvent;
}

/** A listener for one breaker event. */
export type CircuitBreakerListener<TEvent extends keyof CircuitBreakerEvents> = (
  payload: CircuitBreakerEvents[TEvent],
) => void;

/**
 * Reports an error from user code (a listener, `classify`, an `openDurationMs` function) without
 * letting it escape into the breaker's bookkeeping: it is re-thrown on a microtask, so it still
 * surfaces as an uncaught exception instead of vanishing.
 */
export function surface(error: unknown): void {
  globalThis.queueMicrotask(() => {
    throw error;
  });
}

/** Calls each listener with `payload`; a throwing listener never stops the others. */
export function emit<TPayload>(
  listeners: readonly ((payload: TPayload) => void)[],
  payload: TPayload,
): void {
  for (const listener of listeners) {
    try {
      listener(payload);
    } catch (error) {
      surface(error);
    }
  }
}
