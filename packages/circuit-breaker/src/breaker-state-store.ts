/**
 * What one breaker tells the others of the same name: it opened (for how long, at which
 * attempt) or its half-open trials succeeded and it closed. Times are durations, never clock
 * readings, because every process has a clock with its own origin.
 */
export type SharedBreakerState =
  | {
      readonly state: 'open';
      /** Milliseconds left in the open period, as of when the store read or relayed it. */
      readonly openRemainingMs: number;
      /** Openings since the breaker was last closed; the next opening uses `attempt + 1`. */
      readonly attempt: number;
      /** The id of the breaker that opened (see {@link BreakerStateStore}). */
      readonly source: string;
    }
  | {
      readonly state: 'closed';
      readonly source: string;
    };

/** The answer to {@link BreakerStateStore.acquireProbeLease}. */
export type ProbeLease =
  | { readonly granted: true }
  | {
      readonly granted: false;
      /** How long until the lease (or the shared open period) ends and asking again may help. */
      readonly retryAfterMs: number;
    };

/** Passed to every store operation: the breaker aborts `signal` when it stops waiting. */
export interface BreakerStoreCallOptions {
  readonly signal: AbortSignal;
}

/** What {@link BreakerStateStore.subscribe} returns. */
export interface BreakerStoreSubscription {
  /** Stops delivering messages to this listener. Safe to call twice. */
  dispose(): void;
}

/**
 * Where breakers of the same `name` in several processes share their state: a remote opening,
 * a remote close, and a lease that lets one breaker at a time run half-open trials.
 *
 * The breaker never waits for a store on a call's path: it publishes and asks in the background,
 * bounds every operation by `storeTimeoutMs`, and treats a rejection or a timeout as "the store
 * is unreachable", falling back to its local state. A store therefore only has to be correct
 * when it answers; it never has to be fast or available.
 *
 * `source` and `holder` are ids the breaker generates per instance, so a store can relay every
 * message to every subscriber (the breaker ignores its own).
 */
export interface BreakerStateStore {
  /**
   * Records `state` as the shared state of `name` and tells the other subscribers. An `'open'`
   * state lasts `openRemainingMs`; a `'closed'` one replaces it at once.
   */
  publish(name: string, state: SharedBreakerState, options: BreakerStoreCallOptions): Promise<void>;
  /** The shared state of `name`: its open period if one is running, otherwise `undefined`. */
  read(name: string, options: BreakerStoreCallOptions): Promise<SharedBreakerState | undefined>;
  /**
   * Delivers every state published for `name` (by anyone, the subscriber itself included) to
   * `listener`, and the current state again after the store reconnects. Must not throw and must
   * not call `listener` synchronously.
   */
  subscribe(name: string, listener: (state: SharedBreakerState) => void): BreakerStoreSubscription;
  /**
   * Asks for the right to run half-open trials for `name` during `ttlMs`. Granted to one holder
   * at a time (again to the same `holder`); refused while another holder's lease or a shared
   * open period is running.
   */
  acquireProbeLease(
    name: string,
    holder: string,
    ttlMs: number,
    options: BreakerStoreCallOptions,
  ): Promise<ProbeLease>;
  /** Gives the lease back early, if `holder` still holds it; otherwise does nothing. */
  releaseProbeLease(name: string, holder: string, options: BreakerStoreCallOptions): Promise<void>;
}

/** The store operations, as named in a {@link BreakerStoreError}. */
export type BreakerStoreOperation =
  | 'publish'
  | 'read'
  | 'subscribe'
  | 'acquireProbeLease'
  | 'releaseProbeLease'
  | 'message';
