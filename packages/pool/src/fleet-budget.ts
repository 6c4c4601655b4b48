import {
  type Clock,
  type FleetSlots,
  isConnectionFatalReason,
  type LogContext,
  type Logger,
  type TimerHandle,
  unrefTimer,
} from '@enhanced-pool/core';
import { errorMessage } from './driver-calls.js';
import { FleetBudgetUnsupportedError } from './fleet-budget-error.js';
import type { ResolvedFleetBudget } from './fleet-budget-options.js';
import type { Lease } from './lease.js';
import { timerDelay } from './timer-delay.js';

/** How much longer than `recheckMs` a pool holding no connection waits between looks. */
const BLIND_BACKOFF = 8;

/** What the budget reads from and calls back into; the pool implements it. */
export interface FleetBudgetHost<TConnection> {
  /** Connections the pool holds; each holds one slot. */
  readonly size: number;
  isOpen(): boolean;
  /** A lease to count free slots on, in turn with the pool's other callers. */
  acquire(): Promise<Lease<TConnection>>;
  classify(error: unknown): ErrorReasonLike;
  /** Slots may be free again: serve waiters, keep `minSize`. */
  resumeCreation(): void;
}

type ErrorReasonLike = Parameters<typeof isConnectionFatalReason>[0];

export interface FleetBudgetModuleOptions<TConnection> {
  readonly budget: ResolvedFleetBudget;
  readonly slots: FleetSlots<TConnection>;
  readonly driverName: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  readonly logContext: LogContext;
  readonly name: string;
  /** Aborted when the pool closes. */
  readonly signal: AbortSignal;
}

/** The budget's figures in `getStats().fleetBudget`. */
export interface FleetBudgetStats {
  /** The fleet's budget (`fleetBudget.slots`). */
  readonly slots: number;
  /** The budget's key as the database sees it. */
  readonly key: number;
  /** Slots this pool's connections hold (one per connection). */
  readonly held: number;
  /**
   * Free slots as this pool last saw them, less those it took since; `null` before it first
   * looked. Other processes may have taken some since.
   */
  readonly free: number | null;
  /** Slots claimed by new connections. */
  readonly claims: number;
  /** New connections that found no free slot and were closed at once. */
  readonly full: number;
  /** Looks at the free slots on a held connection while callers waited. */
  readonly rechecks: number;
}

/**
 * The pool's side of `fleetBudget`: whether a connect may start (one claim at a time, and only
 * while a slot looks free), the claim on each new connection, and, while callers wait with no
 * slot free, a look every `recheckMs` on a connection the pool already holds (no new
 * connection is opened to look, except when the pool holds none).
 *
 * Free slots are known from the last look (a claim reports those left after it, a count those
 * seen) and adjusted by this pool's own connections since: one closed here frees a slot, one
 * adopted takes one. What other processes did since is learned at the next claim or look.
 */
export class FleetBudget<TConnection> {
  claims = 0;
  full = 0;
  rechecks = 0;
  /** Free slots at the last look; NaN before the first. */
  private lookedFree = Number.NaN;
  /** Connections this pool held at that look. */
  private heldAtLook = 0;
  private timer: TimerHandle | undefined = undefined;
  private looking = false;
  /** Claims in a row that found no slot while the pool held no connection to look on. */
  private blindMisses = 0;

  constructor(
    private readonly options: FleetBudgetModuleOptions<TConnection>,
    private readonly host: FleetBudgetHost<TConnection>,
  ) {}

  /** Free slots now, as far as this pool knows; `Infinity` before it first looked. */
  estimatedFree(): number {
    if (Number.isNaN(this.lookedFree)) return Number.POSITIVE_INFINITY;
    return this.lookedFree - (this.host.size - this.heldAtLook);
  }

  /**
   * The most connections this pool can hold now: those it has plus the free slots it knows of.
   * The sizer's target is capped by it.
   */
  capacity(): number {
    return this.host.size + Math.max(0, this.estimatedFree());
  }

