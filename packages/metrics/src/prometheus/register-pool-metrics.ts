import { type Disposable, ERROR_REASONS, InvalidOptionError } from '@enhanced-pool/core';
import type {
  LatencySummary,
  PoolMetricsSource,
  PoolSnapshotForMetrics,
  PoolStatsForMetrics,
  QueryStatsForMetrics,
} from '../sources.js';
import { type AnyRegistry, createMetricSets, type RegistrableMetric } from './metric-sets.js';
import { emitOneHotState } from './one-hot-state.js';
import {
  type PrometheusPoolMetricsOptions,
  resolvePoolMetricsOptions,
} from './prometheus-options.js';
import { createScrapedHistogram } from './scraped-histogram.js';
import { createScrapedCounter, createScrapedGauge, type EmitSample } from './scraped-metric.js';
import type { ScrapedSources } from './scraped-sources.js';

/** `breakerState` values; `disabled` when the pool runs without a breaker. */
const POOL_BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated', 'disabled'] as const;

/**
 * Destroy reasons are the pool's closed set (`DESTROY_REASONS`), which this package cannot import
 * without depending on the pool. A key that does not look like one is skipped, so a label can
 * never carry free text.
 */
const REASON_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

const poolMetricSets = createMetricSets<PoolSnapshotForMetrics>({
  createMetrics: createPoolMetrics,
  duplicateLabel: (label) =>
    new InvalidOptionError(
      'name',
      label,
      'a pool name not yet registered on this registry (give each pool its own `name`)',
    ),
});

/**
 * Exposes a pool's gauges, counters and latency histograms on a prom-client registry, labelled
 * `pool="<name>"`. Nothing runs between scrapes: each scrape calls `pool.getStats()` once.
 * Several pools may share a registry; a second pool with the same name throws
 * `InvalidOptionError`. `dispose()` removes the pool's series (and the metric names with the
 * last pool).
 */
export function registerPoolMetrics(
  pool: PoolMetricsSource,
  registry: AnyRegistry,
  options?: PrometheusPoolMetricsOptions,
): Disposable {
  const { prefix } = resolvePoolMetricsOptions(options);
  return poolMetricSets.attach(registry, prefix, pool.name, () => snapshot(pool));
}

/** One read of the pool per scrape: its stats, and `pool.query()`'s figures when it has them. */
function snapshot(pool: PoolMetricsSource): PoolSnapshotForMetrics {
  const stats = pool.getStats();
  if (typeof pool.getQueryStats !== 'function') return stats;
  return { ...stats, query: pool.getQueryStats() };
}

/** `pool.query()` outcomes, the `outcome` label of `query_statements_total`. */
const QUERY_OUTCOMES = [
  ['succeeded', (query: QueryStatsForMetrics) => query.succeeded],
  ['failed', (query: QueryStatsForMetrics) => query.failed],
  ['refused', (query: QueryStatsForMetrics) => query.refused],
  ['aborted', (query: QueryStatsForMetrics) => query.aborted],
  ['timeout', (query: QueryStatsForMetrics) => query.timeouts],
  ['queue_full', (query: QueryStatsForMetrics) => query.exhausted],
] as const;

