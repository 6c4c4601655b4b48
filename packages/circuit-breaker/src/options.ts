import type { BreakerStateStore } from './breaker-state-store.js';
import { type Clock, systemClock } from './clock.js';
import { InvalidBreakerOptionError } from './errors.js';
import type { OpenDurationFunction } from './exponential-backoff.js';
import { type CircuitBreakerSnapshot, parseSnapshot } from './snapshot.js';

/**
 * Which recent calls decide whether the breaker opens.
 *
 * - `consecutive`: opens after `failures` failures in a row. No rates, no `minimumCalls`.
 * - `count`: the last `size` calls; opens on `failureRateThreshold` / `slowCallRateThreshold`
 *   once `minimumCalls` are in the window.
 * - `time`: the calls of the last `durationMs`, kept in `buckets` buckets; same rule as `count`.
 *   Suits uneven traffic: a burst of old successes doesn't hide a fresh outage.
 */
export type WindowOptions =
  | {
      readonly kind: 'consecutive';
      /**
       * Failures in a row that open the breaker.
       * @default 5
       */
      readonly failures?: number;
    }
  | {
      readonly kind: 'count';
      /**
       * How many of the most recent calls the window holds.
       * @default 20
       */
      readonly size?: number;
    }
  | {
      readonly kind: 'time';
      /**
       * How much recent time the window covers.
       * @default 60_000
       */
      readonly durationMs?: number;
      /**
       * Buckets the duration is split into: more buckets forget more smoothly, fewer cost less
       * on a read after a long idle period (at most one step per bucket).
       * @default 10
       */
      readonly buckets?: number;
    };

/** A window with every field filled in. */
export type ResolvedWindowOptions =
  | { readonly kind: 'consecutive'; readonly failures: number }
  | { readonly kind: 'count'; readonly size: number }
  | { readonly kind: 'time'; readonly durationMs: number; readonly buckets: number };

/**
 * What a call produced, as given to `classify`: `{ value }` when it returned, `{ error, aborted }`
 * when it threw. `aborted` is true when the caller's own `signal` had aborted by then.
 */
export type CallOutcome =
  | { readonly value: unknown }
  | { readonly error: unknown; readonly aborted: boolean };

/** How a call counts: toward closing, toward opening, or not at all. */
export type Classification = 'success' | 'failure' | 'ignore';

/**
 * The default `classify`: a value is a success; an error is a failure unless the caller aborted
 * the call (their decision says nothing about the dependency's health), which is ignored.
 */
export function defaultClassify(outcome: CallOutcome): Classification {
  if ('error' in outcome) return outcome.aborted ? 'ignore' : 'failure';
  return 'success';
}