  /**
   * May a connect start? Not while one is in flight (one claim at a time), nor while no slot
   * looks free; then a look is scheduled, so creation resumes when one frees.
   */
  mayConnect(connecting: number): boolean {
    if (connecting > 0) return false;
    if (this.estimatedFree() > 0) return true;
    this.armRecheck();
    return false;
  }

  /**
   * Claims a slot for a connection just opened. Resolves `true` when it holds one, `false` when
   * none was free (the caller closes the connection at once); rejects with
   * {@link FleetBudgetUnsupportedError} when the connection can't hold one.
   */
  async claim(connection: TConnection, signal: AbortSignal): Promise<boolean> {
    const { slots, budget, driverName } = this.options;
    const result = await slots.claim(connection, budget, { signal });
    if (result.status === 'unsupported') {
      throw new FleetBudgetUnsupportedError(result.detail, budget.key, { driverName });
    }
    if (result.status === 'full') {
      this.full++;
      if (this.host.size === 0) this.blindMisses++;
      this.lookedFree = 0;
      this.heldAtLook = this.host.size;
      return false;
    }
    this.claims++;
    this.blindMisses = 0;
    this.lookedFree = result.free;
    // The new connection is not a member yet; it will be once adopted.
    this.heldAtLook = this.host.size + 1;
    return true;
  }

  stats(): FleetBudgetStats {
    const free = this.estimatedFree();
    return {
      slots: this.options.budget.slots,
      key: this.options.budget.key,
      held: this.host.size,
      free: Number.isFinite(free) ? Math.max(0, free) : null,
      claims: this.claims,
      full: this.full,
      rechecks: this.rechecks,
    };
  }

  stop(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private armRecheck(): void {
    if (this.timer !== undefined || this.looking || !this.host.isOpen()) return;
    const { clock, budget, random } = this.options;
    // Holding no connection, a look costs a connection beyond the budget for a moment: back
    // off to 8 × recheckMs after the first miss, so a pool shut out of a full fleet rarely
    // adds to it (each look there costs a connect and a round trip over the budget).
    const factor = this.host.size === 0 && this.blindMisses > 0 ? BLIND_BACKOFF : 1;
    const delayMs = budget.recheckMs * factor * (0.8 + 0.4 * random());
    this.timer = clock.setTimeout(this.onRecheck, timerDelay(delayMs));
    unrefTimer(this.timer);
  }

  private readonly onRecheck = (): void => {
    this.timer = undefined;
    if (!this.host.isOpen()) return;
    if (this.host.size === 0) {
      // Nothing held to look on: the next connect's claim is the look (a brief excess of one
      // connection if there is still no slot).
      this.lookedFree = Number.NaN;
      this.host.resumeCreation();
      return;
    }
    this.looking = true;
    void this.recount().finally(() => {
      this.looking = false;
      if (this.host.isOpen()) this.host.resumeCreation();
    });
  };

  /** Counts free slots on a connection taken in turn from the pool. */
  private async recount(): Promise<void> {
    const { slots, budget, signal, logger, logContext, name, driverName } = this.options;
    let lease: Lease<TConnection>;
    try {
      lease = await this.host.acquire();
    } catch {
      // Closing, or every connection stayed busy past the deadline: the next wait looks again.
      return;
    }
    try {
      const count = await slots.countFree(lease.connection, budget, { signal });
      this.rechecks++;
      if (count.status === 'unsupported') {
        const error = new FleetBudgetUnsupportedError(count.detail, budget.key, { driverName });
        logger.error(`Pool "${name}": ${error.message}`, logContext);
        lease.destroy(error);
        return;
      }
      this.lookedFree = count.free;
      this.heldAtLook = this.host.size;
      lease.release();
    } catch (error) {
      logger.warn(`Pool "${name}": counting free fleet slots failed`, {
        ...logContext,
        error: errorMessage(error),
      });
      if (isConnectionFatalReason(this.host.classify(error))) lease.destroy(error);
      else lease.release();
    }
  }
}
