import { createHook } from 'node:async_hooks';

/**
 * Counts Node timers that exist right now, including `unref()`ed ones.
 *
 * `process._getActiveHandles()` and `process.getActiveResourcesInfo()` both skip unref'd timers,
 * and opossum unrefs its per-breaker intervals: they don't keep the process alive, but they
 * still wake the event loop and hold memory. An async hook sees every `Timeout` from creation
 * to destruction (cleared, or fired and not repeating), so it counts them all.
 */
export interface LiveTimerCounter {
  /** Timers created since `start()` and not yet destroyed. */
  live(): number;
  /** Stops observing. */
  stop(): void;
}

/** Starts counting timers created from now on. */
export function countLiveTimers(): LiveTimerCounter {
  const live = new Set<number>();
  const hook = createHook({
    init(asyncId, type) {
      if (type === 'Timeout') live.add(asyncId);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  return {
    live: () => live.size,
    stop: () => hook.disable(),
  };
}