/** Options of {@link createCircuitBreaker}. Every field is optional. */
export interface CircuitBreakerOptions {
  /**
   * Which recent calls are judged. See {@link WindowOptions}.
   * @default { kind: 'count', size: 20 }
   */
  readonly window?: WindowOptions;
  /**
   * Opens when failures / calls in the window reach this fraction (count and time windows).
   * @default 0.5
   */
  readonly failureRateThreshold?: number;
  /**
   * Calls the window must hold before a rate can open the breaker, so that one failure on a
   * fresh breaker doesn't open it. At most `window.size` for a count window.
   * @default 10 (or `window.size` when that is smaller)
   */
  readonly minimumCalls?: number;
  /**
   * A call taking longer than this is slow. Slow calls count toward `slowCallRateThreshold`,
   * and a slow half-open trial counts as a failed one. `Infinity` turns detection off (and
   * spares the two clock reads per call it needs).
   * @default Infinity
   */
  readonly slowCallDurationMs?: number;
  /**
   * Opens when slow calls / calls in the window reach this fraction (count and time windows;
   * a consecutive window opens after `failures` slow calls in a row instead).
   * @default 1
   */
  readonly slowCallRateThreshold?: number;
  /**
   * How long the breaker stays open before it lets trial calls through: milliseconds, or a
   * function of the attempt (1 for the first opening, +1 for each failed half-open) such as
   * {@link exponentialBackoff}. A function that throws or returns something other than a finite
   * number ≥ 0 gets 10 000 ms, and its error is re-thrown on a microtask.
   * @default 10_000
   */
  readonly openDurationMs?: number | OpenDurationFunction;
  /**
   * Trial calls admitted at once when half-open, and successes needed to close. Further callers
   * are rejected at once.
   * @default 1
   */
  readonly halfOpenPermits?: number;
  /**
   * A trial call that hasn't settled after this long counts as a failure and reopens the
   * breaker, so it can never be stuck half-open. The call itself is not cancelled (its later
   * outcome is ignored).
   * @default 30_000
   */
  readonly halfOpenProbeTimeoutMs?: number;
  /**
   * Decides whether an outcome is a `'success'`, a `'failure'` or to `'ignore'` (e.g. a
   * constraint violation says nothing about the database being reachable). Also applied to
   * `permit.failure(error)`. A classify that throws falls back to the default, and its error
   * is re-thrown on a microtask.
   * @default {@link defaultClassify}: values succeed, caller aborts are ignored, errors fail
   */
  readonly classify?: (outcome: CallOutcome) => Classification;
  /**
   * Source of time. Any `{ now, setTimeout, clearTimeout }`: core's `systemClock`, or the fake
   * clock of `@enhanced-pool/testing`.
   * @default the system clock (`performance.now()` and global timers, looked up at call time)
   */
  readonly clock?: Clock;
  /**
   * Source of randomness in [0, 1), passed to an `openDurationMs` function (for jitter).
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * A name for error messages and events, e.g. the database host.
   * @default undefined
   */
  readonly name?: string;
  /**
   * State to start from: a `breaker.snapshot()` (possibly from another process, via
   * `JSON.stringify`/`JSON.parse`). Validated field by field.
   * @default undefined (closed, empty window)
   */
  readonly initialState?: CircuitBreakerSnapshot;
  /**
   * Shares state with the breakers of the same `name` in other processes (for example
   * `createRedisBreakerStore()` from `@enhanced-pool/breaker-store-redis`): a remote opening
   * makes this breaker refuse calls for the rest of that open period, and only one instance at
   * a time runs half-open trials. Calls never wait for the store; when it is slow or unreachable
   * the breaker works on its local state alone. Requires `name`.
   * @default undefined (local state only)
   */
  readonly store?: BreakerStateStore;
  /**
   * How long the breaker waits for one store operation before it treats the store as
   * unreachable and goes on with its local state (measured on `clock`). While half-open, the
   * first call of each instance is refused until the store has said who probes, at most this
   * long.
   * @default 250
   */
  readonly storeTimeoutMs?: number;
}

/** {@link CircuitBreakerOptions} with defaults applied and every value validated. */
export interface ResolvedCircuitBreakerOptions {
  readonly window: ResolvedWindowOptions;
  readonly failureRateThreshold: number;
  readonly minimumCalls: number;
  readonly slowCallDurationMs: number;
  readonly slowCallRateThreshold: number;
  readonly openDurationMs: number | OpenDurationFunction;
  readonly halfOpenPermits: number;
  readonly halfOpenProbeTimeoutMs: number;
  /** `undefined` when the default classification applies (the breaker then skips the call). */
  readonly classify: ((outcome: CallOutcome) => Classification) | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly name: string | undefined;
  readonly initialState: CircuitBreakerSnapshot | undefined;
  readonly store: BreakerStateStore | undefined;
  readonly storeTimeoutMs: number;
}

/** Looks `Math.random` up per call, so a test that stubs it after construction still works. */
const defaultRandom = (): number => Math.random();

/** Node clamps longer timer delays to 1 ms; a probe deadline must not wrap around. */
const MAX_TIMER_MS = 2_147_483_647;

interface Range {
  readonly min?: number;
  /** `min` itself is not allowed. */
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly integer?: boolean;
  readonly allowInfinity?: boolean;
}

function describeRange(range: Range): string {
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`${range.minExclusive ? '>' : '≥'} ${range.min}`);
  if (range.max !== undefined) parts.push(`≤ ${range.max}`);
  const bounds = parts.length > 0 ? ` ${parts.join(' and ')}` : '';
  return `${range.integer ? 'an integer' : 'a number'}${bounds}${range.allowInfinity ? ' (or Infinity)' : ''}`;
}

function numberOption(option: string, value: unknown, fallback: number, range: Range): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    (Number.isFinite(value) || (range.allowInfinity === true && value === Infinity)) &&
    (!range.integer || !Number.isFinite(value) || Number.isInteger(value)) &&
    (range.min === undefined || (range.minExclusive ? value > range.min : value >= range.min)) &&
    (range.max === undefined || value <= range.max);
  if (!ok) throw new InvalidBreakerOptionError(option, value, describeRange(range));
  return value as number;
}

function functionOption<T>(option: string, value: unknown, allowed: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new InvalidBreakerOptionError(option, value, allowed);
  return value as T;
}

