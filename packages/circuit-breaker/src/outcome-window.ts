import type { WindowSnapshot } from './snapshot.js';

/** Bit set on a recorded call that failed. */
export const FAILED = 1;
/** Bit set on a recorded call that took longer than `slowCallDurationMs`. */
export const SLOW = 2;

/** What {@link OutcomeWindow.record} says: stay closed (0), or open on failures (1) or slow calls (2). */
export type Trip = 0 | 1 | 2;
/** Stay closed. */
export const TRIP_NONE = 0;
/** Open: the failure threshold was reached. */
export const TRIP_FAILURES = 1;
/** Open: the slow-call threshold was reached. */
export const TRIP_SLOW_CALLS = 2;

/** The thresholds a rate-based window trips on (already validated). */
export interface RateThresholds {
  readonly failureRateThreshold: number;
  readonly slowCallRateThreshold: number;
  readonly minimumCalls: number;
}

/** What a window holds right now, for `metrics()`. */
export interface WindowStats {
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly failureRate: number;
  readonly slowCallRate: number;
}

/**
 * The memory of a closed breaker: which recent calls failed or were slow, and whether that is
 * enough to open. One implementation per window kind; each records in O(1) with no allocation,
 * and none uses a timer (a time window expires its buckets when it is next touched).
 */
export interface OutcomeWindow {
  /** Records one settled call (`flags` = {@link FAILED} | {@link SLOW}) at time `now`. */
  record(flags: number, now: number): Trip;
  stats(now: number): WindowStats;
  /** Forgets everything (on close and on `reset()`). */
  reset(): void;
  snapshot(now: number): WindowSnapshot;
  /**
   * Loads what a snapshot remembers. A snapshot from a window of another kind or shape is
   * dropped (the window starts empty): a configuration change must not block a restore.
   */
  restore(snapshot: WindowSnapshot, now: number): void;
}

/** The rate rule shared by the count and time windows, cheap when nothing failed. */
export function rateTrip(
  calls: number,
  failures: number,
  slowCalls: number,
  thresholds: RateThresholds,
): Trip {
  if (calls < thresholds.minimumCalls) return TRIP_NONE;
  if (failures !== 0 && failures / calls >= thresholds.failureRateThreshold) return TRIP_FAILURES;
  if (slowCalls !== 0 && slowCalls / calls >= thresholds.slowCallRateThreshold) {
    return TRIP_SLOW_CALLS;
  }
  return TRIP_NONE;
}

/** Builds {@link WindowStats} from totals. */
export function toStats(calls: number, failures: number, slowCalls: number): WindowStats {
  return {
    calls,
    failures,
    slowCalls,
    failureRate: calls === 0 ? 0 : failures / calls,
    slowCallRate: calls === 0 ? 0 : slowCalls / calls,
  };
}