function createPoolMetrics(
  prefix: string,
  sources: ScrapedSources<PoolSnapshotForMetrics>,
): readonly RegistrableMetric[] {
  /** A metric with one series per pool; `fill` adds the labels beyond `pool`. */
  const each =
    <TLabel extends string = never>(
      fill: (
        emit: EmitSample<TLabel | 'pool'>,
        labels: { readonly pool: string },
        stats: PoolSnapshotForMetrics,
      ) => void,
    ) =>
    (emit: EmitSample<TLabel | 'pool'>): void => {
      for (const { label, snapshot } of sources.read()) fill(emit, { pool: label }, snapshot);
    };
  const gauge = (name: string, help: string, read: (stats: PoolStatsForMetrics) => number) =>
    createScrapedGauge({
      name: prefix + name,
      help,
      labelNames: ['pool'],
      collect: each((emit, labels, stats) => emit(labels, read(stats))),
    });
  const counter = (name: string, help: string, read: (stats: PoolStatsForMetrics) => number) =>
    createScrapedCounter({
      name: prefix + name,
      help,
      labelNames: ['pool'],
      collect: each((emit, labels, stats) => emit(labels, read(stats))),
    });
  /** A gauge of `pool.query()`'s figures; no series for a pool without them. */
  const queryGauge = (name: string, help: string, read: (query: QueryStatsForMetrics) => number) =>
    createScrapedGauge({
      name: prefix + name,
      help,
      labelNames: ['pool'],
      collect: each((emit, labels, stats) => {
        if (stats.query !== undefined) emit(labels, read(stats.query));
      }),
    });
  const histogram = (
    name: string,
    help: string,
    read: (stats: PoolStatsForMetrics) => LatencySummary,
  ) => ({
    name: prefix + name,
    metric: createScrapedHistogram<'pool'>({
      name: prefix + name,
      help,
      collect: (emit) => {
        for (const { label, snapshot } of sources.read()) emit({ pool: label }, read(snapshot));
      },
    }),
  });

  return [
    createScrapedGauge({
      name: `${prefix}connections`,
      help: 'Open connections the pool holds, by state: idle (ready to hand out) or active (leased, or being validated, reset or health-checked).',
      labelNames: ['pool', 'state'],
      collect: each<'state'>((emit, labels, stats) => {
        emit({ ...labels, state: 'idle' }, stats.idleConnections);
        emit({ ...labels, state: 'active' }, stats.activeConnections);
      }),
    }),
    gauge(
      'pending_acquires',
      'Acquires not yet settled: waiting for a connection, or being validated for.',
      (stats) => stats.pending,
    ),
    gauge(
      'connecting',
      'Connects in flight (they count toward the maximum size).',
      (stats) => stats.connecting,
    ),
    gauge('min_size', 'The configured minimum number of connections.', (stats) => stats.minSize),
    gauge(
      'max_size',
      'The configured maximum number of connections, connects in flight included.',
      (stats) => stats.maxSize,
    ),
    gauge(
      'target_size',
      'The number of connections the adaptive sizer aims for (the minimum size when adaptive sizing is off).',
      (stats) => stats.targetSize,
    ),
    createScrapedGauge({
      name: `${prefix}breaker_state`,
      help: "1 for the state of the pool's connection breaker (closed, open, half-open, isolated, or disabled when it has none), 0 for the others.",
      labelNames: ['pool', 'state'],
      collect: each<'state'>((emit, labels, stats) =>
        emitOneHotState(emit, labels, POOL_BREAKER_STATES, stats.breakerState),
      ),
    }),
    counter('acquired_total', 'Leases handed out.', (stats) => stats.acquired),
    counter('released_total', 'Leases ended by release() or destroy().', (stats) => stats.released),
    counter('connections_created_total', 'Connections opened.', (stats) => stats.created),
    createScrapedCounter({
      name: `${prefix}connections_destroyed_total`,
      help: 'Connections the pool closed, by reason (idle-timeout, lifetime, max-uses, broken, validation-failed, shrink, close, ...).',
      labelNames: ['pool', 'reason'],
      collect: each<'reason'>((emit, labels, stats) => {
        for (const [reason, count] of Object.entries(stats.destroyedByReason)) {
          if (REASON_PATTERN.test(reason)) emit({ ...labels, reason }, count);
        }
      }),
    }),
    createScrapedCounter({
      name: `${prefix}connect_errors_total`,
      help: "Failed connects, by the driver's classification of the error (connection, timeout, authentication, configuration, resource-exhausted, query, unknown).",
      labelNames: ['pool', 'reason'],
      collect: each<'reason'>((emit, labels, stats) => {
        for (const reason of ERROR_REASONS) {
          emit({ ...labels, reason }, stats.connectErrorsByReason[reason] ?? 0);
        }
      }),
    }),
    counter(
      'acquire_timeouts_total',
      'Acquires that hit their deadline.',
      (stats) => stats.timeouts,
    ),
    counter(
      'acquire_aborts_total',
      'Acquires abandoned through their AbortSignal.',
      (stats) => stats.aborted,
    ),
    createScrapedCounter({
      name: `${prefix}acquire_rejections_total`,
      help: 'Acquires refused at once, by reason: queue_full (maxWaiting callers already waiting) or breaker_open (no connection could be opened: the breaker was open, or a fatal connect error holds creation off).',
      labelNames: ['pool', 'reason'],
      collect: each<'reason'>((emit, labels, stats) => {
        emit({ ...labels, reason: 'queue_full' }, stats.exhausted);
        emit({ ...labels, reason: 'breaker_open' }, stats.circuitRejections);
      }),
    }),
    counter(
      'validation_failures_total',
      'Connection validations that failed or timed out.',
      (stats) => stats.validationFailures,
    ),
    counter(
      'leaks_total',
      'Leases reported by leak detection (held longer than leakDetectionMs).',
      (stats) => stats.leaks,
    ),
    queryGauge(
      'query_statements_in_flight',
      'pool.query() statements sent on shared connections and not yet answered.',
      (query) => query.inFlight,
    ),
    queryGauge(
      'query_statements_queued',
      'pool.query() statements waiting for room on a shared connection (the queue depth).',
      (query) => query.queued,
    ),
    queryGauge(
      'query_shared_connections',
      'Connections held for pool.query() now (part of the active connections).',
      (query) => query.sharedConnections,
    ),
    createScrapedCounter({
      name: `${prefix}query_statements_total`,
      help: 'pool.query() statements by outcome: succeeded, failed (the driver answered with an error), refused (session state, before sending), aborted (through their signal), timeout (no room within acquireTimeoutMs) or queue_full (maxWaiting).',
      labelNames: ['pool', 'outcome'],
      collect: each<'outcome'>((emit, labels, stats) => {
        const query = stats.query;
        if (query === undefined) return;
        for (const [outcome, read] of QUERY_OUTCOMES) emit({ ...labels, outcome }, read(query));
      }),
    }),
    histogram(
      'acquire_wait_seconds',
      'Seconds from acquire() to the lease (0 for an acquire served from idle at once).',
      (stats) => stats.acquireWaitSeconds,
    ),
    histogram(
      'connection_use_seconds',
      'Seconds a lease was held, from hand-out to release or destroy.',
      (stats) => stats.useSeconds,
    ),
    histogram(
      'connect_seconds',
      'Seconds each successful connect took.',
      (stats) => stats.connectSeconds,
    ),
  ];
}
