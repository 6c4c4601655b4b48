import { InvalidOptionError } from '@enhanced-pool/core';
import { createPool } from '@enhanced-pool/pool';
import { createFakeClock, createFakeDriver } from '@enhanced-pool/testing';
import { Gauge, type OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import type { LatencySummary, PoolMetricsSource, PoolStatsForMetrics } from '../sources.js';
import { registerPoolMetrics } from './index.js';

/** Cumulative buckets `[le, count]`; `count` is the last bucket's. */
function latency(
  buckets: readonly (readonly [number, number])[],
  sumSeconds: number,
): LatencySummary {
  const count = buckets.at(-1)?.[1] ?? 0;
  return {
    count,
    sumSeconds,
    p50: 0,
    p95: 0,
    p99: 0,
    buckets: buckets.map(([le, bucketCount]) => ({ le, count: bucketCount })),
  };
}

/** Figures that differ from each other, so a field read into the wrong series shows. */
function scriptedStats(
  name: string,
  overrides: Partial<PoolStatsForMetrics> = {},
): PoolStatsForMetrics {
  return {
    name,
    poolSize: 5,
    idleConnections: 3,
    activeConnections: 2,
    pending: 4,
    connecting: 1,
    minSize: 2,
    maxSize: 10,
    targetSize: 6,
    breakerState: 'half-open',
    acquired: 120,
    released: 117,
    created: 9,
    destroyed: 4,
    destroyedByReason: { 'idle-timeout': 3, broken: 1, lifetime: 0 },
    connectErrors: 5,
    connectErrorsByReason: { connection: 4, timeout: 1 },
    timeouts: 7,
    aborted: 8,
    exhausted: 11,
    circuitRejections: 12,
    validationFailures: 13,
    leaks: 14,
    acquireWaitSeconds: latency(
      [
        [0.001, 50],
        [0.01, 90],
        [0.1, 118],
        [Number.POSITIVE_INFINITY, 120],
      ],
      1.25,
    ),
    useSeconds: latency(
      [
        [0.005, 100],
        [Number.POSITIVE_INFINITY, 117],
      ],
      3.5,
    ),
    connectSeconds: latency(
      [
        [0.025, 8],
        [Number.POSITIVE_INFINITY, 9],
      ],
      0.125,
    ),
    ...overrides,
  };
}

/** A pool as the exporter sees it, whose figures the test scripts. */
function scriptedPool(name: string, overrides: Partial<PoolStatsForMetrics> = {}) {
  let stats = scriptedStats(name, overrides);
  const getStats = vi.fn(() => stats);
  const pool: PoolMetricsSource = {
    name,
    getStats,
    on: () => ({ dispose() {} }),
  };
  const update = (changes: Partial<PoolStatsForMetrics>): void => {
    stats = { ...stats, ...changes };
  };
  return { pool, getStats, update };
}

function linesOf(text: string): string[] {
  return text.split('\n');
}

describe('registerPoolMetrics on a scripted pool', () => {
  it('renders every gauge and counter with its # TYPE and the scripted values', async () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    const lines = linesOf(await registry.metrics());

    const expected = [
      '# TYPE enhanced_pool_connections gauge',
      'enhanced_pool_connections{pool="orders",state="idle"} 3',
      'enhanced_pool_connections{pool="orders",state="active"} 2',
      '# TYPE enhanced_pool_pending_acquires gauge',
      'enhanced_pool_pending_acquires{pool="orders"} 4',
      '# TYPE enhanced_pool_connecting gauge',
      'enhanced_pool_connecting{pool="orders"} 1',
      '# TYPE enhanced_pool_min_size gauge',
      'enhanced_pool_min_size{pool="orders"} 2',
      '# TYPE enhanced_pool_max_size gauge',
      'enhanced_pool_max_size{pool="orders"} 10',
      '# TYPE enhanced_pool_target_size gauge',
      'enhanced_pool_target_size{pool="orders"} 6',
      '# TYPE enhanced_pool_breaker_state gauge',
      'enhanced_pool_breaker_state{pool="orders",state="closed"} 0',
      'enhanced_pool_breaker_state{pool="orders",state="open"} 0',
      'enhanced_pool_breaker_state{pool="orders",state="half-open"} 1',
      'enhanced_pool_breaker_state{pool="orders",state="isolated"} 0',
      'enhanced_pool_breaker_state{pool="orders",state="disabled"} 0',
      '# TYPE enhanced_pool_acquired_total counter',
      'enhanced_pool_acquired_total{pool="orders"} 120',
      '# TYPE enhanced_pool_released_total counter',
      'enhanced_pool_released_total{pool="orders"} 117',
      '# TYPE enhanced_pool_connections_created_total counter',
      'enhanced_pool_connections_created_total{pool="orders"} 9',
      '# TYPE enhanced_pool_connections_destroyed_total counter',
      'enhanced_pool_connections_destroyed_total{pool="orders",reason="idle-timeout"} 3',
      'enhanced_pool_connections_destroyed_total{pool="orders",reason="broken"} 1',
      'enhanced_pool_connections_destroyed_total{pool="orders",reason="lifetime"} 0',
      '# TYPE enhanced_pool_connect_errors_total counter',
      'enhanced_pool_connect_errors_total{pool="orders",reason="connection"} 4',
      'enhanced_pool_connect_errors_total{pool="orders",reason="timeout"} 1',
      'enhanced_pool_connect_errors_total{pool="orders",reason="authentication"} 0',
      '# TYPE enhanced_pool_acquire_timeouts_total counter',
      'enhanced_pool_acquire_timeouts_total{pool="orders"} 7',
      '# TYPE enhanced_pool_acquire_aborts_total counter',
      'enhanced_pool_acquire_aborts_total{pool="orders"} 8',
      '# TYPE enhanced_pool_acquire_rejections_total counter',
      'enhanced_pool_acquire_rejections_total{pool="orders",reason="queue_full"} 11',
      'enhanced_pool_acquire_rejections_total{pool="orders",reason="breaker_open"} 12',
      '# TYPE enhanced_pool_validation_failures_total counter',
      'enhanced_pool_validation_failures_total{pool="orders"} 13',
      '# TYPE enhanced_pool_leaks_total counter',
      'enhanced_pool_leaks_total{pool="orders"} 14',
      '# TYPE enhanced_pool_acquire_wait_seconds histogram',
      '# TYPE enhanced_pool_connection_use_seconds histogram',
      '# TYPE enhanced_pool_connect_seconds histogram',
    ];
    for (const line of expected) expect(lines).toContain(line);
    // Every metric says what it counts.
    const helps = lines.filter((line) => line.startsWith('# HELP '));
    expect(helps).toHaveLength(lines.filter((line) => line.startsWith('# TYPE ')).length);
    for (const help of helps) expect(help).toMatch(/^# HELP enhanced_pool_\w+ \S.{10,}/);
  });

  it('renders a histogram from the cumulative buckets, the last one as +Inf', async () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    const text = await registry.getSingleMetricAsString('enhanced_pool_acquire_wait_seconds');
    expect(linesOf(text).slice(1)).toEqual([
      '# TYPE enhanced_pool_acquire_wait_seconds histogram',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.001"} 50',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.01"} 90',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.1"} 118',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="+Inf"} 120',
      'enhanced_pool_acquire_wait_seconds_sum{pool="orders"} 1.25',
      'enhanced_pool_acquire_wait_seconds_count{pool="orders"} 120',
    ]);
    const use = linesOf(
      await registry.getSingleMetricAsString('enhanced_pool_connection_use_seconds'),
    );
    expect(use).toContain(
      'enhanced_pool_connection_use_seconds_bucket{pool="orders",le="0.005"} 100',
    );
    expect(use).toContain('enhanced_pool_connection_use_seconds_sum{pool="orders"} 3.5');
    const connect = linesOf(
      await registry.getSingleMetricAsString('enhanced_pool_connect_seconds'),
    );
    expect(connect).toContain('enhanced_pool_connect_seconds_bucket{pool="orders",le="+Inf"} 9');
    expect(connect).toContain('enhanced_pool_connect_seconds_count{pool="orders"} 9');
  });

  it('adds the +Inf bucket when the summary has none', async () => {
    const registry = new Registry();
    const summary = latency([[0.5, 3]], 0.9);
    const { pool } = scriptedPool('orders', {
      connectSeconds: { ...summary, count: 4 },
    });
    registerPoolMetrics(pool, registry);
    const text = linesOf(await registry.getSingleMetricAsString('enhanced_pool_connect_seconds'));
    expect(text).toContain('enhanced_pool_connect_seconds_bucket{pool="orders",le="0.5"} 3');
    expect(text).toContain('enhanced_pool_connect_seconds_bucket{pool="orders",le="+Inf"} 4');
  });

  it('reads the figures at scrape time, once per scrape, and never at registration', async () => {
    const registry = new Registry();
    const { pool, getStats, update } = scriptedPool('orders');
    registerPoolMetrics(pool, registry);
    expect(getStats).not.toHaveBeenCalled();

    await registry.metrics();
    expect(getStats).toHaveBeenCalledTimes(1);

    update({ acquired: 121, idleConnections: 2, activeConnections: 3 });
    const lines = linesOf(await registry.metrics());
    expect(getStats).toHaveBeenCalledTimes(2);
    expect(lines).toContain('enhanced_pool_acquired_total{pool="orders"} 121');
    expect(lines).toContain('enhanced_pool_connections{pool="orders",state="active"} 3');
  });

  it('keeps label values to the closed sets: free-text keys and unknown states set nothing', async () => {
    const registry = new Registry();
    const { pool } = scriptedPool('orders', {
      breakerState: 'melting',
      destroyedByReason: { broken: 2, "DROP TABLE users; --'": 1 },
      connectErrorsByReason: { connection: 1, 'postgres://app:hunter2@db/orders': 1 },
    });
    registerPoolMetrics(pool, registry);
    const text = await registry.metrics();
    expect(text).not.toContain('DROP');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('melting');
    expect(text).toContain(
      'enhanced_pool_connections_destroyed_total{pool="orders",reason="broken"} 2',
    );
    expect(text).toContain(
      'enhanced_pool_connect_errors_total{pool="orders",reason="connection"} 1',
    );
    const states = linesOf(text).filter((line) => line.startsWith('enhanced_pool_breaker_state{'));
    expect(states).toHaveLength(5);
    for (const line of states) expect(line.endsWith(' 0')).toBe(true);
  });

  it('renders into an OpenMetrics registry too', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    const lines = linesOf(await registry.metrics());
    expect(lines).toContain('# TYPE enhanced_pool_acquired counter');
    expect(lines).toContain('enhanced_pool_acquired_total{pool="orders"} 120');
    expect(lines).toContain(
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="+Inf"} 120',
    );
    expect(lines.at(-2)).toBe('# EOF');
  });
});

