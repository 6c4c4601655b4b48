import {
  FAILED,
  type OutcomeWindow,
  SLOW,
  TRIP_FAILURES,
  TRIP_NONE,
  TRIP_SLOW_CALLS,
  type Trip,
  type WindowStats,
} from './outcome-window.js';
import type { ConsecutiveWindowSnapshot, WindowSnapshot } from './snapshot.js';

/**
 * Opens after `threshold` failures in a row (or, with slow-call detection on, `threshold` slow
 * calls in a row). The simplest rule and the cheapest: two counters. Rate thresholds and
 * `minimumCalls` don't apply to it.
 */
export class ConsecutiveWindow implements OutcomeWindow {
  private failureRun = 0;
  private slowRun = 0;

  constructor(private readonly threshold: number) {}

  record(flags: number): Trip {
    if ((flags & FAILED) === 0) this.failureRun = 0;
    else this.failureRun += 1;
    if ((flags & SLOW) === 0) this.slowRun = 0;
    else this.slowRun += 1;
    if (flags === 0) return TRIP_NONE;
    if (this.failureRun >= this.threshold) return TRIP_FAILURES;
    if (this.slowRun >= this.threshold) return TRIP_SLOW_CALLS;
    return TRIP_NONE;
  }

  /**
   * A consecutive window has no rate; `failureRate` and `slowCallRate` report progress toward
   * opening (current run / threshold), so 1 means "opens on this call".
   */
  stats(): WindowStats {
    return {
      calls: Math.max(this.failureRun, this.slowRun),
      failures: this.failureRun,
      slowCalls: this.slowRun,
      failureRate: Math.min(1, this.failureRun / this.threshold),
      slowCallRate: Math.min(1, this.slowRun / this.threshold),
    };
  }

  reset(): void {
    this.failureRun = 0;
    this.slowRun = 0;
  }

  snapshot(): ConsecutiveWindowSnapshot {
    return { kind: 'consecutive', failures: this.failureRun, slowCalls: this.slowRun };
  }

  restore(snapshot: WindowSnapshot): void {
    this.reset();
    if (snapshot.kind !== 'consecutive') return;
    this.failureRun = snapshot.failures;
    this.slowRun = snapshot.slowCalls;
  }
}
