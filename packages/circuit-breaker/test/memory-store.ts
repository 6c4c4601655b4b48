import type {
  BreakerStateStore,
  BreakerStoreCallOptions,
  BreakerStoreSubscription,
  ProbeLease,
  SharedBreakerState,
} from '../src/breaker-state-store.js';
import type { Clock } from '../src/clock.js';

/** How the in-memory store answers: normally, by rejecting every call, or never. */
export type MemoryStoreMode = 'up' | 'down' | 'hang';

export interface MemoryStore extends BreakerStateStore {
  mode: MemoryStoreMode;
  /** Every operation, in call order, e.g. `publish open` or `acquireProbeLease granted`. */
  readonly log: string[];
  /** Operations whose signal was aborted by the breaker (it stopped waiting). */
  readonly aborted: string[];
  subscribers(name: string): number;
  leaseHolder(name: string): string | undefined;
}

interface Entry {
  open?: { until: number; attempt: number; source: string };
  lease?: { holder: string; until: number };
  listeners: Set<(state: SharedBreakerState) => void>;
}

/**
 * A {@link BreakerStateStore} in memory, on a (fake) clock: the protocol a real store follows,
 * with answers on a microtask (never synchronous) and messages delivered to every subscriber,
 * the publisher included. `mode` makes it fail or hang, as an unreachable server would.
 */
export function createMemoryStore(clock: Clock): MemoryStore {
  const entries = new Map<string, Entry>();
  const entry = (name: string): Entry => {
    let found = entries.get(name);
    if (found === undefined) {
      found = { listeners: new Set() };
      entries.set(name, found);
    }
    return found;
  };
  const log: string[] = [];
  const aborted: string[] = [];

  function answer<T>(label: string, options: BreakerStoreCallOptions, work: () => T): Promise<T> {
    log.push(label);
    if (store.mode === 'down') return Promise.reject(new Error('ECONNREFUSED'));
    if (store.mode === 'hang') {
      options.signal.addEventListener('abort', () => aborted.push(label), { once: true });
      return new Promise<T>(() => {});
    }
    return Promise.resolve().then(work);
  }

  function liveOpen(found: Entry): Entry['open'] {
    if (found.open !== undefined && found.open.until <= clock.now()) found.open = undefined;
    return found.open;
  }

  function deliver(name: string, state: SharedBreakerState): void {
    for (const listener of entry(name).listeners) queueMicrotask(() => listener(state));
  }

  const store: MemoryStore = {
    mode: 'up',
    log,
    aborted,
    publish(name, state, options) {
      return answer(`publish ${state.state}`, options, () => {
        const found = entry(name);
        if (state.state === 'open') {
          found.open = {
            until: clock.now() + state.openRemainingMs,
            attempt: state.attempt,
            source: state.source,
          };
        } else {
          found.open = undefined;
        }
        deliver(name, state);
      });
    },
    read(name, options) {
      return answer('read', options, () => {
        const open = liveOpen(entry(name));
        if (open === undefined) return undefined;
        return {
          state: 'open' as const,
          openRemainingMs: open.until - clock.now(),
          attempt: open.attempt,
          source: open.source,
        };
      });
    },
    subscribe(name, listener): BreakerStoreSubscription {
      const listeners = entry(name).listeners;
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
    acquireProbeLease(name, holder, ttlMs, options) {
      return answer('acquireProbeLease', options, (): ProbeLease => {
        const found = entry(name);
        const now = clock.now();
        const open = liveOpen(found);
        if (open !== undefined) {
          log.push('acquireProbeLease refused (open)');
          return { granted: false, retryAfterMs: open.until - now };
        }
        const lease = found.lease;
        if (lease !== undefined && lease.until > now && lease.holder !== holder) {
          log.push('acquireProbeLease refused');
          return { granted: false, retryAfterMs: lease.until - now };
        }
        found.lease = { holder, until: now + ttlMs };
        log.push('acquireProbeLease granted');
        return { granted: true };
      });
    },
    releaseProbeLease(name, holder, options) {
      return answer('releaseProbeLease', options, () => {
        const found = entry(name);
        if (found.lease?.holder === holder) found.lease = undefined;
      });
    },
    subscribers: (name) => entry(name).listeners.size,
    leaseHolder(name) {
      const lease = entry(name).lease;
      return lease !== undefined && lease.until > clock.now() ? lease.holder : undefined;
    },
  };
  return store;
}