function resolveWindow(value: unknown): ResolvedWindowOptions {
  if (value === undefined) return { kind: 'count', size: 20 };
  if (typeof value !== 'object' || value === null) {
    throw new InvalidBreakerOptionError(
      'window',
      value,
      "{ kind: 'consecutive' | 'count' | 'time', … }",
    );
  }
  const window = value as Record<string, unknown>;
  switch (window.kind) {
    case 'consecutive':
      return {
        kind: 'consecutive',
        failures: numberOption('window.failures', window.failures, 5, { min: 1, integer: true }),
      };
    case 'count':
      return {
        kind: 'count',
        size: numberOption('window.size', window.size, 20, {
          min: 1,
          max: 1_000_000,
          integer: true,
        }),
      };
    case 'time': {
      const buckets = numberOption('window.buckets', window.buckets, 10, {
        min: 1,
        max: 10_000,
        integer: true,
      });
      const durationMs = numberOption('window.durationMs', window.durationMs, 60_000, {
        min: buckets,
      });
      return { kind: 'time', durationMs, buckets };
    }
    default:
      throw new InvalidBreakerOptionError(
        'window.kind',
        window.kind,
        '"consecutive", "count" or "time"',
      );
  }
}

/**
 * Applies the defaults to {@link CircuitBreakerOptions} and validates every value once, at
 * construction. Throws {@link InvalidBreakerOptionError} naming the option, the value and the
 * allowed range (e.g. `Invalid option "failureRateThreshold": got 2, expected a number > 0 and
 * ≤ 1`).
 */
export function resolveCircuitBreakerOptions(
  options: CircuitBreakerOptions = {},
): ResolvedCircuitBreakerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidBreakerOptionError('options', options, 'an object');
  }
  const window = resolveWindow(options.window);
  const maximumCalls = window.kind === 'count' ? window.size : Number.POSITIVE_INFINITY;
  const minimumCalls = numberOption(
    'minimumCalls',
    options.minimumCalls,
    Math.min(10, maximumCalls),
    window.kind === 'count'
      ? { min: 1, max: window.size, integer: true }
      : { min: 1, integer: true },
  );
  const openDurationMs =
    typeof options.openDurationMs === 'function'
      ? options.openDurationMs
      : numberOption('openDurationMs', options.openDurationMs, 10_000, { min: 0 });
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new InvalidBreakerOptionError(
      'clock',
      clock,
      'an object with now, setTimeout and clearTimeout',
    );
  }
  const name = options.name;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new InvalidBreakerOptionError('name', name, 'a non-empty string');
  }
  const store = options.store;
  if (store !== undefined) {
    const methods = ['publish', 'read', 'subscribe', 'acquireProbeLease', 'releaseProbeLease'];
    if (
      typeof store !== 'object' ||
      store === null ||
      methods.some(
        (method) => typeof (store as unknown as Record<string, unknown>)[method] !== 'function',
      )
    ) {
      throw new InvalidBreakerOptionError('store', store, `an object with ${methods.join(', ')}`);
    }
    if (name === undefined) {
      throw new InvalidBreakerOptionError(
        'name',
        name,
        'a non-empty string when `store` is set (breakers share state by name)',
      );
    }
  }
  const classify = functionOption<ResolvedCircuitBreakerOptions['classify']>(
    'classify',
    options.classify,
    "a function returning 'success', 'failure' or 'ignore'",
  );
  return {
    window,
    failureRateThreshold: numberOption('failureRateThreshold', options.failureRateThreshold, 0.5, {
      min: 0,
      minExclusive: true,
      max: 1,
    }),
    minimumCalls,
    slowCallDurationMs: numberOption('slowCallDurationMs', options.slowCallDurationMs, Infinity, {
      min: 0,
      allowInfinity: true,
    }),
    slowCallRateThreshold: numberOption('slowCallRateThreshold', options.slowCallRateThreshold, 1, {
      min: 0,
      minExclusive: true,
      max: 1,
    }),
    openDurationMs,
    halfOpenPermits: numberOption('halfOpenPermits', options.halfOpenPermits, 1, {
      min: 1,
      max: 1_000,
      integer: true,
    }),
    halfOpenProbeTimeoutMs: numberOption(
      'halfOpenProbeTimeoutMs',
      options.halfOpenProbeTimeoutMs,
      30_000,
      { min: 1, max: MAX_TIMER_MS },
    ),
    classify,
    clock,
    random:
      functionOption<() => number>('random', options.random, 'a function returning [0, 1)') ??
      defaultRandom,
    name,
    initialState:
      options.initialState === undefined ? undefined : parseSnapshot(options.initialState),
    store,
    storeTimeoutMs: numberOption('storeTimeoutMs', options.storeTimeoutMs, 250, {
      min: 1,
      max: MAX_TIMER_MS,
    }),
  };
}