describe('several pools on one registry', () => {
  it('shares the metric names and tells the pools apart by the pool label', async () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    registerPoolMetrics(
      scriptedPool('billing', { acquired: 7, breakerState: 'open' }).pool,
      registry,
    );
    const text = await registry.metrics();
    const lines = linesOf(text);
    expect(
      lines.filter((line) => line === '# TYPE enhanced_pool_acquired_total counter'),
    ).toHaveLength(1);
    expect(lines).toContain('enhanced_pool_acquired_total{pool="orders"} 120');
    expect(lines).toContain('enhanced_pool_acquired_total{pool="billing"} 7');
    expect(lines).toContain('enhanced_pool_breaker_state{pool="orders",state="half-open"} 1');
    expect(lines).toContain('enhanced_pool_breaker_state{pool="billing",state="open"} 1');
    expect(lines).toContain('enhanced_pool_acquire_wait_seconds_count{pool="billing"} 120');
  });

  it('refuses a second pool with the same name, naming the option and the value', () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    let error: unknown;
    try {
      registerPoolMetrics(scriptedPool('orders').pool, registry);
    } catch (caught) {
      error = caught;
    }
    expect(InvalidOptionError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', option: 'name', value: 'orders' });
    expect((error as Error).message).toContain('"orders"');
  });

  it('accepts the same name on another registry, or with another prefix', async () => {
    const first = new Registry();
    const second = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, first);
    registerPoolMetrics(scriptedPool('orders').pool, second);
    registerPoolMetrics(scriptedPool('orders').pool, first, { prefix: 'replica_pool_' });
    expect(await second.metrics()).toContain('enhanced_pool_acquired_total{pool="orders"} 120');
    expect(await first.metrics()).toContain('replica_pool_acquired_total{pool="orders"} 120');
  });

  it('dispose removes that pool, and the metric names with the last pool', async () => {
    const registry = new Registry();
    const orders = registerPoolMetrics(scriptedPool('orders').pool, registry);
    const billing = scriptedPool('billing');
    const billingHandle = registerPoolMetrics(billing.pool, registry);

    orders.dispose();
    let text = await registry.metrics();
    expect(text).not.toContain('pool="orders"');
    expect(text).toContain('enhanced_pool_acquired_total{pool="billing"} 120');

    billingHandle.dispose();
    billingHandle.dispose();
    expect(registry.getSingleMetric('enhanced_pool_acquired_total')).toBeUndefined();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    text = await registry.metrics();
    expect(text.trim()).toBe('');
    const calls = billing.getStats.mock.calls.length;
    await registry.metrics();
    expect(billing.getStats).toHaveBeenCalledTimes(calls);

    // The name is free again, and the set is built afresh.
    registerPoolMetrics(scriptedPool('orders').pool, registry);
    expect(await registry.metrics()).toContain('enhanced_pool_acquired_total{pool="orders"} 120');
  });

  it('works as a `using` declaration', async () => {
    const registry = new Registry();
    {
      using _handle = registerPoolMetrics(scriptedPool('orders').pool, registry);
      expect(registry.getMetricsAsArray().length).toBeGreaterThan(0);
    }
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });
});

