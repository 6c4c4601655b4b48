import { createPgDriver } from '@enhanced-pool/driver-pg';
import {
  createFaultProxy,
  type FaultProxy,
  type PostgresServer,
  startPostgres,
} from '@enhanced-pool/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import type { Pool } from '../src/pool.js';

// The pool riding out a misbehaving network between it and a real PostgreSQL: a fault proxy
// cuts, refuses, blackholes and delays its connections while callers keep calling.

const APPLICATION_NAME = 'pool-fault-proxy';

describe('the pool behind a fault proxy, against a real PostgreSQL', () => {
  let server: PostgresServer;
  let proxy: FaultProxy;
  let pool: Pool<pg.Client>;

  beforeAll(async () => {
    server = await startPostgres();
    proxy = await createFaultProxy({ target: server.connectionString });
    pool = createPool<pg.Client>({
      driver: createPgDriver({
        config: {
          connectionString: proxy.connectionString(server.connectionString),
          connectionTimeoutMillis: 500,
        },
        Client: pg.Client,
        applicationName: APPLICATION_NAME,
      }),
      minSize: 2,
      maxSize: 6,
      acquireTimeoutMs: 3_000,
      outageGraceMs: 200,
      connectBackoff: { baseMs: 10, capMs: 50 },
    });
    await pool.ready();
  });

  afterEach(() => {
    proxy.heal();
  });

  afterAll(async () => {
    await pool?.close();
    await proxy?.close();
    await server?.stop();
  });

  const select = (value: number) =>
    pool.withConnection(
      async (client) =>
        (await client.query<{ v: number }>('SELECT $1::int AS v', [value])).rows[0]?.v,
      { idempotent: true },
    );

  /** Runs `select` until one succeeds, counting the failures by code; gives up after `timeoutMs`. */
  async function untilServed(timeoutMs = 10_000): Promise<Record<string, number>> {
    const failures: Record<string, number> = {};
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        expect(await select(7)).toBe(7);
        return failures;
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'unknown';
        failures[code] = (failures[code] ?? 0) + 1;
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  it('a cut of every connection costs at most one failed call per connection cut', async () => {
    await Promise.all([select(1), select(2), select(3)]);
    const destroyed = pool.getStats().destroyed;
    const cut = proxy.cut();
    expect(cut).toBeGreaterThanOrEqual(2);
    // Dead idle connections are noticed, replaced, and reads retried on fresh ones.
    const failures = await untilServed();
    const failed = Object.values(failures).reduce((sum, count) => sum + count, 0);
    expect(failed).toBeLessThanOrEqual(cut);
    expect(pool.getStats().destroyed).toBeGreaterThan(destroyed);
  });

  it('an outage opens the breaker, callers fail fast, and it closes once the outage is over', async () => {
    const states: string[] = [];
    const subscription = pool.connCircuitBreaker?.on('stateChange', ({ to }) => states.push(to));
    const outage = proxy.outage({ durationMs: 60_000 });
    const failures: Record<string, number> = {};
    for (
      let attempt = 0;
      attempt < 200 && pool.getStats().breakerState === 'closed';
      attempt += 1
    ) {
      await select(attempt).catch((error: { code?: string }) => {
        failures[error.code ?? 'unknown'] = (failures[error.code ?? 'unknown'] ?? 0) + 1;
      });
    }
    expect(pool.getStats().breakerState).toBe('open');
    expect(pool.isReady()).toBe(false);
    // Past the grace, a caller is refused at once instead of waiting for the acquire deadline.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const started = performance.now();
    await expect(select(0)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(performance.now() - started).toBeLessThan(1_000);

    proxy.heal();
    await outage;
    await untilServed();
    await pool.ready();
    subscription?.dispose();
    expect(states).toContain('open');
    expect(pool.getStats().breakerState).toBe('closed');
    expect(pool.isReady()).toBe(true);
  });

  it('a blackhole makes connects time out; once it ends the pool connects again', async () => {
    proxy.cut();
    proxy.blackhole();
    const before = pool.getStats().connectErrors;
    // Every connection was cut, so this caller needs a new one, which hangs until it times out.
    await expect(select(1)).rejects.toBeDefined();
    expect(pool.getStats().connectErrors).toBeGreaterThan(before);
    proxy.heal();
    await untilServed();
  });

  it('added latency slows each round trip by at least that much', async () => {
    await select(1);
    proxy.setLatency(100);
    const started = performance.now();
    await select(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('after all of it, the server sees exactly the connections the pool holds', async () => {
    await untilServed();
    await pool.ready();
    const deadline = Date.now() + 5_000;
    let seen = await server.countConnections({ applicationName: APPLICATION_NAME });
    // Cut connections leave the server a moment after the pool has forgotten them.
    while (seen !== pool.getStats().poolSize && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await server.countConnections({ applicationName: APPLICATION_NAME });
    }
    expect(seen).toBe(pool.getStats().poolSize);
    expect(proxy.status().open).toBe(pool.getStats().poolSize);
  });
});
