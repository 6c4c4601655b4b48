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
import type { CountWindowSnapshot, RecordedCall, WindowSnapshot } from './snapshot.js';

const EMPTY = new Uint8Array(0);

/**
 * The last `size` calls, in a ring buffer of one byte per call with running totals: recording a
 * call is O(1) and allocates nothing, however large the window. The buffer is allocated on the
 * first record, so a breaker that never saw a call holds none.
 */
export class CountWindow implements OutcomeWindow {
  private ring: Uint8Array = EMPTY;
  private head = 0;
  private filled = 0;
  private failures = 0;
  private slowCalls = 0;

  constructor(
    private readonly size: number,
    private readonly thresholds: RateThresholds,
  ) {}

  record(flags: number): Trip {
    if (this.ring === EMPTY) this.ring = new Uint8Array(this.size);
    const ring = this.ring;
    const head = this.head;
    if (this.filled === this.size) {
      const evicted = ring[head] as number;
      this.failures -= evicted & FAILED;
      this.slowCalls -= (evicted & SLOW) >> 1;
    } else {
      this.filled += 1;
    }
    ring[head] = flags;
    this.head = head + 1 === this.size ? 0 : head + 1;
    this.failures += flags & FAILED;
    this.slowCalls += (flags & SLOW) >> 1;
    return rateTrip(this.filled, this.failures, this.slowCalls, this.thresholds);
  }

  stats(): WindowStats {
    return toStats(this.filled, this.failures, this.slowCalls);
  }

  reset(): void {
    this.ring = EMPTY;
    this.head = 0;
    this.filled = 0;
    this.failures = 0;
    this.slowCalls = 0;
  }

  snapshot(): CountWindowSnapshot {
    const calls: RecordedCall[] = [];
    const start = this.filled === this.size ? this.head : 0;
    for (let offset = 0; offset < this.filled; offset += 1) {
      calls.push(this.ring[(start + offset) % this.size] as RecordedCall);
    }
    return { kind: 'count', calls };
  }

  /** Keeps the newest `size` calls of the snapshot when the sizes differ. */
  restore(snapshot: WindowSnapshot): void {
    this.reset();
    if (snapshot.kind !== 'count') return;
    const calls = snapshot.calls;
    if (calls.length > 0) this.ring = new Uint8Array(this.size);
    for (let index = Math.max(0, calls.length - this.size); index < calls.length; index += 1) {
      const flags = calls[index] as number;
      this.ring[this.head] = flags;
      this.head = this.head + 1 === this.size ? 0 : this.head + 1;
      this.filled += 1;
      this.failures += flags & FAILED;
      this.slowCalls += (flags & SLOW) >> 1;
    }
  }
}
