/*
 * What the exporters read, as structural shapes: a pool from `@enhanced-pool/pool` and a breaker
 * from `@enhanced-pool/circuit-breaker` satisfy them without this package depending on either,
 * so dependencies keep pointing inward and a breaker-only user installs no pool.
 */

/**
 * A latency distribution as `pool.getStats()` reports it: fixed buckets in seconds, cumulative
 * (as Prometheus reads them), with percentile estimates interpolated inside the bucket.
 */
export interface LatencySummary {
  /** Observations. */
  readonly count: number;
  /** Their sum, in seconds. */
  readonly sumSeconds: number;
  /** Estimated median, in seconds (0 when empty). */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** `count` observations at or below `le` seconds; the last bucket's `le` is `Infinity`. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

/** The fields of `pool.getStats()` the exporters read. */
export interface PoolStatsForMetrics {
  readonly name: string;
  readonly poolSize: number;
  readonly idleConnections: number;
  readonly activeConnections: number;
  readonly pending: number;
  readonly connecting: number;
  readonly minSize: number;
  readonly maxSize: number;
  readonly targetSize: number;
  readonly breakerState: string;
  readonly acquired: number;
  readonly released: number;
  readonly created: number;
  readonly destroyed: number;
  readonly destroyedByReason: Readonly<Record<string, number>>;
  readonly connectErrors: number;
  readonly connectErrorsByReason: Readonly<Record<string, number>>;
  readonly timeouts: number;
  readonly aborted: number;
  /** Acquires refused because `maxWaiting` callers were waiting (queue full). */
  readonly exhausted: number;
  /** Acquires refused because no connection could be opened (breaker open, fatal hold). */
  readonly circuitRejections: number;
  readonly validationFailures: number;
  readonly leaks: number;
  /** From the call to `acquire()` to the lease (0 for those served from idle at once). */
  readonly acquireWaitSeconds: LatencySummary;
  /** From the lease to its release. */
  readonly useSeconds: LatencySummary;
  /** Duration of each successful connect. */
  readonly connectSeconds: LatencySummary;
}

/** The fields of `pool.getQueryStats()` the exporters read (`pool.query()`'s own figures). */
export interface QueryStatsForMetrics {
  /** Statements sent and not yet answered. */
  readonly inFlight: number;
  /** Statements waiting for room on a shared connection. */
  readonly queued: number;
  /** Connections held for `pool.query()` now. */
  readonly sharedConnections: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly refused: number;
  readonly aborted: number;
  readonly timeouts: number;
  readonly exhausted: number;
}

/** What the Prometheus exporter reads per scrape: the pool's stats and, when it has them, its query figures. */
export interface PoolSnapshotForMetrics extends PoolStatsForMetrics {
  readonly query?: QueryStatsForMetrics;
}

/** The pool events the OpenTelemetry exporter records its histograms from. */
export interface PoolMetricsEvents {
  readonly acquired: { readonly waitMs: number };
  readonly released: { readonly holdMs: number };
  readonly connectionCreated: { readonly durationMs: number };
}

/** A pool, as the exporters see it. `createPool()`'s result is one. */
export interface PoolMetricsSource {
  readonly name: string;
  getStats(): PoolStatsForMetrics;
  /** `pool.query()`'s figures; a pool without it simply exports none of them. */
  getQueryStats?(): QueryStatsForMetrics;
  on<TEvent extends keyof PoolMetricsEvents & string>(
    event: TEvent,
    listener: (payload: PoolMetricsEvents[TEvent]) => void,
  ): { dispose(): void };
}

/** A circuit breaker, as the exporters see it. `createCircuitBreaker()`'s result is one. */
export interface BreakerMetricsSource {
  metrics(): {
    readonly name: string | undefined;
    readonly state: string;
    readonly calls: number;
    readonly successes: number;
    readonly failures: number;
    readonly ignored: number;
    readonly slowCalls: number;
    readonly rejections: number;
    readonly probeTimeouts: number;
    readonly failureRate: number;
  };
}
