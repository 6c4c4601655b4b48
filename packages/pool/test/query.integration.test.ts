import { createPgDriver, type PgClientLike, type PgQueryResult } from '@enhanced-pool/driver-pg';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import type { Pool } from '../src/pool.js';
import type { PoolOptions } from '../src/pool-options.js';
import { StatementRefusedError } from '../src/statement-guard-error.js';

/**
 * `pool.query()` against a real PostgreSQL 15 through the pg driver's pipelining: results land
 * on the right caller, errors stay with their statement, a killed backend fails only what was on
 * its wire, and the server sees no more connections than the pool counts.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the server for what no client event announces (a backend leaving pg_stat_activity). */
async function eventually(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await sleep(10);
  }
}

type Row = { n: number; pid: number };

describe('pool.query() against a real PostgreSQL', () => {
  let server: PostgresServer;
  const pools: Pool<PgClientLike, PgQueryResult>[] = [];
  let sequence = 0;

  const createTestPool = (options: Partial<PoolOptions<PgClientLike, PgQueryResult>> = {}) => {
    sequence += 1;
    const applicationName = `query-it-${process.pid}-${sequence}`;
    const driver = createPgDriver({ connectionString: server.connectionString, applicationName });
    const pool = createPool({ driver, name: applicationName, ...options });
    pools.push(pool);
    return { pool, driver, applicationName };
  };

  const expectCountsMatch = async (pool: Pool<PgClientLike, PgQueryResult>, name: string) => {
    await eventually(async () => {
      const count = await server.countConnections({ applicationName: name });
      const stats = pool.getStats();
      return stats.connecting === 0 && count === stats.poolSize;
    });
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

  it('answers many callers on a few shared, pipelined connections, each with its own result', async () => {
    const { pool, applicationName } = createTestPool({ maxSize: 4 });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        pool.query<PgQueryResult<Row>>('SELECT $1::int AS n, pg_backend_pid() AS pid', [index]),
      ),
    );
    expect(results.map((result) => result.rows[0]!.n)).toEqual(
      Array.from({ length: 300 }, (_, index) => index),
    );
    const backends = new Set(results.map((result) => result.rows[0]!.pid));
    expect(backends.size).toBeGreaterThan(0);
    expect(backends.size).toBeLessThanOrEqual(4);
    expect(pool.getStats().poolSize).toBeLessThanOrEqual(4);
    expect(pool.getQueryStats()).toMatchObject({ succeeded: 300, inFlight: 0, queued: 0 });
    await expectCountsMatch(pool, applicationName);
  });

  it('writes the statements of one turn to a shared connection at once, and keeps the connection across turns', async () => {
    const base = createPgDriver({
      connectionString: server.connectionString,
      applicationName: `query-it-${process.pid}-writes`,
    });
    // Socket writes per client, counted where Node hands buffered chunks to the kernel.
    const writes: number[] = [];
    type CountedStream = {
      _write: (...args: unknown[]) => unknown;
      _writev: (...args: unknown[]) => unknown;
    };
    const driver = {
      ...base,
      connect: async (options: Parameters<typeof base.connect>[0]) => {
        const client = await base.connect(options);
        const stream = (client as unknown as { connection: { stream: CountedStream } }).connection
          .stream;
        const index = writes.push(0) - 1;
        for (const method of ['_write', '_writev'] as const) {
          const original = stream[method].bind(stream);
          stream[method] = (...args: unknown[]) => {
            writes[index]! += 1;
            return original(...args);
          };
        }
        return client;
      },
    };
    const pool = createPool({ driver, name: 'query-it-writes', minSize: 1, maxSize: 1 });
    pools.push(pool);
    await pool.ready();
    const before = writes[0]!;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        pool.query<PgQueryResult<Row>>('SELECT $1::int AS n', [index]),
      ),
    );
    expect(results.map((result) => result.rows[0]!.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Eight statements, one write (each statement alone would be a write of its own).
    expect(writes[0]! - before).toBe(1);

    // Callers that send again as soon as they are answered keep the shared connection: no
    // acquire and release per batch.
    const acquired = pool.getStats().acquired;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let round = 0; round < 25; round++) await pool.query('SELECT 1');
      }),
    );
    expect(pool.getStats().acquired - acquired).toBeLessThanOrEqual(1);
    await eventually(async () => pool.getQueryStats().sharedConnections === 0);
  });

  it('rejects a failing statement alone, with pg’s own error, and keeps the connection', async () => {
    const { pool, driver } = createTestPool({ maxSize: 1 });
    const calls = await Promise.allSettled([
      pool.query('SELECT 1 AS n'),
      pool.query('SELECT 1 / 0'),
      pool.query('SELECT 3 AS n'),
      pool.query('SELECT * FROM no_such_table'),
      pool.query('SELECT 5 AS n'),
    ]);
    expect(calls.map((call) => call.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const division = (calls[1] as PromiseRejectedResult).reason as { code?: string };
    expect(division.code).toBe('22012');
    expect(driver.classifyError(division)).toBe('query');
    expect(pool.getStats()).toMatchObject({ poolSize: 1, destroyed: 0 });
  });

  it('a killed backend fails only the statements on its wire; the pool replaces it', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { pool, driver, applicationName } = createTestPool({
      minSize: 2,
      maxSize: 2,
      query: { maxInFlightPerConnection: 4 },
    });
    await pool.ready();
    const calls = Array.from({ length: 8 }, () =>
      pool.query<PgQueryResult<Row>>('SELECT pg_sleep(0.3), 1 AS n, pg_backend_pid() AS pid'),
    );
    const settled = Promise.allSettled(calls);
    await eventually(async () => pool.getQueryStats().inFlight === 8);
    const [victim] = await server.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'
       ORDER BY pid LIMIT 1`,
      [applicationName],
    );
    await server.query('SELECT pg_terminate_backend($1)', [victim!.pid]);
    const outcomes = await settled;
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    const succeeded = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(4);
    for (const outcome of failed) {
      expect(driver.classifyError((outcome as PromiseRejectedResult).reason)).toBe('connection');
    }
    // The other connection's four all succeed; the victim's answered only what came before the kill.
    const pids = succeeded.map(
      (outcome) => (outcome as PromiseFulfilledResult<PgQueryResult<Row>>).value.rows[0]!.pid,
    );
    expect(pids.filter((pid) => pid !== victim!.pid)).toHaveLength(4);
    expect(pids.filter((pid) => pid === victim!.pid).length + failed.length).toBe(4);
    // The pool goes on: a replacement serves the next statements.
    const after = await Promise.all(
      Array.from({ length: 10 }, () => pool.query<PgQueryResult<Row>>('SELECT 1 AS n')),
    );
    expect(after.every((result) => result.rows[0]!.n === 1)).toBe(true);
    expect(pool.getStats().destroyedByReason['connection-errors']).toBe(1);
    await expectCountsMatch(pool, applicationName);
  });

  it('sends an idempotent read again when its backend is killed under it', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { pool, applicationName } = createTestPool({ minSize: 1, maxSize: 2 });
    await pool.ready();
    const call = pool.query<PgQueryResult<Row>>('SELECT pg_sleep(1), 7 AS n', undefined, {
      idempotent: true,
    });
    await eventually(async () => pool.getQueryStats().inFlight === 1);
    await sleep(50);
    await server.terminateBackends({ applicationName });
    const result = await call;
    expect(result.rows[0]!.n).toBe(7);
    expect(pool.getQueryStats().retries).toBe(1);
  });

  it('refuses session-state statements, and leases still get a plain client for transactions', async () => {
    const { pool } = createTestPool({ maxSize: 1 });
    for (const text of ['BEGIN', 'SET search_path = public', 'LISTEN jobs', 'SELECT 1; BEGIN']) {
      await expect(pool.query(text)).rejects.toSatisfy(StatementRefusedError.isInstance);
    }
    await Promise.all(Array.from({ length: 20 }, () => pool.query('SELECT 1')));
    const inTransaction = await pool.withConnection(async (client) => {
      expect(client.pipeline).toBe(false);
      await client.query('BEGIN');
      await client.query('SET LOCAL statement_timeout = 5000');
      const { rows } = await client.query('SELECT current_setting($1) AS value', [
        'statement_timeout',
      ]);
      await client.query('COMMIT');
      return rows[0];
    });
    expect(inTransaction).toEqual({ value: '5s' });
    const { rows } = await pool.query<PgQueryResult<{ value: string }>>(
      'SELECT current_setting($1) AS value',
      ['statement_timeout'],
    );
    expect(rows[0]!.value).toBe('0');
  });

  it('drops the result of a statement whose caller gave up, and goes on', async () => {
    const { pool } = createTestPool({ minSize: 1, maxSize: 1 });
    await pool.ready();
    const controller = new AbortController();
    const slow = pool.query('SELECT pg_sleep(0.2)', undefined, { signal: controller.signal });
    const next = pool.query<PgQueryResult<Row>>('SELECT 2 AS n');
    await eventually(async () => pool.getQueryStats().inFlight === 2);
    controller.abort(new Error('gave up'));
    await expect(slow).rejects.toThrow('gave up');
    expect((await next).rows[0]!.n).toBe(2);
    expect(pool.getQueryStats()).toMatchObject({ dropped: 1, inFlight: 0 });
  });

  it('close() lets statements on the wire finish and closes every shared connection', async () => {
    const { pool, applicationName } = createTestPool({ minSize: 2, maxSize: 2 });
    await pool.ready();
    const calls = Array.from({ length: 6 }, () => pool.query('SELECT pg_sleep(0.05)'));
    await eventually(async () => pool.getQueryStats().inFlight === 6);
    await pool.close();
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    await eventually(async () => (await server.countConnections({ applicationName })) === 0);
  });
});
