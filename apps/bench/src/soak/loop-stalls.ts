/**
 * How late the event loop ran, sampled by a ticker that expects to run every `periodMs`: a tick
 * `periodMs + 80` after the previous one means the loop was blocked for 80 ms (by this process's
 * own work, or a machine too loaded to schedule it). A pool's timer can't fire while the loop
 * is blocked, so an acquire that settles late by no more than the stall around its deadline
 * was late for the machine, not the pool; the soak reports those apart.
 */
export class LoopStalls {
  private readonly at: Float64Array;
  private readonly stall: Float64Array;
  private next = 0;
  private lastTick: number;
  private readonly periodMs: number;
  private readonly now: () => number;
  /** Longest stall seen. */
  longestMs = 0;

  constructor(periodMs: number, now: () => number = () => performance.now(), history = 256) {
    this.periodMs = periodMs;
    this.now = now;
    this.at = new Float64Array(history);
    this.stall = new Float64Array(history);
    this.lastTick = now();
  }

  /** Called by the ticker every `periodMs`. */
  tick(): void {
    const now = this.now();
    const stall = Math.max(0, now - this.lastTick - this.periodMs);
    this.lastTick = now;
    this.at[this.next] = now;
    this.stall[this.next] = stall;
    this.next = (this.next + 1) % this.at.length;
    if (stall > this.longestMs) this.longestMs = stall;
  }

  /** The longest stall that ended at or after `from`, the one under way now included. */
  longestSince(from: number): number {
    const now = this.now();
    let longest = Math.max(0, now - this.lastTick - this.periodMs);
    for (let index = 0; index < this.at.length; index++) {
      if (this.at[index]! >= from && this.stall[index]! > longest) longest = this.stall[index]!;
    }
    return longest;
  }
}