describe('the prefix option', () => {
  it('names every metric with it', async () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('orders').pool, registry, { prefix: 'app_db_' });
    const names = registry.getMetricsAsArray().map((metric) => metric.name);
    expect(names.length).toBe(24);
    for (const name of names) expect(name.startsWith('app_db_')).toBe(true);
    expect(await registry.metrics()).toContain('app_db_connections{pool="orders",state="idle"} 3');
  });

  it.each([['enhanced-pool_'], ['9lives_'], ['a:b_'], [42]])('refuses %j', (prefix) => {
    const registry = new Registry();
    expect(() =>
      registerPoolMetrics(scriptedPool('orders').pool, registry, { prefix: prefix as string }),
    ).toThrow(InvalidOptionError);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('refuses a prefix whose names are taken, and registers nothing', () => {
    const registry = new Registry();
    new Gauge({ name: 'enhanced_pool_leaks_total', help: 'someone else', registers: [registry] });
    expect(() => registerPoolMetrics(scriptedPool('orders').pool, registry)).toThrow(
      expect.objectContaining({ option: 'prefix', value: 'enhanced_pool_' }),
    );
    expect(registry.getMetricsAsArray()).toHaveLength(1);
  });
});

describe('registerPoolMetrics on a real pool', () => {
  it('reports exactly what a scripted sequence did', async () => {
    const clock = createFakeClock();
    const driver = createFakeDriver({ clock, withReset: false, connectLatencyMs: 5 });
    const pool = createPool({
      driver,
      clock,
      name: 'orders',
      // The retry after the failed connect waits random · baseMs: 10 ms.
      random: () => 0.5,
      connectBackoff: { baseMs: 20 },
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
    });
    const registry = new Registry();
    const handle = registerPoolMetrics(pool, registry);

    // t=0: connect fails at 5, retried at 15, leased at 20 (waited 20 ms).
    driver.failNextConnects(1, 'connection');
    const first = pool.acquire();
    await clock.advanceAsync(20);
    const lease = await first;
    // t=20: a second connect, leased at 25 (waited 5 ms).
    const second = pool.acquire();
    await clock.advanceAsync(5);
    const held = await second;
    // t=55: the first lease goes back after 35 ms.
    await clock.advanceAsync(30);
    lease.release();

    const lines = linesOf(await registry.metrics());
    const expected = [
      'enhanced_pool_connections{pool="orders",state="idle"} 1',
      'enhanced_pool_connections{pool="orders",state="active"} 1',
      'enhanced_pool_pending_acquires{pool="orders"} 0',
      'enhanced_pool_connecting{pool="orders"} 0',
      'enhanced_pool_min_size{pool="orders"} 0',
      'enhanced_pool_max_size{pool="orders"} 10',
      'enhanced_pool_breaker_state{pool="orders",state="closed"} 1',
      'enhanced_pool_acquired_total{pool="orders"} 2',
      'enhanced_pool_released_total{pool="orders"} 1',
      'enhanced_pool_connections_created_total{pool="orders"} 2',
      'enhanced_pool_connections_destroyed_total{pool="orders",reason="broken"} 0',
      'enhanced_pool_connect_errors_total{pool="orders",reason="connection"} 1',
      'enhanced_pool_connect_errors_total{pool="orders",reason="timeout"} 0',
      'enhanced_pool_acquire_timeouts_total{pool="orders"} 0',
      'enhanced_pool_acquire_aborts_total{pool="orders"} 0',
      'enhanced_pool_acquire_rejections_total{pool="orders",reason="queue_full"} 0',
      'enhanced_pool_acquire_rejections_total{pool="orders",reason="breaker_open"} 0',
      'enhanced_pool_validation_failures_total{pool="orders"} 0',
      'enhanced_pool_leaks_total{pool="orders"} 0',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.0025"} 0',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.005"} 1',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.01"} 1',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="0.025"} 2',
      'enhanced_pool_acquire_wait_seconds_bucket{pool="orders",le="+Inf"} 2',
      'enhanced_pool_acquire_wait_seconds_sum{pool="orders"} 0.025',
      'enhanced_pool_acquire_wait_seconds_count{pool="orders"} 2',
      'enhanced_pool_connection_use_seconds_bucket{pool="orders",le="+Inf"} 1',
      'enhanced_pool_connection_use_seconds_count{pool="orders"} 1',
      'enhanced_pool_connect_seconds_bucket{pool="orders",le="0.005"} 2',
      'enhanced_pool_connect_seconds_sum{pool="orders"} 0.01',
      'enhanced_pool_connect_seconds_count{pool="orders"} 2',
    ];
    for (const line of expected) expect(lines).toContain(line);
    // The pool ends a hold at its last clock reading rather than reading the clock again, so
    // the use time is at most the 35 ms that passed; the exporter renders what it reports.
    const useSum = lines.find((line) =>
      line.startsWith('enhanced_pool_connection_use_seconds_sum'),
    );
    const useSeconds = Number(useSum?.split(' ')[1]);
    expect(useSeconds).toBeGreaterThan(0);
    expect(useSeconds).toBeLessThanOrEqual(0.035);
    expect(useSeconds).toBe(pool.getStats().useSeconds.sumSeconds);
    expect(driver.counters.connect).toBe(3);

    held.release();
    handle.dispose();
    await pool.close();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });
});

