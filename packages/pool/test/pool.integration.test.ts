import { createPgDriver, type PgClientLike } from '@enhanced-pool/driver-pg';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import type { Pool } from '../src/pool.js';
import type { PoolOptions } from '../src/pool-options.js';

/**
 * The pool against a real PostgreSQL 15: the failures the peers show in ANCHORS.md (dead
 * connections handed out after an idle kill, counts that drift from the server's, a close that
 * never finishes) must not happen here.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls the server until `condition` holds. Only for what no client event can announce: the
 * server removing a backend from pg_stat_activity after its client already closed the socket.
 */
async function eventually(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await sleep(10);
  }
}

function processIdOf(client: PgClientLike): number {
  if (typeof client.processID !== 'number') throw new Error('the client has no processID');
  return client.processID;
}

/** Runs `total` queries through the pool from `workers` concurrent loops; returns the errors. */
async function burst(pool: Pool<PgClientLike>, total: number, workers: number): Promise<unknown[]> {
  const errors: unknown[] = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (started < total) {
        started++;
        try {
          await pool.withConnection((client) => client.query('SELECT 1'));
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  return errors;
}

describe('pool against a real PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool<PgClientLike>[] = [];
  let sequence = 0;

  /** A pool whose connections carry their own application_name, so the server can count them. */
  const createTestPool = (
    options: Partial<PoolOptions<PgClientLike>> = {},
  ): { pool: Pool<PgClientLike>; applicationName: string; closes: Promise<void>[] } => {
    sequence += 1;
    const applicationName = `pool-it-${process.pid}-${sequence}`;
    const driver = createPgDriver({ connectionString: server.connectionString, applicationName });
    // Keep every close the pool starts, so a test can wait for the client side to finish.
    const closes: Promise<void>[] = [];
    const tracked = Object.freeze({
      ...driver,
      close: (client: PgClientLike) => {
        const closing = driver.close(client);
        closes.push(closing);
        return closing;
      },
    });
    const pool = createPool({ driver: tracked, name: applicationName, ...options });
    pools.push(pool);
    return { pool, applicationName, closes };
  };

  /**
   * The pool's count equals the server's once the pool is quiet: no connect in flight, and the
   * closes it started finished on the client side (the server then drops the backend a moment
   * later, which no client event announces, hence the polling).
   */
  const expectCountsMatch = async (
    pool: Pool<PgClientLike>,
    applicationName: string,
    closes: Promise<void>[],
  ): Promise<number> => {
    let serverCount = -1;
    await eventually(async () => {
      await Promise.all(closes);
      serverCount = await server.countConnections({ applicationName });
      const stats = pool.getStats();
      return stats.connecting === 0 && serverCount === stats.poolSize;
    });
    expect(serverCount).toBe(pool.getStats().poolSize);
    return serverCount;
  };

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.close({ timeoutMs: 1_000 })));
  });

  afterAll(async () => {
    await server?.stop();
  });

  for (const waitMs of [0, 20, 250]) {
    it(`hands out no dead connection after idle backends are killed (${waitMs} ms later)`, async (context) => {
      requireCapability(context, server, 'terminateBackends');
      const { pool, applicationName } = createTestPool({
        minSize: 10,
        maxSize: 10,
        validateAfterIdleMs: 50,
      });
      await pool.ready();
      expect(await server.countConnections({ applicationName })).toBe(10);
      // The scenario itself: connections sit idle past validateAfterIdleMs, then die unseen.
      await sleep(100);
      // pg_terminate_backend returns once the signals are sent, before the clients can notice
      // (terminateBackends() would wait until the backends are gone, by which time pg usually
      // saw its sockets close): the harshest version of "queried at once".
      const killed = await server.query<{ killed: boolean }>(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
          WHERE application_name = $1 AND state = 'idle'`,
        [applicationName],
      );
      expect(killed.filter((row) => row.killed)).toHaveLength(10);
      if (waitMs > 0) await sleep(waitMs);

      const errors = await burst(pool, 100, 16);

      expect(errors).toEqual([]);
      const stats = pool.getStats();
      expect(stats.acquired).toBe(100);
      expect(stats.destroyed).toBe(10);
      expect(stats.destroyedByReason.broken + stats.destroyedByReason['validation-failed']).toBe(
        10,
      );
    });
  }

  it('gives callers a connection-class error when leased backends die, then refills', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { pool, applicationName, closes } = createTestPool({ minSize: 4, maxSize: 4 });
    await pool.ready();
    const holding: Promise<unknown>[] = [];
    const pids: number[] = [];
    let killed: () => void = () => {};
    const afterKill = new Promise<void>((resolve) => {
      killed = resolve;
    });
    for (let index = 0; index < 4; index++) {
      holding.push(
        pool
          .withConnection(async (client) => {
            pids.push(processIdOf(client));
            await afterKill;
            return await client.query('SELECT 1');
          })
          .catch((error: unknown) => error),
      );
    }
    await eventually(async () => pids.length === 4);
    expect(await server.terminateBackends({ pids })).toBe(4);
    killed();
    const outcomes = await Promise.all(holding);

    const driver = createPgDriver({ connectionString: server.connectionString });
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(Error);
      expect(driver.classifyError(outcome)).toBe('connection');
    }
    await pool.ready();
    expect(pool.getStats()).toMatchObject({ poolSize: 4, idleConnections: 4 });
    expect(pool.getStats().destroyedByReason['destroyed-by-user']).toBe(4);
    expect(await expectCountsMatch(pool, applicationName, closes)).toBe(4);
    expect(await burst(pool, 40, 8)).toEqual([]);
  });

  it("keeps its connection count equal to the server's at every point", async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { pool, applicationName, closes } = createTestPool({
      minSize: 2,
      maxSize: 8,
      validateAfterIdleMs: 50,
      maxUses: 5,
    });
    await pool.ready();
    expect(await expectCountsMatch(pool, applicationName, closes)).toBe(2);

    const leases = await Promise.all(Array.from({ length: 8 }, () => pool.acquire()));
    expect(await expectCountsMatch(pool, applicationName, closes)).toBe(8);
    for (const lease of leases) lease.release();
    expect(await expectCountsMatch(pool, applicationName, closes)).toBe(8);

    // Churn: maxUses retires connections, a few are destroyed, some die on the server.
    expect(await burst(pool, 60, 8)).toEqual([]);
    await expectCountsMatch(pool, applicationName, closes);
    const victim = await pool.acquire();
    victim.destroy(new Error('test destroys one'));
    await expectCountsMatch(pool, applicationName, closes);
    await sleep(100);
    await server.terminateBackends({ applicationName, state: 'idle' });
    expect(await burst(pool, 30, 4)).toEqual([]);
    await expectCountsMatch(pool, applicationName, closes);

    await pool.close();
    expect(await expectCountsMatch(pool, applicationName, closes)).toBe(0);
  });

  it('closes within its timeout with a lease held, closing the leased connection', async () => {
    const { pool, closes } = createTestPool({ minSize: 3 });
    await pool.ready();
    const leaked = await pool.acquire();
    await leaked.connection.query('SELECT 1');

    const started = performance.now();
    await pool.close({ timeoutMs: 300 });
    const elapsedMs = performance.now() - started;

    // The deadline is what ends it (the lease was never returned), and it ends there.
    expect(elapsedMs).toBeGreaterThanOrEqual(290);
    expect(elapsedMs).toBeLessThan(2_000);
    expect(pool.getStats()).toMatchObject({ state: 'closed', poolSize: 0 });
    await Promise.all(closes);
    await expect(leaked.connection.query('SELECT 1')).rejects.toBeInstanceOf(Error);
    leaked.release();
  });

  it('leaves no server connection after a close that timed out with a lease held', async (context) => {
    // Counting a pool's backends needs a server that tracks application names (not pglite).
    requireCapability(context, server, 'terminateBackends');
    const { pool, applicationName, closes } = createTestPool({ minSize: 3 });
    await pool.ready();
    const leaked = await pool.acquire();
    await pool.close({ timeoutMs: 300 });
    await Promise.all(closes);
    await eventually(async () => (await server.countConnections({ applicationName })) === 0);
    leaked.release();
  });
});
