import type { Clock, TimerHandle } from '@enhanced-pool/core';

interface ScheduledTimer {
  readonly id: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * A {@link Clock} whose time moves only when a test says so. Timers fire in due order (ties in
 * scheduling order), including timers scheduled by a callback inside the advanced window.
 */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, running every timer that falls due, synchronously. */
  advance(ms: number): void;
  /**
   * Like {@link FakeClock.advance}, but lets promise continuations run after each timer (and
   * before returning), so code that awaits between timers behaves as it would in real time.
   */
  advanceAsync(ms: number): Promise<void>;
  /** Runs timers until none is left (bounded by `limit`, to catch self-rescheduling loops). */
  runAllAsync(limit?: number): Promise<void>;
  /** Lets pending promise continuations run without moving time. */
  flush(): Promise<void>;
  /** Timers scheduled and not yet fired or cleared. */
  pendingTimers(): number;
  /** When the next timer is due, or `undefined`. */
  nextTimerAt(): number | undefined;
}

export interface FakeClockOptions {
  /**
   * The reading `now()` starts at.
   * @default 0
   */
  readonly start?: number;
}

/** Drains the microtask queue and anything it schedules, using the real event loop. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Creates a fake clock for deterministic tests of timeouts, breaker windows and cooldowns.
 *
 * @example
 * const clock = createFakeClock();
 * const breaker = createCircuitBreaker({ clock, openDurationMs: 1_000 });
 * clock.advance(1_000); // the breaker may now go half-open
 */
export function createFakeClock(options: FakeClockOptions = {}): FakeClock {
  let now = options.start ?? 0;
  let nextId = 1;
  // Kept sorted by (dueAt, id): tests schedule few timers, and sorted order keeps firing simple.
  const timers: ScheduledTimer[] = [];

  const insert = (timer: ScheduledTimer): void => {
    let index = timers.length;
    while (index > 0 && (timers[index - 1] as ScheduledTimer).dueAt > timer.dueAt) index -= 1;
    timers.splice(index, 0, timer);
  };

  const takeDue = (until: number): ScheduledTimer | undefined => {
    const first = timers[0];
    if (first === undefined || first.dueAt > until) return undefined;
    timers.shift();
    return first;
  };

  const clock: FakeClock = {
    now: () => now,
    setTimeout(callback: () => void, delayMs: number): TimerHandle {
      const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
      const timer: ScheduledTimer = { id: nextId++, dueAt: now + delay, callback };
      insert(timer);
      return timer.id;
    },
    clearTimeout(handle: TimerHandle): void {
      const index = timers.findIndex((timer) => timer.id === handle);
      if (index !== -1) timers.splice(index, 1);
    },
    advance(ms: number): void {
      const target = now + ms;
      for (let timer = takeDue(target); timer; timer = takeDue(target)) {
        now = Math.max(now, timer.dueAt);
        timer.callback();
      }
      now = target;
    },
    async advanceAsync(ms: number): Promise<void> {
      const target = now + ms;
      await drainMicrotasks();
      for (let timer = takeDue(target); timer; timer = takeDue(target)) {
        now = Math.max(now, timer.dueAt);
        timer.callback();
        await drainMicrotasks();
      }
      now = target;
      await drainMicrotasks();
    },
    async runAllAsync(limit = 10_000): Promise<void> {
      await drainMicrotasks();
      for (let fired = 0; timers.length > 0; fired += 1) {
        if (fired >= limit) throw new Error(`runAllAsync: more than ${limit} timers fired`);
        const timer = timers.shift() as ScheduledTimer;
        now = Math.max(now, timer.dueAt);
        timer.callback();
        await drainMicrotasks();
      }
    },
    flush: drainMicrotasks,
    pendingTimers: () => timers.length,
    nextTimerAt: () => timers[0]?.dueAt,
  };
  return clock;
}
