import { createPgDriver, type PgClientLike } from '@enhanced-pool/driver-pg';
import { createPool, type Pool } from '@enhanced-pool/pool';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBreakerMetrics, registerPoolMetrics } from '../src/prometheus/index.js';

/**
 * What an operator sees after an outage of a real PostgreSQL 15: the scrape alone must say
 * what happened (the idle connections died, connects failed as unreachable, callers were
 * refused while the breaker was open, and it closed again).
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The value of one series in Prometheus text output, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

describe('metrics after an outage of a real PostgreSQL', () => {
  let server: PostgresServer;
  let pool: Pool<PgClientLike> | undefined;

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterAll(async () => {
    await pool?.close({ timeoutMs: 1_000 });
    await server?.stop();
  });

  it('explains it: dead connections, unreachable connects, breaker refusals, recovery', async (context) => {
    requireCapability(context, server, 'restart');
    pool = createPool({
      driver: createPgDriver({
        connectionString: server.connectionString,
        applicationName: 'metrics-outage',
      }),
      name: 'orders',
      minSize: 2,
      maxSize: 4,
      acquireTimeoutMs: 2_000,
      outageGraceMs: 300,
      healthCheckIntervalMs: 0,
    });
    await pool.ready();
    const registry = new Registry();
    registerPoolMetrics(pool, registry);
    const breaker = pool.connCircuitBreaker;
    if (breaker === undefined) throw new Error('the pool has no breaker');
    registerBreakerMetrics(breaker, registry, { name: 'orders-connect' });

    await server.kill();
    // Callers keep coming for 1.5 s: the first find the idle connections dead, the next need
    // connects that fail, then the breaker opens and, after the grace, refuses them at once.
    const deadline = performance.now() + 1_500;
    let failures = 0;
    while (performance.now() < deadline) {
      await pool
        .withConnection((client) => client.query('SELECT 1'))
        .catch(() => {
          failures++;
        });
      await sleep(10);
    }
    await server.start();
    const recoveredBy = performance.now() + 10_000;
    for (;;) {
      const ok = await pool
        .withConnection((client) => client.query('SELECT 1'))
        .then(
          () => true,
          () => false,
        );
      if (ok) break;
      if (performance.now() > recoveredBy) throw new Error('the pool did not recover in 10 s');
      await sleep(20);
    }

    const text = await registry.metrics();
    const pool_ = { pool: 'orders' };
    const destroyedDead =
      (sample(text, 'enhanced_pool_connections_destroyed_total', { ...pool_, reason: 'broken' }) ??
        0) +
      (sample(text, 'enhanced_pool_connections_destroyed_total', {
        ...pool_,
        reason: 'validation-failed',
      }) ?? 0) +
      (sample(text, 'enhanced_pool_connections_destroyed_total', {
        ...pool_,
        reason: 'destroyed-by-user',
      }) ?? 0);
    const connectErrors =
      sample(text, 'enhanced_pool_connect_errors_total', { ...pool_, reason: 'connection' }) ?? 0;
    const refused =
      sample(text, 'enhanced_pool_acquire_rejections_total', {
        ...pool_,
        reason: 'breaker_open',
      }) ?? 0;
    console.log(
      '[metrics] after a 1.5 s outage: %d calls failed; scrape: %d connections destroyed dead, ' +
        '%d connect errors (connection), %d callers refused while the breaker was open',
      failures,
      destroyedDead,
      connectErrors,
      refused,
    );
    expect(destroyedDead).toBeGreaterThanOrEqual(2);
    expect(connectErrors).toBeGreaterThanOrEqual(5);
    expect(refused).toBeGreaterThan(0);
    expect(sample(text, 'enhanced_pool_breaker_state', { ...pool_, state: 'closed' })).toBe(1);
    expect(
      sample(text, 'enhanced_breaker_rejections_total', { breaker: 'orders-connect' }),
    ).toBeGreaterThan(0);
    expect(
      sample(text, 'enhanced_breaker_state', { breaker: 'orders-connect', state: 'closed' }),
    ).toBe(1);
    // The recovery's connects are timed too.
    expect(text).toMatch(/enhanced_pool_connect_seconds_count\{[^}]*pool="orders"[^}]*\} [1-9]/);
  });
});
