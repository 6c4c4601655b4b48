/**
 * An opaque handle returned by {@link Clock.setTimeout}. Node returns a `Timeout` object,
 * browsers a number, a fake clock whatever it likes: callers only hand it back to
 * {@link Clock.clearTimeout}.
 */
export type TimerHandle = unknown;

/**
 * The source of time for everything that waits or measures.
 *
 * Injected rather than read from globals so that tests drive timeouts, breaker windows and
 * sizing cooldowns deterministically (see `createFakeClock()` in `@enhanced-pool/testing`).
 * The circuit breaker declares the same shape structurally, so one clock fits every package.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. Only differences between two readings are meaningful. */
  now(): number;
  /** Calls `callback` once after `delayMs`; the handle cancels it. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. It looks the global timers up on every call instead of capturing them at
 * import time, so `vi.useFakeTimers()` installed after import still takes effect.
 *
 * `now()` reads `performance.now()`: monotonic, so a wall-clock jump (NTP, suspend) can't
 * expire every lease at once.
 */
export const systemClock: Clock = Object.freeze({
  now: () => globalThis.performance.now(),
  setTimeout: (callback: () => void, delayMs: number): TimerHandle =>
    globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle: TimerHandle): void =>
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
});

/**
 * Lets a timer not keep the process alive (Node's `Timeout.unref()`), whatever clock made it.
 * Background work such as idle reaping must never be the reason a process refuses to exit.
 */
export function unrefTimer(handle: TimerHandle): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    const unref = (handle as { unref?: unknown }).unref;
    if (typeof unref === 'function') unref.call(handle);
  }
}
