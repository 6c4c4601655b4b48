import { type Disposable, redactSecrets, toDisposable } from '@enhanced-pool/core';
import {
  type Attributes,
  type BatchObservableCallback,
  type Meter,
  type Observable,
  ValueType,
} from '@opentelemetry/api';
import type { PoolMetricsSource } from '../sources.js';
import { LATENCY_BUCKETS_SECONDS } from './latency-buckets.js';
import {
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  DB_CLIENT_CONNECTION_STATE_VALUE_IDLE,
  DB_CLIENT_CONNECTION_STATE_VALUE_USED,
  METRIC_DB_CLIENT_CONNECTION_COUNT,
  METRIC_DB_CLIENT_CONNECTION_CREATE_TIME,
  METRIC_DB_CLIENT_CONNECTION_IDLE_MAX,
  METRIC_DB_CLIENT_CONNECTION_IDLE_MIN,
  METRIC_DB_CLIENT_CONNECTION_LIMIT,
  METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS,
  METRIC_DB_CLIENT_CONNECTION_TIMEOUTS,
  METRIC_DB_CLIENT_CONNECTION_USE_TIME,
  METRIC_DB_CLIENT_CONNECTION_WAIT_TIME,
} from './semconv.js';

const CONNECTION = '{connection}';
const STATEMENT = '{statement}';

/**
 * `pool.query()`'s figures have no semantic convention: they are named under the library's own
 * namespace, beside the pool name attribute the conventions define.
 */
export const METRIC_QUERY_IN_FLIGHT = 'enhanced_pool.query.in_flight';
export const METRIC_QUERY_QUEUED = 'enhanced_pool.query.queued';
export const METRIC_QUERY_SHARED_CONNECTIONS = 'enhanced_pool.query.shared_connections';

/**
 * Reports a pool through `meter` under the OpenTelemetry database-client connection-pool
 * conventions (`db.client.connection.*`, every figure tagged `db.client.connection.pool.name`).
 *
 * The gauges and the timeout counter are observable: they cost nothing until the SDK collects,
 * and one batch callback reads `pool.getStats()` once per collection, so every figure of one
 * export comes from the same O(1) snapshot. The three latency histograms are recorded from the
 * pool's `connectionCreated`, `acquired` and `released` events (milliseconds converted to
 * seconds, as the conventions ask), because a histogram of each observation can't be rebuilt
 * from a summary at collection time; the pool builds those payloads only while someone listens.
 *
 * Call it once per pool; pools sharing a meter are told apart by their name. The name is read
 * once, with any credentials redacted (a pool named after its connection string leaks nothing).
 *
 * @returns a handle whose `dispose()` removes the callback and the event subscriptions; the
 * instruments stay registered on the meter (OpenTelemetry can't unregister one) but receive
 * nothing more from this pool.
 */
