import {
  FAILED,
  type OutcomeWindow,
  type RateThresholds,
  rateTrip,
  SLOW,
  type Trip,
  toStats,
  type WindowStats,
} from './outcome-window.js';
import type { TimeWindowSnapshot, WindowSnapshot } from './snapshot.js';

/**
 * The calls of the last `durationMs`, in `buckets` buckets of `durationMs / buckets` each.
 *
 * No timer expires old buckets: each record or read first clears the buckets whose time has
 * passed (at most `buckets` of them), so an idle window costs nothing. The window forgets in
 * bucket-sized steps: it covers between `durationMs - bucketMs` and `durationMs` of history.
 */
export class TimeWindow implements OutcomeWindow {
  private readonly bucketMs: number;
  private readonly calls: Float64Array;
  private readonly failures: Float64Array;
  private readonly slowCalls: Float64Array;
  /** Index of the newest bucket on the clock's scale (`floor(now / bucketMs)`). */
  private newest = Number.NEGATIVE_INFINITY;
  private totalCalls = 0;
  private totalFailures = 0;
  private totalSlowCalls = 0;

  constructor(
    durationMs: number,
    private readonly buckets: number,
    private readonly thresholds: RateThresholds,
  ) {
    this.bucketMs = durationMs / buckets;
    this.calls = new Float64Array(buckets);
    this.failures = new Float64Array(buckets);
    this.slowCalls = new Float64Array(buckets);
  }

  private slot(epoch: number): number {
    const slot = epoch % this.buckets;
    return slot < 0 ? slot + this.buckets : slot;
  }

  /** Clears the buckets that fell out of the window by `now`; returns the newest bucket's slot. */
  private advance(now: number): number {
    const epoch = Math.floor(now / this.bucketMs);
    // A clock that steps back (a custom clock) keeps writing into the newest bucket.
    if (epoch <= this.newest) return this.slot(this.newest);
    if (epoch - this.newest >= this.buckets) {
      this.clear();
    } else {
      for (let passed = this.newest + 1; passed <= epoch; passed += 1) {
        const slot = this.slot(passed);
        this.totalCalls -= this.calls[slot] as number;
        this.totalFailures -= this.failures[slot] as number;
        this.totalSlowCalls -= this.slowCalls[slot] as number;
        this.calls[slot] = 0;
        this.failures[slot] = 0;
        this.slowCalls[slot] = 0;
      }
    }
    this.newest = epoch;
    return this.slot(epoch);
  }

  private clear(): void {
    this.calls.fill(0);
    this.failures.fill(0);
    this.slowCalls.fill(0);
    this.totalCalls = 0;
    this.totalFailures = 0;
    this.totalSlowCalls = 0;
  }

  record(flags: number, now: number): Trip {
    const slot = this.advance(now);
    const failed = flags & FAILED;
    const slow = (flags & SLOW) >> 1;
    (this.calls[slot] as number) += 1;
    (this.failures[slot] as number) += failed;
    (this.slowCalls[slot] as number) += slow;
    this.totalCalls += 1;
    this.totalFailures += failed;
    this.totalSlowCalls += slow;
    return rateTrip(this.totalCalls, this.totalFailures, this.totalSlowCalls, this.thresholds);
  }

  stats(now: number): WindowStats {
    this.advance(now);
    return toStats(this.totalCalls, this.totalFailures, this.totalSlowCalls);
  }

  reset(): void {
    this.clear();
    this.newest = Number.NEGATIVE_INFINITY;
  }

  snapshot(now: number): TimeWindowSnapshot {
    this.advance(now);
    const buckets: [number, number, number][] = [];
    for (let age = this.buckets - 1; age >= 0; age -= 1) {
      const slot = this.slot(this.newest - age);
      buckets.push([
        this.calls[slot] as number,
        this.failures[slot] as number,
        this.slowCalls[slot] as number,
      ]);
    }
    return {
      kind: 'time',
      bucketMs: this.bucketMs,
      newestBucketAgeMs: Math.max(0, now - this.newest * this.bucketMs),
      buckets,
    };
  }

  /**
   * Rebuilds the buckets so that each keeps its age; buckets older than the window are dropped.
   * Only a snapshot with the same bucket width is loaded.
   */
  restore(snapshot: WindowSnapshot, now: number): void {
    this.reset();
    if (snapshot.kind !== 'time' || snapshot.bucketMs !== this.bucketMs) return;
    const newest = Math.floor((now - snapshot.newestBucketAgeMs) / this.bucketMs);
    this.advance(now);
    const count = snapshot.buckets.length;
    snapshot.buckets.forEach(([calls, failures, slowCalls], index) => {
      const epoch = newest - (count - 1 - index);
      if (epoch > this.newest || this.newest - epoch >= this.buckets) return;
      const slot = this.slot(epoch);
      (this.calls[slot] as number) += calls;
      (this.failures[slot] as number) += failures;
      (this.slowCalls[slot] as number) += slowCalls;
      this.totalCalls += calls;
      this.totalFailures += failures;
      this.totalSlowCalls += slowCalls;
    });
  }
}
