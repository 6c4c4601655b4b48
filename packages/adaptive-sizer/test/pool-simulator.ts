import type { FakeClock } from '@enhanced-pool/testing';
import type { AdaptiveSizer, SizingDecision } from '../src/index.js';

/**
 * A discrete-event model of a pool driven by an adaptive sizer, for load-trace tests.
 *
 * Borrowers acquire a connection, hold it for a known time and release it; waiters are served
 * first come, first served. Every `tickMs` the model samples itself (snapshot plus the interval's
 * acquires, mean wait and mean hold, as the real pool will), asks the sizer, and obeys: it opens
 * connections up to the target (each ready after `connectMs`) or closes idle ones. Time is the
 * fake clock's, so minutes of load replay in milliseconds and every run is identical.
 */
export interface PoolSimulatorOptions {
  readonly clock: FakeClock;
  readonly sizer: AdaptiveSizer;
  readonly initialSize: number;
  /** Time a new connection takes to open. */
  readonly connectMs?: number;
  /** Sizing tick. */
  readonly tickMs?: number;
  /** Whether the connection breaker is open, read at every decision. */
  readonly breakerOpen?: () => boolean;
}

/** One sizing tick as the model saw it. */
export interface TickRecord {
  readonly at: number;
  readonly decision: SizingDecision;
  /** The size after the decision was applied (connections still opening included). */
  readonly sizeAfter: number;
}

interface Waiter {
  readonly enqueuedAt: number;
  readonly grant: () => void;
}

/** A seeded pseudo-random generator (mulberry32), so open-arrival traces are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class PoolSimulator {
  readonly ticks: TickRecord[] = [];
  private readonly clock: FakeClock;
  private readonly sizer: AdaptiveSizer;
  private readonly connectMs: number;
  private readonly tickMs: number;
  private readonly breakerOpen: () => boolean;
  private idle: number;
  private active = 0;
  private connecting = 0;
  private readonly waiters: Waiter[] = [];
  private acquired = 0;
  private waitTotalMs = 0;
  private released = 0;
  private holdTotalMs = 0;
  private workers = 0;
  private workerGeneration = 0;
  private arrivalsStopped = true;
  private stopped = false;
  /** Largest wait any borrower saw. */
  maxWaitMs = 0;

  constructor(options: PoolSimulatorOptions) {
    this.clock = options.clock;
    this.sizer = options.sizer;
    this.connectMs = options.connectMs ?? 50;
    this.tickMs = options.tickMs ?? 1_000;
    this.breakerOpen = options.breakerOpen ?? (() => false);
    this.idle = options.initialSize;
    this.scheduleTick();
  }

  /** Connections held, opening ones included. */
  get size(): number {
    return this.idle + this.active + this.connecting;
  }

  get pending(): number {
    return this.waiters.length;
  }

  /** Runs the model for `ms` of fake time. */
  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Stops ticking and arrivals, so nothing is left on the clock. */
  stop(): void {
    this.stopped = true;
    this.arrivalsStopped = true;
    this.workerGeneration += 1;
  }

  /**
   * Sets the number of closed-loop workers: each acquires, holds `holdMs`, releases, thinks
   * `thinkMs` and starts again. Lowering it lets surplus workers finish their current lease.
   */
  setWorkers(count: number, holdMs: number, thinkMs = 0): void {
    this.workerGeneration += 1;
    const generation = this.workerGeneration;
    this.workers = count;
    for (let worker = 0; worker < count; worker += 1) {
      const loop = (): void => {
        if (generation !== this.workerGeneration || this.stopped) return;
        this.borrow(holdMs, () => {
          if (thinkMs > 0) this.clock.setTimeout(loop, thinkMs);
          else loop();
        });
      };
      loop();
    }
  }

  /** Open arrivals: a Poisson stream of `ratePerSecond` borrowers, each holding `holdMs`. */
  startArrivals(ratePerSecond: number, holdMs: number, random: () => number): void {
    this.arrivalsStopped = false;
    const next = (): void => {
      if (this.arrivalsStopped) return;
      this.borrow(holdMs, () => {});
      this.clock.setTimeout(next, (-Math.log(1 - random()) * 1_000) / ratePerSecond);
    };
    this.clock.setTimeout(next, (-Math.log(1 - random()) * 1_000) / ratePerSecond);
  }

  stopArrivals(): void {
    this.arrivalsStopped = true;
  }

  /** `count` one-shot borrowers arriving at once (HikariCP's spike test shape). */
  burst(count: number, holdMs: number): void {
    for (let borrower = 0; borrower < count; borrower += 1) this.borrow(holdMs, () => {});
  }

  /** Samples, decides and applies now (what the pool's tick does; also usable on demand). */
  tick(): TickRecord {
    const acquired = this.acquired;
    const released = this.released;
    this.sizer.observe({
      size: this.size,
      active: this.active,
      idle: this.idle,
      pending: this.waiters.length,
      acquired,
      ...(acquired > 0 ? { waitMs: this.waitTotalMs / acquired } : {}),
      ...(released > 0 ? { holdMs: this.holdTotalMs / released } : {}),
    });
    this.acquired = 0;
    this.waitTotalMs = 0;
    this.released = 0;
    this.holdTotalMs = 0;
    const decision = this.sizer.decide({ breakerOpen: this.breakerOpen() });
    if (decision.targetSize > this.size) {
      for (let open = this.size; open < decision.targetSize; open += 1) this.openConnection();
    } else if (decision.targetSize < this.size) {
      const retire = Math.min(this.idle, this.size - decision.targetSize);
      this.idle -= retire;
    }
    const record = { at: this.clock.now(), decision, sizeAfter: this.size };
    this.ticks.push(record);
    return record;
  }

  /** Active workers configured (for assertions). */
  get workerCount(): number {
    return this.workers;
  }

  private scheduleTick(): void {
    this.clock.setTimeout(() => {
      if (this.stopped) return;
      this.tick();
      this.scheduleTick();
    }, this.tickMs);
  }

  private openConnection(): void {
    this.connecting += 1;
    this.clock.setTimeout(() => {
      this.connecting -= 1;
      this.idle += 1;
      this.serveWaiters();
    }, this.connectMs);
  }

  private borrow(holdMs: number, done: () => void): void {
    const grant = (): void => {
      this.active += 1;
      this.clock.setTimeout(() => {
        this.active -= 1;
        this.idle += 1;
        this.released += 1;
        this.holdTotalMs += holdMs;
        this.serveWaiters();
        done();
      }, holdMs);
    };
    if (this.idle > 0 && this.waiters.length === 0) {
      this.idle -= 1;
      this.acquired += 1;
      grant();
      return;
    }
    this.waiters.push({ enqueuedAt: this.clock.now(), grant });
  }

  private serveWaiters(): void {
    while (this.idle > 0 && this.waiters.length > 0) {
      const waiter = this.waiters.shift() as Waiter;
      const waited = this.clock.now() - waiter.enqueuedAt;
      this.idle -= 1;
      this.acquired += 1;
      this.waitTotalMs += waited;
      this.maxWaitMs = Math.max(this.maxWaitMs, waited);
      waiter.grant();
    }
  }
}

/** How often consecutive size changes reverse direction (grow then shrink, or the reverse). */
export function directionChanges(ticks: readonly TickRecord[]): number {
  let changes = 0;
  let last: 'grow' | 'shrink' | undefined;
  for (const { decision } of ticks) {
    if (decision.action === 'hold') continue;
    if (last !== undefined && decision.action !== last) changes += 1;
    last = decision.action;
  }
  return changes;
}
