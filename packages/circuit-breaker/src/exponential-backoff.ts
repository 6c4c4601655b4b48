import { InvalidBreakerOptionError } from './errors.js';

/**
 * An open duration that depends on how many times in a row the breaker opened: `attempt` is 1
 * for the first opening after the breaker was closed, 2 when the first trial failed, and so on.
 * `random` is the breaker's injected random source (`options.random`), so a jittered duration
 * is deterministic in tests.
 */
export type OpenDurationFunction = (attempt: number, random: () => number) => number;

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /**
   * The open duration of the first opening (before jitter); each further attempt doubles it.
   * @default 1_000
   */
  readonly baseMs?: number;
  /**
   * The longest open duration, however many attempts failed.
   * @default 30_000
   */
  readonly capMs?: number;
  /**
   * `'full'`: a uniformly random duration between `minMs` and the exponential value (the
   * "full jitter" of the AWS architecture blog), so that many processes whose breakers opened
   * together don't all probe the database at the same instant. `'none'`: the exponential value.
   * @default 'full'
   */
  readonly jitter?: 'full' | 'none';
  /**
   * A floor, so that full jitter never yields an open duration of 0 (which would let the next
   * call through at once and turn the breaker into a no-op for that attempt).
   * @default 1
   */
  readonly minMs?: number;
  /**
   * Random source returning numbers in [0, 1). When omitted, the breaker's own `random` option
   * is used (which defaults to `Math.random`).
   * @default the breaker's `random`
   */
  readonly random?: () => number;
}

function positive(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new InvalidBreakerOptionError(option, value, `a finite number ≥ ${min}`);
  }
  return value;
}

/**
 * Exponential backoff for `openDurationMs`: attempt `n` waits
 * `random(minMs, min(capMs, baseMs · 2^(n-1)))` with full jitter, or exactly
 * `max(minMs, min(capMs, baseMs · 2^(n-1)))` without. Validates its options at once.
 *
 * @example
 * createCircuitBreaker({ openDurationMs: exponentialBackoff({ baseMs: 500, capMs: 30_000 }) });
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): OpenDurationFunction {
  const baseMs = positive('baseMs', options.baseMs, 1_000, 1);
  const capMs = positive('capMs', options.capMs, 30_000, baseMs);
  const minMs = positive('minMs', options.minMs, 1, 0);
  if (minMs > capMs) {
    throw new InvalidBreakerOptionError('minMs', minMs, `a finite number ≤ capMs (${capMs})`);
  }
  const jitter = options.jitter ?? 'full';
  if (jitter !== 'full' && jitter !== 'none') {
    throw new InvalidBreakerOptionError('jitter', jitter, '"full" or "none"');
  }
  const ownRandom = options.random;
  if (ownRandom !== undefined && typeof ownRandom !== 'function') {
    throw new InvalidBreakerOptionError('random', ownRandom, 'a function returning [0, 1)');
  }
  return (attempt, breakerRandom) => {
    const exponent = Math.max(0, attempt - 1);
    const ceiling = Math.min(capMs, baseMs * 2 ** exponent);
    if (jitter === 'none') return Math.max(minMs, ceiling);
    const random = ownRandom ?? breakerRandom ?? Math.random;
    return minMs + random() * Math.max(0, ceiling - minMs);
  };
}