describe('pool.query() figures', () => {
  it('renders statements in flight, the queue depth, shared connections and outcomes', async () => {
    const registry = new Registry();
    const { pool } = scriptedPool('orders');
    registerPoolMetrics(
      {
        ...pool,
        getQueryStats: () => ({
          inFlight: 21,
          queued: 22,
          sharedConnections: 3,
          succeeded: 100,
          failed: 4,
          refused: 5,
          aborted: 6,
          timeouts: 7,
          exhausted: 8,
        }),
      },
      registry,
    );
    const lines = linesOf(await registry.metrics());
    for (const line of [
      '# TYPE enhanced_pool_query_statements_in_flight gauge',
      'enhanced_pool_query_statements_in_flight{pool="orders"} 21',
      'enhanced_pool_query_statements_queued{pool="orders"} 22',
      'enhanced_pool_query_shared_connections{pool="orders"} 3',
      '# TYPE enhanced_pool_query_statements_total counter',
      'enhanced_pool_query_statements_total{pool="orders",outcome="succeeded"} 100',
      'enhanced_pool_query_statements_total{pool="orders",outcome="failed"} 4',
      'enhanced_pool_query_statements_total{pool="orders",outcome="refused"} 5',
      'enhanced_pool_query_statements_total{pool="orders",outcome="aborted"} 6',
      'enhanced_pool_query_statements_total{pool="orders",outcome="timeout"} 7',
      'enhanced_pool_query_statements_total{pool="orders",outcome="queue_full"} 8',
    ]) {
      expect(lines).toContain(line);
    }
  });

  it('emits no query series for a pool without getQueryStats()', async () => {
    const registry = new Registry();
    registerPoolMetrics(scriptedPool('plain').pool, registry);
    const lines = linesOf(await registry.metrics());
    expect(lines.filter((line) => line.startsWith('enhanced_pool_query_'))).toEqual([]);
  });

  it('follows a real pool: in flight while a statement runs, queued behind the bound', async () => {
    const clock = createFakeClock();
    const driver = createFakeDriver({ clock, queryLatencyMs: 10 });
    const pool = createPool({
      driver,
      clock,
      name: 'real',
      maxSize: 1,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
      query: { maxInFlightPerConnection: 2 },
    });
    const registry = new Registry();
    registerPoolMetrics(pool, registry);
    const calls = Array.from({ length: 5 }, () => pool.query('SELECT 1'));
    await clock.flush();
    let lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_pool_query_statements_in_flight{pool="real"} 2');
    expect(lines).toContain('enhanced_pool_query_statements_queued{pool="real"} 3');
    expect(lines).toContain('enhanced_pool_query_shared_connections{pool="real"} 1');
    for (let step = 0; step < 6; step++) await clock.advanceAsync(10);
    await Promise.all(calls);
    lines = linesOf(await registry.metrics());
    expect(lines).toContain('enhanced_pool_query_statements_in_flight{pool="real"} 0');
    expect(lines).toContain(
      'enhanced_pool_query_statements_total{pool="real",outcome="succeeded"} 5',
    );
    await pool.close();
  });
});
