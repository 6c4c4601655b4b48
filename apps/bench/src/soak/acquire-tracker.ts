import type { LoopStalls } from './loop-stalls.js';

/** One acquire in flight: when it started. */
export interface AcquireRecord {
  readonly startedAt: number;
}

/**
 * Every acquire the soak makes, from the call to its settling (a lease, the callback of
 * `withConnection` starting, or a rejection). The invariant: none is older than the pool's
 * deadline plus `slackMs`, whether it is still waiting (seen by {@link AcquireTracker.sweep})
 * or settled late (seen by {@link AcquireTracker.settle}).
 */
export class AcquireTracker {
  private readonly inFlight = new Set<AcquireRecord>();
  private readonly limitMs: number;
  private readonly now: () => number;
  started = 0;
  settled = 0;
  /** Longest time from call to settling. */
  slowestMs = 0;
  /** Oldest acquire seen still waiting by a sweep. */
  oldestWaitingMs = 0;
  /** Acquires that settled, or were seen waiting, past the limit, with the loop running. */
  late = 0;
  /**
   * Acquires past the limit by no more than the event loop stalled after their deadline: no
   * timer could fire on time then (see {@link LoopStalls}). Reported, not counted as broken.
   */
  lateInStall = 0;
  /** Of those, the largest overshoot of the limit. */
  worstStallOvershootMs = 0;
  readonly examples: string[] = [];
  private readonly reported = new WeakSet<AcquireRecord>();
  private readonly excused = new WeakSet<AcquireRecord>();

  private readonly deadlineMs: number;
  private readonly stalls: Pick<LoopStalls, 'longestSince'> | undefined;

  constructor(
    deadlineMs: number,
    slackMs: number,
    stalls?: Pick<LoopStalls, 'longestSince'>,
    now: () => number = () => performance.now(),
  ) {
    this.deadlineMs = deadlineMs;
    this.limitMs = deadlineMs + slackMs;
    this.stalls = stalls;
    this.now = now;
  }

  get limit(): number {
    return this.limitMs;
  }

  start(): AcquireRecord {
    const record = { startedAt: this.now() };
    this.inFlight.add(record);
    this.started += 1;
    return record;
  }

  /** Idempotent: a `withConnection` retry or a rejection after the callback began count once. */
  settle(record: AcquireRecord): void {
    if (!this.inFlight.delete(record)) return;
    this.settled += 1;
    const tookMs = this.now() - record.startedAt;
    if (tookMs > this.slowestMs) this.slowestMs = tookMs;
    if (tookMs > this.limitMs && !this.reported.has(record)) this.breach(record, tookMs, 'settled');
  }

  /** Looks for acquires still waiting past the limit; the soak calls it every 100 ms. */
  sweep(): void {
    const now = this.now();
    for (const record of this.inFlight) {
      const ageMs = now - record.startedAt;
      if (ageMs > this.oldestWaitingMs) this.oldestWaitingMs = ageMs;
      if (ageMs > this.limitMs && !this.reported.has(record)) this.breach(record, ageMs, 'waiting');
    }
  }

  /** Acquires not settled yet. */
  pending(): number {
    return this.inFlight.size;
  }

  private breach(record: AcquireRecord, ageMs: number, how: string): void {
    const overshootMs = ageMs - this.limitMs;
    const stallMs = this.stalls?.longestSince(record.startedAt + this.deadlineMs - 100) ?? 0;
    if (overshootMs <= stallMs) {
      // Still looked at on later sweeps: one that keeps waiting becomes a real breach.
      if (!this.excused.has(record)) {
        this.excused.add(record);
        this.lateInStall += 1;
      }
      if (overshootMs > this.worstStallOvershootMs) this.worstStallOvershootMs = overshootMs;
      return;
    }
    this.reported.add(record);
    if (this.excused.has(record)) this.lateInStall -= 1;
    this.late += 1;
    if (this.examples.length < 5) {
      this.examples.push(
        `acquire ${how} after ${ageMs.toFixed(0)} ms (limit ${this.limitMs} ms; event loop stalled ≤ ${stallMs.toFixed(0)} ms meanwhile)`,
      );
    }
  }
}
