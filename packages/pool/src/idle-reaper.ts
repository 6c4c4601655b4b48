import { type Clock, type TimerHandle, unrefTimer } from '@enhanced-pool/core';
import type { IdleList } from './idle-list.js';
import type { DestroyReason } from './pool-events.js';
import type { ConnectionRecord } from './pooled-connection.js';
import { timerDelay } from './timer-delay.js';

/** What the reaper reads from and calls back into; the pool implements it. */
export interface IdleReaperHost<TConnection> {
  readonly size: number;
  readonly targetSize: number;
  isOpen(): boolean;
  readClock(): number;
  discard(record: ConnectionRecord<TConnection>, reason: DestroyReason): void;
}

/**
 * Closes idle connections past their lifetime, or idle longer than `idleTimeoutMs` while the
 * pool is above its target size (`minSize`, or the adaptive sizer's target: the sizer keeps
 * headroom on purpose and retires it itself after its cooldown, so the idle timeout must not
 * close what the sizer would reopen). One timer, armed for the earliest due connection, and only
 * when a connection's due time is earlier than the one armed: a release in a busy pool costs a
 * comparison.
 */
export class IdleReaper<TConnection> {
  private timer: TimerHandle | undefined = undefined;
  private dueAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly idle: IdleList<TConnection>,
    private readonly clock: Clock,
    private readonly idleTimeoutMs: number,
    private readonly host: IdleReaperHost<TConnection>,
  ) {}

  /**
   * `record` just became idle at `now` (possibly the last reading, not a fresh one). Arms the
   * timer if it is now the first due; that is the slow path, so it takes an exact reading.
   */
  noteIdle(record: ConnectionRecord<TConnection>, now: number): void {
    const idleDue = this.host.size > this.host.targetSize ? now + this.idleTimeoutMs : Infinity;
    if (Math.min(record.expiresAt, idleDue) >= this.dueAt) return;
    now = this.host.readClock();
    record.idleSince = now;
    record.lastUsedAt = now;
    const freshIdleDue =
      this.host.size > this.host.targetSize ? now + this.idleTimeoutMs : Infinity;
    const freshDue = Math.min(record.expiresAt, freshIdleDue);
    if (freshDue < this.dueAt) this.arm(freshDue, now);
  }

  /** Back to idle after a health check, keeping `lastUsedAt` (what the idle timeout counts). */
  noteRelinked(record: ConnectionRecord<TConnection>, now: number): void {
    const idleDue =
      this.host.size > this.host.targetSize
        ? record.lastUsedAt + this.idleTimeoutMs
        : Number.POSITIVE_INFINITY;
    const dueAt = Math.min(record.expiresAt, idleDue);
    if (dueAt < this.dueAt) this.arm(dueAt, now);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
  }

  private arm(dueAt: number, now: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.dueAt = dueAt;
    this.timer = this.clock.setTimeout(this.onTimer, timerDelay(dueAt - now));
    unrefTimer(this.timer);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    if (!this.host.isOpen()) return;
    const now = this.host.readClock();
    const { idleTimeoutMs } = this;
    for (let record = this.idle.oldest; record !== undefined; ) {
      const newer = record.newer;
      if (now >= record.expiresAt) this.host.discard(record, 'lifetime');
      else if (now - record.lastUsedAt >= idleTimeoutMs && this.host.size > this.host.targetSize) {
        this.host.discard(record, 'idle-timeout');
      }
      record = newer;
    }
    let dueAt = Number.POSITIVE_INFINITY;
    const idleApplies = this.host.size > this.host.targetSize;
    for (let record = this.idle.oldest; record !== undefined; record = record.newer) {
      if (record.expiresAt < dueAt) dueAt = record.expiresAt;
      if (idleApplies && record.lastUsedAt + idleTimeoutMs < dueAt) {
        dueAt = record.lastUsedAt + idleTimeoutMs;
      }
    }
    if (dueAt < Number.POSITIVE_INFINITY) this.arm(dueAt, now);
  };
}
