import { createHook } from 'node:async_hooks';

/**
 * Counts live Node timers, `unref()`ed ones included, like `../live-timers.ts`, and can say
 * what each one is (its delay and callback), so a timer left behind is named in the report.
 */
export interface SoakTimers {
  live(): number;
  /** `1000 ms onTimer ×2`: the live timers grouped by delay and callback name. */
  describe(): string[];
  stop(): void;
}

interface TimeoutLike {
  readonly _idleTimeout?: number;
  readonly _onTimeout?: { readonly name?: string };
  readonly _repeat?: number | null;
}

/** Starts counting timers created from now on. */
export function countSoakTimers(): SoakTimers {
  const live = new Map<number, TimeoutLike>();
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (type === 'Timeout') live.set(asyncId, resource as TimeoutLike);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  return {
    live: () => live.size,
    describe() {
      const groups = new Map<string, number>();
      for (const timer of live.values()) {
        const name = timer._onTimeout?.name || 'anonymous';
        const kind = timer._repeat ? 'interval' : 'timeout';
        const key = `${kind} ${timer._idleTimeout ?? '?'} ms ${name}`;
        groups.set(key, (groups.get(key) ?? 0) + 1);
      }
      return [...groups].map(([key, count]) => (count > 1 ? `${key} ×${count}` : key)).sort();
    },
    stop: () => hook.disable(),
  };
}

/**
 * The count once transient timers have had `windowMs` to go: the smallest of readings every
 * 50 ms. A timer that lasts (a leak) is in every reading; one a connection close or a
 * validation arms for a moment is not.
 */
export async function settledTimerCount(timers: SoakTimers, windowMs = 1_000): Promise<number> {
  let least = timers.live();
  const until = performance.now() + windowMs;
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The reading's own sleep timer is gone once it fired; only then is the count read.
    await new Promise((resolve) => setImmediate(resolve));
    least = Math.min(least, timers.live());
  }
  return least;
}