export function instrumentPool(pool: PoolMetricsSource, meter: Meter): Disposable {
  const poolAttributes: Attributes = {
    [ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: redactSecrets(pool.name),
  };
  const idleAttributes: Attributes = {
    ...poolAttributes,
    [ATTR_DB_CLIENT_CONNECTION_STATE]: DB_CLIENT_CONNECTION_STATE_VALUE_IDLE,
  };
  const usedAttributes: Attributes = {
    ...poolAttributes,
    [ATTR_DB_CLIENT_CONNECTION_STATE]: DB_CLIENT_CONNECTION_STATE_VALUE_USED,
  };

  const count = meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_COUNT, {
    description:
      'The number of connections that are currently in state described by the `state` attribute.',
    unit: CONNECTION,
    valueType: ValueType.INT,
  });
  // Any open connection may sit idle, so the most idle connections allowed is the pool's limit.
  const idleMax = meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_IDLE_MAX, {
    description: 'The maximum number of idle open connections allowed.',
    unit: CONNECTION,
    valueType: ValueType.INT,
  });
  const idleMin = meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_IDLE_MIN, {
    description: 'The minimum number of idle open connections allowed.',
    unit: CONNECTION,
    valueType: ValueType.INT,
  });
  const limit = meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_LIMIT, {
    description: 'The maximum number of open connections allowed.',
    unit: CONNECTION,
    valueType: ValueType.INT,
  });
  const pending = meter.createObservableUpDownCounter(
    METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    {
      description: 'The number of current pending requests for an open connection.',
      unit: '{request}',
      valueType: ValueType.INT,
    },
  );
  const timeouts = meter.createObservableCounter(METRIC_DB_CLIENT_CONNECTION_TIMEOUTS, {
    description:
      'The number of connection timeouts that have occurred trying to obtain a connection from the pool.',
    unit: '{timeout}',
    valueType: ValueType.INT,
  });
  const observables: Observable[] = [count, idleMax, idleMin, limit, pending, timeouts];
  const queryStats =
    typeof pool.getQueryStats === 'function' ? pool.getQueryStats.bind(pool) : undefined;
  const queryGauge = (name: string, description: string, unit: string) => {
    const instrument = meter.createObservableUpDownCounter(name, {
      description,
      unit,
      valueType: ValueType.INT,
    });
    observables.push(instrument);
    return instrument;
  };
  const query =
    queryStats === undefined
      ? undefined
      : {
          inFlight: queryGauge(
            METRIC_QUERY_IN_FLIGHT,
            'pool.query() statements sent on shared connections and not yet answered.',
            STATEMENT,
          ),
          queued: queryGauge(
            METRIC_QUERY_QUEUED,
            'pool.query() statements waiting for room on a shared connection.',
            STATEMENT,
          ),
          shared: queryGauge(
            METRIC_QUERY_SHARED_CONNECTIONS,
            'Connections held for pool.query() now (part of the used connections).',
            CONNECTION,
          ),
        };

  const observeStats: BatchObservableCallback = (result) => {
    if (query !== undefined && queryStats !== undefined) {
      const figures = queryStats();
      result.observe(query.inFlight, figures.inFlight, poolAttributes);
      result.observe(query.queued, figures.queued, poolAttributes);
      result.observe(query.shared, figures.sharedConnections, poolAttributes);
    }
    const stats = pool.getStats();
    result.observe(count, stats.idleConnections, idleAttributes);
    result.observe(count, stats.activeConnections, usedAttributes);
    result.observe(idleMax, stats.maxSize, poolAttributes);
    result.observe(idleMin, stats.minSize, poolAttributes);
    result.observe(limit, stats.maxSize, poolAttributes);
    result.observe(pending, stats.pending, poolAttributes);
    result.observe(timeouts, stats.timeouts, poolAttributes);
  };
  meter.addBatchObservableCallback(observeStats, observables);

  const latency = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_SECONDS] },
    });
  const createTime = latency(
    METRIC_DB_CLIENT_CONNECTION_CREATE_TIME,
    'The time it took to create a new connection.',
  );
  const waitTime = latency(
    METRIC_DB_CLIENT_CONNECTION_WAIT_TIME,
    'The time it took to obtain an open connection from the pool.',
  );
  const useTime = latency(
    METRIC_DB_CLIENT_CONNECTION_USE_TIME,
    'The time between borrowing a connection and returning it to the pool.',
  );

  const subscriptions: readonly { dispose(): void }[] = [
    pool.on('connectionCreated', (event) => {
      createTime.record(event.durationMs / 1_000, poolAttributes);
    }),
    pool.on('acquired', (event) => {
      waitTime.record(event.waitMs / 1_000, poolAttributes);
    }),
    pool.on('released', (event) => {
      useTime.record(event.holdMs / 1_000, poolAttributes);
    }),
  ];

  return toDisposable(() => {
    meter.removeBatchObservableCallback(observeStats, observables);
    for (const subscription of subscriptions) subscription.dispose();
  });
}
