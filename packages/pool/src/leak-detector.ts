import {
  type Clock,
  type LogContext,
  type Logger,
  type TimerHandle,
  type TypedEmitter,
  unrefTimer,
} from '@enhanced-pool/core';
import type { PoolCounters } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import type { ConnectionRecord, PoolLease } from './pooled-connection.js';
import { timerDelay } from './timer-delay.js';

/** What the leak detector reads; the pool implements it. */
export interface LeakDetectorHost<TConnection> {
  readonly records: ReadonlyMap<TConnection, ConnectionRecord<TConnection>>;
  isOpen(): boolean;
  readClock(): number;
}

export interface LeakDetectorOptions {
  readonly clock: Clock;
  readonly leakDetectionMs: number;
  readonly counters: PoolCounters;
  readonly events: TypedEmitter<PoolEvents>;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/**
 * Reports leases held past `leakDetectionMs`, with the stack of the code that acquired them.
 * One sweep timer for the whole pool (never one per lease, as HikariCP schedules): armed when a
 * lease is granted and none is armed, re-armed only while unreported leases exist.
 */
export class LeakDetector<TConnection> {
  private timer: TimerHandle | undefined = undefined;

  constructor(
    private readonly options: LeakDetectorOptions,
    private readonly host: LeakDetectorHost<TConnection>,
  ) {}

  /** A lease was granted at `now`. */
  noteGranted(now: number): void {
    if (this.timer === undefined) this.arm(now + this.options.leakDetectionMs, now);
  }

  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(dueAt: number, now: number): void {
    this.timer = this.options.clock.setTimeout(this.onTimer, timerDelay(dueAt - now));
    unrefTimer(this.timer);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (!this.host.isOpen()) return;
    const now = this.host.readClock();
    const { leakDetectionMs } = this.options;
    let nextDue = Number.POSITIVE_INFINITY;
    for (const record of this.host.records.values()) {
      const lease = record.lease;
      if (lease === undefined || lease.leakReported) continue;
      const dueAt = lease.acquiredAt + leakDetectionMs;
      if (dueAt <= now) this.report(lease, now);
      else if (dueAt < nextDue) nextDue = dueAt;
    }
    if (nextDue < Number.POSITIVE_INFINITY) this.arm(nextDue, now);
  };

  private report(lease: PoolLease<TConnection>, now: number): void {
    const { counters, logger, logContext, events, name, leakDetectionMs } = this.options;
    lease.leakReported = true;
    counters.leaks++;
    const heldMs = now - lease.acquiredAt;
    logger.warn(
      `Pool "${name}": connection ${lease.record.id} (lease ${lease.id}) held for ` +
        `${Math.round(heldMs)} ms, longer than leakDetectionMs ${leakDetectionMs}; ` +
        `possible leak. ${lease.stack ?? ''}`,
      { ...logContext, connectionId: lease.record.id, leaseId: lease.id, heldMs },
    );
    if (events.has('leakDetected')) {
      events.emit('leakDetected', {
        connectionId: lease.record.id,
        leaseId: lease.id,
        heldMs,
        stack: lease.stack,
      });
    }
  }
}
