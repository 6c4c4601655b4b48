import type { Disposable } from '@enhanced-pool/core';
import type { Pool, PoolStats } from '@enhanced-pool/pool';

/**
 * The health report as the dashboard reads it. A structural subset of the health checker's
 * `HealthReport`, so the app needs no dependency on that package and still runs on a pool
 * build that has no health checker.
 */
export interface HealthReportView {
  readonly healthy: boolean;
  readonly reasons: readonly string[];
  readonly startedAt: number;
  readonly durationMs: number;
  readonly checked: number;
  readonly keepalives?: number;
  readonly failed: number;
  readonly broken?: number;
  readonly expired: number;
  readonly replaced: number;
  readonly breakerState?: string | undefined;
  readonly size: number;
  readonly minSize: number;
  readonly lastError?: { readonly message: string; readonly reason: string } | undefined;
}

/** The connection breaker's `stateChange` payload, as far as the app reads it. */
export interface BreakerStateChange {
  readonly from: string;
  readonly to: string;
  readonly reason?: string;
  readonly openDurationMs?: number;
}

interface BreakerSurface {
  getState(): string;
  on?(event: 'stateChange', listener: (change: BreakerStateChange) => void): Disposable;
}

/**
 * What issue 5 adds to the pool (breaker-guarded creation, health checks, probes), all optional
 * here: the app feature-detects them, so it runs on a pool build that has them or not.
 */
interface ResilienceSurface {
  readonly connCircuitBreaker?: BreakerSurface | undefined;
  runHealthCheck?(options?: { signal?: AbortSignal }): Promise<HealthReportView>;
  lastHealthReport?(): HealthReportView | undefined;
  isLive?(): boolean;
  isReady?(): boolean;
  readiness?(): { readonly ready: boolean; readonly reasons: readonly string[] };
}

/** Any pool the app can show; the connection type does not matter here. */
// biome-ignore lint/suspicious/noExplicitAny: the view reads no connection, any pool fits.
export type AnyPool = Pool<any>;

/** Which of the pool's optional capabilities this build has. */
export interface PoolFeatures {
  /** `pool.connCircuitBreaker` exists (it may still be turned off: state `disabled`). */
  readonly circuitBreaker: boolean;
  /** `pool.runHealthCheck()` and `pool.lastHealthReport()`. */
  readonly healthCheck: boolean;
  /** `pool.isLive()` and `pool.isReady()`. */
  readonly probes: boolean;
  /** `getStats().targetSize`, set by the adaptive sizer. */
  readonly adaptiveSizing: boolean;
}

/** Liveness and readiness with reasons, whether the pool computes them or the app does. */
export interface ProbeView {
  readonly live: boolean;
  readonly ready: boolean;
  readonly reasons: readonly string[];
  /** `pool` when the pool answered, `fallback` when the app derived it from `getStats()`. */
  readonly source: 'pool' | 'fallback';
}

const surface = (pool: AnyPool): ResilienceSurface => pool as unknown as ResilienceSurface;

/** Detects what this pool build offers. */
export function poolFeatures(pool: AnyPool): PoolFeatures {
  const extra = surface(pool);
  const stats = pool.getStats() as PoolStats & { targetSize?: unknown };
  return {
    circuitBreaker: 'connCircuitBreaker' in pool,
    healthCheck:
      typeof extra.runHealthCheck === 'function' && typeof extra.lastHealthReport === 'function',
    probes: typeof extra.isLive === 'function' && typeof extra.isReady === 'function',
    adaptiveSizing: typeof stats.targetSize === 'number',
  };
}

/**
 * The breaker's state: `closed`, `open`, `half-open`, `isolated`; `disabled` when the pool was
 * built with `circuitBreaker: false`; `unavailable` on a pool build without a breaker.
 */
export function breakerState(pool: AnyPool): string {
  if (!('connCircuitBreaker' in pool)) return 'unavailable';
  const breaker = surface(pool).connCircuitBreaker;
  return breaker === undefined ? 'disabled' : breaker.getState();
}

/** Subscribes to the breaker's state changes; `undefined` when there is no breaker. */
export function onBreakerStateChange(
  pool: AnyPool,
  listener: (change: BreakerStateChange) => void,
): Disposable | undefined {
  const breaker = surface(pool).connCircuitBreaker;
  return typeof breaker?.on === 'function' ? breaker.on('stateChange', listener) : undefined;
}

/** The last health report, `undefined` before the first check or without a health checker. */
export function lastHealthReport(pool: AnyPool): HealthReportView | undefined {
  const extra = surface(pool);
  return typeof extra.lastHealthReport === 'function' ? extra.lastHealthReport() : undefined;
}

/**
 * Runs a health check now. Resolves `undefined` on a pool build without a health checker, so
 * the caller can say so instead of failing.
 */
export function runHealthCheck(
  pool: AnyPool,
  options: { signal?: AbortSignal } = {},
): Promise<HealthReportView | undefined> {
  const extra = surface(pool);
  if (typeof extra.runHealthCheck !== 'function') return Promise.resolve(undefined);
  return extra.runHealthCheck.call(pool, options);
}

/**
 * `/livez` and `/readyz`. The pool's own `isLive()` / `isReady()` when it has them; otherwise
 * live = not closed, ready = open (the same rules minus the breaker a pool without one lacks).
 */
export function probePool(pool: AnyPool): ProbeView {
  const extra = surface(pool);
  if (typeof extra.isLive === 'function' && typeof extra.isReady === 'function') {
    const live = extra.isLive();
    if (typeof extra.readiness === 'function') {
      const readiness = extra.readiness();
      return { live, ready: readiness.ready, reasons: readiness.reasons, source: 'pool' };
    }
    const ready = extra.isReady();
    return { live, ready, reasons: ready ? [] : ['the pool is not ready'], source: 'pool' };
  }
  const { state } = pool.getStats();
  const live = state === 'open';
  return {
    live,
    ready: live,
    reasons: live ? [] : [`pool is ${state}`],
    source: 'fallback',
  };
}

/**
 * Subscribes to a pool event that only some pool builds emit (`healthCheck`, `resized`). On a
 * build without it the listener is simply never called.
 */
export function onOptionalPoolEvent<TPayload>(
  pool: AnyPool,
  event: string,
  listener: (payload: TPayload) => void,
): Disposable {
  const on = pool.on as unknown as (
    name: string,
    callback: (payload: TPayload) => void,
  ) => Disposable;
  return on.call(pool, event, listener);
}
