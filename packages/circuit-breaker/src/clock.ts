/**
 * The source of time a breaker measures with. Declared structurally (not imported from
 * `@enhanced-pool/core`) so the breaker has no runtime dependency, yet a core `Clock`, the fake
 * clock from `@enhanced-pool/testing` or any `{ now, setTimeout, clearTimeout }` fits.
 *
 * The breaker calls `setTimeout` only while a half-open trial call is in flight; an idle, closed
 * or open breaker holds no timer.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. Only differences between two readings are meaningful. */
  now(): number;
  /** Calls `callback` once after `delayMs`; the returned handle cancels it. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * The real clock. It looks the global timers up on every call instead of capturing them at
 * import time, so `vi.useFakeTimers()` installed after import still takes effect. `now()` is
 * `performance.now()`: monotonic, so a wall-clock jump can't end an open period early.
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => globalThis.performance.now(),
  setTimeout: (callback: () => void, delayMs: number): unknown =>
    globalThis.setTimeout(callback, delayMs),
  clearTimeout: (handle: unknown): void =>
    globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
});

/**
 * Lets a timer not keep the process alive (Node's `Timeout.unref()`), whatever clock made it: a
 * half-open probe deadline must never be the reason a process refuses to exit.
 */
export function unrefTimer(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle) {
    const unref = (handle as { unref?: unknown }).unref;
    if (typeof unref === 'function') unref.call(handle);
  }
}
