import { redactSecrets } from '@enhanced-pool/core';

/** How bad a logged event is; the dashboard colours by it. */
export type EventLevel = 'info' | 'warn' | 'error';

/** One line of the service's recent history: a pool event, a fault, a load change. */
export interface LoggedEvent {
  /** 1, 2, 3, … in the order events were logged, so a client can tell what it has seen. */
  readonly seq: number;
  /** Wall-clock time (epoch ms), for display. */
  readonly at: number;
  /** Where it came from, e.g. `connectionDestroyed`, `breaker`, `fault`, `load`. */
  readonly type: string;
  readonly level: EventLevel;
  /** One sentence, secret-free (passed through `redactSecrets`). */
  readonly message: string;
}

/** Options of {@link createEventLog}. */
export interface EventLogOptions {
  /**
   * How many events are kept; older ones are dropped.
   * @default 500
   */
  readonly capacity?: number;
  /**
   * Wall-clock source for `at`.
   * @default Date.now
   */
  readonly now?: () => number;
}

/**
 * A bounded ring buffer of recent events with subscribers, so `/api/stats` can list the recent
 * history and the Server-Sent Events stream can push each event as it happens, without the
 * memory growing while the service runs for days.
 */
export interface EventLog {
  /** Records an event and tells every subscriber. Messages are redacted here, once. */
  log(type: string, level: EventLevel, message: string): LoggedEvent;
  /** The kept events, oldest first. */
  recent(): LoggedEvent[];
  /** Calls `listener` for every later event; the returned function unsubscribes. */
  subscribe(listener: (event: LoggedEvent) => void): () => void;
}

/** Creates an {@link EventLog}. */
export function createEventLog(options: EventLogOptions = {}): EventLog {
  const capacity = options.capacity ?? 500;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`EventLog capacity must be an integer ≥ 1, got ${String(capacity)}`);
  }
  const now = options.now ?? Date.now;
  const buffer: (LoggedEvent | undefined)[] = new Array(capacity);
  const listeners = new Set<(event: LoggedEvent) => void>();
  let seq = 0;

  return {
    log(type, level, message) {
      seq += 1;
      const event: LoggedEvent = { seq, at: now(), type, level, message: redactSecrets(message) };
      buffer[(seq - 1) % capacity] = event;
      for (const listener of [...listeners]) listener(event);
      return event;
    },
    recent() {
      const kept = Math.min(seq, capacity);
      const events: LoggedEvent[] = [];
      for (let index = seq - kept; index < seq; index += 1) {
        const event = buffer[index % capacity];
        if (event !== undefined) events.push(event);
      }
      return events;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/** Options of {@link createThrottledLog}. */
export interface ThrottledLogOptions {
  /**
   * Events per key logged in one `intervalMs`; the rest are counted and summarised by `flush()`.
   * @default 10
   */
  readonly limit?: number;
  /**
   * The length of one throttling interval.
   * @default 1_000
   */
  readonly intervalMs?: number;
  /**
   * Monotonic time source.
   * @default performance.now
   */
  readonly now?: () => number;
}

/**
 * Rate-limits noisy event kinds so a 3-second outage reads as a dozen lines, not hundreds: the
 * breaker flips between open and half-open on every failed probe, and every probe's connect
 * fails. What is held back is counted and summarised in one line, never silently dropped.
 */
export interface ThrottledLog {
  /**
   * Logs unless `key` already logged `limit` events (or the given `limit` for this key) in the
   * current interval.
   */
  log(key: string, type: string, level: EventLevel, message: string, limit?: number): void;
  /**
   * Logs one summary line per key that has held events back for at least `intervalMs`; call
   * it on a timer. Held events are never dropped: a later flush reports them.
   */
  flush(): void;
}

/** Creates a {@link ThrottledLog} writing into `events`. */
export function createThrottledLog(
  events: EventLog,
  options: ThrottledLogOptions = {},
): ThrottledLog {
  const limit = options.limit ?? 10;
  const intervalMs = options.intervalMs ?? 1_000;
  const now = options.now ?? (() => performance.now());
  const keys = new Map<
    string,
    {
      windowStart: number;
      logged: number;
      held: number;
      heldSince: number;
      last?: { type: string; level: EventLevel; message: string };
    }
  >();

  return {
    log(key, type, level, message, keyLimit = limit) {
      const time = now();
      let entry = keys.get(key);
      if (entry === undefined) {
        entry = { windowStart: time, logged: 0, held: 0, heldSince: time };
        keys.set(key, entry);
      }
      if (time - entry.windowStart >= intervalMs) {
        entry.windowStart = time;
        entry.logged = 0;
      }
      if (entry.logged < keyLimit) {
        entry.logged += 1;
        events.log(type, level, message);
        return;
      }
      if (entry.held === 0) entry.heldSince = time;
      entry.held += 1;
      entry.last = { type, level, message };
    },
    flush() {
      const time = now();
      for (const entry of keys.values()) {
        // At most one summary per key and interval, so the summaries don't become the flood.
        if (entry.held === 0 || entry.last === undefined) continue;
        if (time - entry.heldSince < intervalMs) continue;
        const seconds = ((time - entry.heldSince) / 1_000).toFixed(1);
        events.log(
          entry.last.type,
          entry.last.level,
          `… ${entry.held} more like this in ${seconds} s; the latest: ${entry.last.message}`,
        );
        entry.held = 0;
      }
    },
  };
}
