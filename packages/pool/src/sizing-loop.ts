import type { AdaptiveSizer } from '@enhanced-pool/adaptive-sizer';
import {
  type Clock,
  type LogContext,
  type Logger,
  type TimerHandle,
  type TypedEmitter,
  unrefTimer,
} from '@enhanced-pool/core';
import type { IdleList } from './idle-list.js';
import type { PoolGauges } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import type { ConnectionRecord } from './pooled-connection.js';

/** What the sizing loop reads from and acts on; the pool implements it. */
export interface SizingHost<TConnection> {
  targetSize: number;
  /** Leases handed out and ended so far. */
  readonly acquired: number;
  readonly released: number;
  /** Sums of the holds of leases ended and of acquire waits since the last sample; reset here. */
  holdSumMs: number;
  waitSumMs: number;
  readonly size: number;
  readonly minSize: number;
  readonly idle: IdleList<TConnection>;
  isOpen(): boolean;
  readClock(): number;
  gauges(): PoolGauges;
  discard(record: ConnectionRecord<TConnection>, reason: 'shrink'): void;
}

export interface SizingLoopOptions {
  readonly sizer: AdaptiveSizer;
  /** Says whether connections can be opened now (not while the breaker or a fatal hold refuses). */
  /**
   * Whether connects are refused now, and how many connections the pool may hold at most
   * (`Infinity`, or what a fleet budget leaves it).
   */
  readonly gate: { refuses(): boolean; growthLimit(): number };
  /** Opens connections toward the new target. */
  readonly connector: { growToTarget(): void };
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly events: TypedEmitter<PoolEvents>;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
}

/**
 * Adaptive sizing: every `sizingIntervalMs`, samples the load (acquires, mean wait and hold,
 * gauges), asks the sizer, and pre-opens connections or retires idle surplus. The tick runs only
 * while there is something to size; it is re-armed by slow paths (a waiter queues, a connect
 * starts), never by an acquire an idle connection serves.
 */
export class SizingLoop<TConnection> {
  private timer: TimerHandle | undefined = undefined;
  private sampledAcquired = 0;
  private sampledReleased = 0;

  constructor(
    private readonly options: SizingLoopOptions,
    private readonly host: SizingHost<TConnection>,
  ) {}

  /** Arms the tick if it isn't running. */
  arm(): void {
    if (this.timer !== undefined || !this.host.isOpen()) return;
    this.timer = this.options.clock.setTimeout(this.onTick, this.options.intervalMs);
    unrefTimer(this.timer);
  }

  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Closes up to `count` idle connections, least recently used first, never below `minSize`. */
  private retireIdle(count: number): void {
    const { host } = this;
    let left = Math.min(count, host.idle.count, host.size - host.minSize);
    while (left > 0 && host.idle.oldest !== undefined) {
      host.discard(host.idle.oldest, 'shrink');
      left--;
    }
  }

  private readonly onTick = (): void => {
    this.timer = undefined;
    const { host } = this;
    if (!host.isOpen()) return;
    const { sizer, logger, logContext, events, name } = this.options;
    host.readClock();
    const acquired = host.acquired - this.sampledAcquired;
    const released = host.released - this.sampledReleased;
    this.sampledAcquired = host.acquired;
    this.sampledReleased = host.released;
    const waitMs = acquired > 0 ? host.waitSumMs / acquired : undefined;
    const holdMs = released > 0 ? host.holdSumMs / released : undefined;
    host.waitSumMs = 0;
    host.holdSumMs = 0;
    const gauges = host.gauges();
    sizer.observe({
      size: gauges.size + gauges.connecting,
      active: gauges.active,
      idle: gauges.idle,
      pending: gauges.pending,
      acquired,
      ...(waitMs === undefined ? {} : { waitMs }),
      ...(holdMs === undefined ? {} : { holdMs }),
    });
    const decision = sizer.decide({ breakerOpen: this.options.gate.refuses() });
    const from = host.targetSize;
    // A fleet budget caps growth: the target never promises connections no slot is left for.
    host.targetSize = Math.max(
      host.minSize,
      Math.min(decision.targetSize, this.options.gate.growthLimit()),
    );
    if (decision.action === 'grow') this.options.connector.growToTarget();
    else if (decision.action === 'shrink') {
      this.retireIdle(decision.current - decision.targetSize);
    }
    if (decision.action !== 'hold') {
      logger.debug(`Pool "${name}": ${decision.action} to ${decision.targetSize}`, {
        ...logContext,
        reason: decision.reason,
        utilization: decision.utilization,
        demand: decision.demand,
      });
      if (events.has('resized')) {
        events.emit('resized', {
          action: decision.action,
          from,
          to: host.targetSize,
          reason: decision.reason,
        });
      }
    }
    // Keep ticking while there is load to watch or surplus to retire; otherwise the next
    // waiter or connect re-arms the tick.
    const after = host.gauges();
    if (
      acquired > 0 ||
      gauges.pending > 0 ||
      after.connecting > 0 ||
      after.size > host.minSize ||
      host.targetSize > host.minSize
    ) {
      this.arm();
    }
  };
}
