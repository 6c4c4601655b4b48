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

const EMPTY = new Float64Array(0);

/**
 * The calls of the last `durationMs`, in `buckets` buckets of `durationMs / buckets` each.
 *
 * No timer expires old buckets: each record or read first clears the buckets whose time has
 * passed (at most `buckets` of them), so an idle window costs nothing. The window forgets in
 * bucket-sized steps: it covers between `durationMs - bucketMs` and `durationMs` of history.
 */
export class TimeWindow implements OutcomeWindow {
  private readonly bucketMs: number;
  /**
   * `[calls, failures, slowCalls]` per bucket, one buffer for the three; allocated on the first
   * record so an idle breaker holds none.
   */
  private counts: Float64Array = EMPTY;
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
  }

  private slot(epoch: number): number {
    const slot = epoch % this.buckets;
    return slot < 0 ? slot + this.buckets : slot;
  }

  /** The count at `index` of the buffer (0 while it is not allocated). */
  private at(index: number): number {
    return this.counts[index] ?? 0;
  }

  /** Clears the buckets that fell out of the window by `now`; returns the newest bucket's slot. */
  private advance(now: number): number {
    const epoch = Math.floor(now / this.bucketMs);
    // A clock that steps back (a custom clock) keeps writing into the newest bucket.
    if (epoch <= this.newest) return this.slot(this.newest);
    if (epoch - this.newest >= this.buckets) {
      this.clear();
    } else if (this.counts !== EMPTY) {
      const counts = this.counts;
      for (let passed = this.newest + 1; passed <= epoch; passed += 1) {
        const offset = this.slot(passed) * 3;
        this.totalCalls -= counts[offset] as number;
        this.totalFailures -= counts[offset + 1] as number;
        this.totalSlowCalls -= counts[offset + 2] as number;
        counts[offset] = 0;
        counts[offset + 1] = 0;
        counts[offset + 2] = 0;
      }
    }
    this.newest = epoch;
    return this.slot(epoch);
  }

  /** Everything expired: the buffer goes too, so a breaker idle for a window costs nothing. */
  private clear(): void {
    this.counts = EMPTY;
    this.totalCalls = 0;
    this.totalFailures = 0;
    this.totalSlowCalls = 0;
  }

  private add(slot: number, calls: number, failures: number, slowCalls: number): void {
    if (this.counts === EMPTY) this.counts = new Float64Array(this.buckets * 3);
    const offset = slot * 3;
    const counts = this.counts;
    counts[offset] = (counts[offset] as number) + calls;
    counts[offset + 1] = (counts[offset + 1] as number) + failures;
    counts[offset + 2] = (counts[offset + 2] as number) + slowCalls;
    this.totalCalls += calls;
    this.totalFailures += failures;
    this.totalSlowCalls += slowCalls;
  }

  record(flags: number, now: number): Trip {
    this.add(this.advance(now), 1, flags & FAILED, (flags & SLOW) >> 1);
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
      const offset = this.slot(this.newest - age) * 3;
      buckets.push([this.at(offset), this.at(offset + 1), this.at(offset + 2)]);
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
      if (calls === 0 || epoch > this.newest || this.newest - epoch >= this.buckets) return;
      this.add(this.slot(epoch), calls, failures, slowCalls);
    });
  }
}
