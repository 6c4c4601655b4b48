import { InvalidBreakerOptionError } from './errors.js';

/** The four states of a breaker. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/**
 * One call in a count window's snapshot: bit 0 = failure, bit 1 = slow. So `0` is a success, `1`
 * a failure, `2` a slow success, `3` a slow failure.
 */
export type RecordedCall = 0 | 1 | 2 | 3;

/** What a consecutive window remembers: the current runs. */
export interface ConsecutiveWindowSnapshot {
  readonly kind: 'consecutive';
  /** Failures in a row, up to the most recent call. */
  readonly failures: number;
  /** Slow calls in a row, up to the most recent call. */
  readonly slowCalls: number;
}

/** What a count window remembers: its calls, oldest first. */
export interface CountWindowSnapshot {
  readonly kind: 'count';
  readonly calls: readonly RecordedCall[];
}

/** What a time window remembers: per-bucket counts, oldest first. */
export interface TimeWindowSnapshot {
  readonly kind: 'time';
  /** Width of one bucket; a snapshot is restored only into a window with the same width. */
  readonly bucketMs: number;
  /**
   * How long ago the newest bucket began. An age, not a clock reading, so the snapshot means the
   * same thing in a process whose clock has another origin.
   */
  readonly newestBucketAgeMs: number;
  /** `[calls, failures, slowCalls]` per bucket, oldest first. */
  readonly buckets: readonly (readonly [number, number, number])[];
}

/** The window part of a {@link CircuitBreakerSnapshot}. */
export type WindowSnapshot = ConsecutiveWindowSnapshot | CountWindowSnapshot | TimeWindowSnapshot;

/**
 * A breaker's state as plain JSON: store it (a file, Redis, the next serverless invocation) and
 * pass it back as `initialState` to continue where another process left off.
 *
 * Times are durations (`openRemainingMs`, `newestBucketAgeMs`), never clock readings, because the
 * process that restores it has a clock with a different origin. Calls in flight and counters
 * are not part of it: they belong to the process that made them.
 */
export interface CircuitBreakerSnapshot {
  /** Format version; bumped on any incompatible change. */
  readonly version: 1;
  readonly state: CircuitState;
  /** Only when `state` is `'open'`: milliseconds left before a trial call may go through. */
  readonly openRemainingMs?: number;
  /**
   * How many times the breaker opened since it was last closed; the next opening uses
   * `openDurationMs(attempt + 1)`.
   */
  readonly attempt: number;
  readonly window: WindowSnapshot;
}

const STATES: readonly string[] = ['closed', 'open', 'half-open', 'isolated'];

function fail(path: string, value: unknown, allowed: string): never {
  throw new InvalidBreakerOptionError(path, value, allowed);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function count(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    fail(path, value, 'an integer ≥ 0');
  }
  return value;
}

function duration(path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(path, value, 'a finite number ≥ 0');
  }
  return value;
}

function parseWindow(path: string, value: unknown): WindowSnapshot {
  if (!isRecord(value)) fail(path, value, 'an object with a "kind"');
  const kind = value.kind;
  if (kind === 'consecutive') {
    return {
      kind,
      failures: count(`${path}.failures`, value.failures),
      slowCalls: count(`${path}.slowCalls`, value.slowCalls),
    };
  }
  if (kind === 'count') {
    const calls = value.calls;
    if (!Array.isArray(calls)) fail(`${path}.calls`, calls, 'an array of 0, 1, 2 or 3');
    calls.forEach((call: unknown, index) => {
      if (call !== 0 && call !== 1 && call !== 2 && call !== 3) {
        fail(`${path}.calls[${index}]`, call, '0, 1, 2 or 3');
      }
    });
    return { kind, calls: calls.slice() as RecordedCall[] };
  }
  if (kind === 'time') {
    const bucketMs = value.bucketMs;
    if (typeof bucketMs !== 'number' || !Number.isFinite(bucketMs) || bucketMs <= 0) {
      fail(`${path}.bucketMs`, bucketMs, 'a finite number > 0');
    }
    const buckets = value.buckets;
    if (!Array.isArray(buckets))
      fail(`${path}.buckets`, buckets, 'an array of [calls, failures, slowCalls]');
    const parsed = buckets.map((bucket: unknown, index): [number, number, number] => {
      const at = `${path}.buckets[${index}]`;
      if (!Array.isArray(bucket) || bucket.length !== 3) {
        fail(at, bucket, 'an array [calls, failures, slowCalls]');
      }
      const calls = count(`${at}[0]`, bucket[0]);
      const failures = count(`${at}[1]`, bucket[1]);
      const slowCalls = count(`${at}[2]`, bucket[2]);
      if (failures > calls) fail(`${at}[1]`, failures, `an integer ≤ calls (${calls})`);
      if (slowCalls > calls) fail(`${at}[2]`, slowCalls, `an integer ≤ calls (${calls})`);
      return [calls, failures, slowCalls];
    });
    return {
      kind,
      bucketMs,
      newestBucketAgeMs: duration(`${path}.newestBucketAgeMs`, value.newestBucketAgeMs),
      buckets: parsed,
    };
  }
  return fail(`${path}.kind`, kind, '"consecutive", "count" or "time"');
}

/**
 * Validates a snapshot (typically just `JSON.parse`d from storage) field by field. Throws
 * {@link InvalidBreakerOptionError} naming the first bad field, e.g. `initialState.version`.
 * @internal used by `resolveCircuitBreakerOptions()`.
 */
export function parseSnapshot(value: unknown, path = 'initialState'): CircuitBreakerSnapshot {
  if (!isRecord(value)) fail(path, value, 'a snapshot object from breaker.snapshot()');
  if (value.version !== 1) fail(`${path}.version`, value.version, '1');
  const state = value.state;
  if (typeof state !== 'string' || !STATES.includes(state)) {
    fail(`${path}.state`, state, '"closed", "open", "half-open" or "isolated"');
  }
  const attempt = count(`${path}.attempt`, value.attempt);
  const window = parseWindow(`${path}.window`, value.window);
  if (state === 'open') {
    return {
      version: 1,
      state,
      openRemainingMs: duration(`${path}.openRemainingMs`, value.openRemainingMs),
      attempt,
      window,
    };
  }
  return { version: 1, state: state as CircuitState, attempt, window };
}
