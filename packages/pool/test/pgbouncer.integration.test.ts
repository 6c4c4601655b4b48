import { classifyPgError, createPgDriver, type PgClientLike } from '@enhanced-pool/driver-pg';
import {
  type PgBouncerServer,
  type PostgresServer,
  pgBouncerUnavailable,
  startPgBouncer,
  startPostgres,
} from '@enhanced-pool/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import { FleetBudgetUnsupportedError } from '../src/fleet-budget-error.js';
import type { Pool } from '../src/pool.js';
import type { PoolOptions } from '../src/pool-options.js';

/**
 * The pool through Debian's PgBouncer 1.18 in transaction mode, in front of a real
 * PostgreSQL 15: what the pool sends must work when consecutive statements may run on different
 * server connections, and a budget that needs session state must be refused, not silently
 * broken.
 */

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every statement the driver and the pool sent on any connection, as pg received it. */
const sent: { text: string; named: boolean }[] = [];

/** pg's Client, recording what is sent (named statements are what transaction mode breaks). */
class RecordingClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's query() overloads are not expressible here.
  override query(config: any, values?: any, callback?: any): any {
    const text = typeof config === 'string' ? config : String(config?.text ?? '');
    sent.push({ text, named: typeof config === 'object' && config?.name !== undefined });
    return super.query(config, values, callback);
  }
}

let server: PostgresServer;
let bouncer: PgBouncerServer | undefined;
let skipReason: string | undefined;

beforeAll(async () => {
  server = await startPostgres();
  skipReason = pgBouncerUnavailable(server);
  if (skipReason !== undefined) {
    console.warn(`[pgbouncer tests] skipped: ${skipReason}`);
    return;
  }
  bouncer = await startPgBouncer({ server, poolMode: 'transaction', defaultPoolSize: 8 });
});

afterAll(async () => {
  await bouncer?.stop();
  await server?.stop();
});

const pools: Pool<PgClientLike>[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close({ timeoutMs: 1_000 })));
});

function bouncedPool(
  options: Partial<PoolOptions<PgClientLike>> & { connectionString?: string } = {},
): Pool<PgClientLike> {
  const { connectionString, ...poolOptions } = options;
  const pool = createPool({
    driver: createPgDriver({
      connectionString: connectionString ?? (bouncer as PgBouncerServer).connectionString,
      applicationName: 'through-pgbouncer',
      Client: RecordingClient as unknown as new () => PgClientLike,
    }),
    name: 'through-pgbouncer',
    ...poolOptions,
  });
  pools.push(pool);
  return pool;
}

describe('the pool through PgBouncer in transaction mode', () => {
  it('serves a burst with validation and reset on every lease, sending no session commands', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    sent.length = 0;
    // validateAfterIdleMs 0: every hand-out is validated; every release runs reset.
    const pool = bouncedPool({ maxSize: 6, validateAfterIdleMs: 0 });
    const errors: unknown[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (started < 300) {
          const value = started++;
          try {
            const { rows } = await pool.withConnection((client) =>
              client.query('SELECT $1::int AS value', [value]),
            );
            expect(rows[0]).toEqual({ value });
          } catch (error) {
            errors.push(error);
          }
        }
      }),
    );
    expect(errors).toEqual([]);
    // Under the burst every release went straight to a waiter; now one sits idle and is
    // validated on its next hand-out.
    await sleep(5);
    await pool.withConnection((client) => client.query('SELECT 2'));
    const stats = pool.getStats();
    expect(stats).toMatchObject({ validationFailures: 0, resetFailures: 0, errors: 0 });
    expect(stats.poolSize).toBeLessThanOrEqual(6);
    // Parameterised queries use pg's unnamed statement; nothing the pool sent is named or
    // session-scoped (SET, RESET, DISCARD, DEALLOCATE, LISTEN, PREPARE).
    expect(sent.filter((statement) => statement.named)).toEqual([]);
    const session = /^\s*(SET|RESET|DISCARD|DEALLOCATE|LISTEN|UNLISTEN|PREPARE)\b/i;
    expect(sent.filter((statement) => session.test(statement.text))).toEqual([]);
    expect(sent.some((statement) => statement.text === 'SELECT 1')).toBe(true);
  });

  it('rolls back a transaction left open, so the server connection goes back to PgBouncer', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    await server.query('CREATE TABLE IF NOT EXISTS bounced (value int)');
    const pool = bouncedPool({ maxSize: 1 });
    const lease = await pool.acquire();
    await lease.connection.query('BEGIN');
    await lease.connection.query('INSERT INTO bounced VALUES (1)');
    lease.release();
    // The only connection, reset and handed out again: not in the abandoned transaction.
    const { rows } = await pool.withConnection((client) =>
      client.query('SELECT now() <> statement_timestamp() AS open'),
    );
    expect(rows[0]).toEqual({ open: false });
    expect(await server.query('SELECT * FROM bounced')).toEqual([]);
    expect(pool.getStats().resetFailures).toBe(0);
  });

  it('runs health checks and keeps the breaker closed through PgBouncer', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const pool = bouncedPool({ minSize: 3, maxSize: 5, validationIntervalMs: 0 });
    await pool.ready();
    const report = await pool.runHealthCheck();
    expect(report).toMatchObject({ healthy: true });
    expect(pool.getStats()).toMatchObject({ breakerState: 'closed', validationFailures: 0 });
    expect(pool.isReady()).toBe(true);
  });

  it('recovers from a restart of the server behind PgBouncer', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const pool = bouncedPool({ minSize: 2, maxSize: 4, acquireTimeoutMs: 3_000 });
    await pool.ready();
    const outcomes: { at: number; ok: boolean; reason?: string }[] = [];
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          await pool.withConnection((client) => client.query('SELECT 1'), { idempotent: true });
          outcomes.push({ at: performance.now(), ok: true });
        } catch (error) {
          outcomes.push({ at: performance.now(), ok: false, reason: classifyPgError(error) });
          await sleep(10);
        }
      }
    })();
    await sleep(200);
    await server.restart({ mode: 'immediate', downtimeMs: 500 });
    const backAt = performance.now();
    // Back within seconds: 20 queries in a row succeed.
    let recoveredAt = Number.NaN;
    while (performance.now() - backAt < 10_000) {
      const tail = outcomes.slice(-20);
      if (tail.length === 20 && tail.every((outcome) => outcome.ok && outcome.at > backAt)) {
        recoveredAt = (tail[0] as { at: number }).at;
        break;
      }
      await sleep(20);
    }
    running = false;
    await load;
    const failures = outcomes.filter((outcome) => !outcome.ok);
    console.info(
      `[pgbouncer] restart behind PgBouncer: ${failures.length} failed queries ` +
        `(${[...new Set(failures.map((failure) => failure.reason))].join(', ') || 'none'}), ` +
        `serving again ${Math.round(recoveredAt - backAt)} ms after the server was back`,
    );
    expect(recoveredAt - backAt).toBeLessThan(10_000);
    // What failed was the database being away, never a query of ours.
    for (const failure of failures) expect(failure.reason).not.toBe('query');
    expect(pool.getStats().poolSize).toBeLessThanOrEqual(4);
  });

  it('refuses fleetBudget with FleetBudgetUnsupportedError, leaving no slot behind', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const key = 424_242;
    const pool = bouncedPool({ minSize: 1, fleetBudget: { slots: 5, key } });
    const readiness = await pool.ready().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(FleetBudgetUnsupportedError.isInstance(readiness)).toBe(true);
    const error = readiness as FleetBudgetUnsupportedError;
    expect(error).toMatchObject({ code: 'CONNECT_FAILED', reason: 'configuration', key });
    expect(error.message).toMatch(/transaction/);
    // Callers that need a connection get the same error at once; none is pooled.
    await expect(pool.acquire()).rejects.toSatisfy(FleetBudgetUnsupportedError.isInstance);
    expect(pool.getStats()).toMatchObject({ poolSize: 0, connecting: 0 });
    expect(pool.readiness().ready).toBe(false);
    const locks = await server.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM pg_locks
       WHERE locktype = 'advisory' AND classid = $1::int4::oid AND objsubid = 2`,
      [key],
    );
    expect(locks).toEqual([{ count: 0 }]);
  });
});

describe('the pool through PgBouncer in session mode', () => {
  it('keeps a fleetBudget: slots are held per client and freed when the pool closes', async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    await using session = await startPgBouncer({ server, poolMode: 'session' });
    const key = 515_151;
    const pool = bouncedPool({
      connectionString: session.connectionString,
      maxSize: 3,
      fleetBudget: { slots: 2, key },
      acquireTimeoutMs: 500,
    });
    const held = [await pool.acquire(), await pool.acquire()];
    const countLocks = async () =>
      (
        await server.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND classid = $1::int4::oid AND objsubid = 2`,
          [key],
        )
      )[0]?.count;
    expect(await countLocks()).toBe(2);
    expect(pool.getStats().fleetBudget).toMatchObject({ held: 2, free: 0, claims: 2 });
    // A third caller waits (no slot) and times out; nothing is opened for it.
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'ACQUIRE_TIMEOUT' });
    for (const lease of held) lease.release();
    await pool.close();
    // PgBouncer's DISCARD ALL on the client's disconnect releases the locks.
    const deadline = performance.now() + 5_000;
    while ((await countLocks()) !== 0 && performance.now() < deadline) await sleep(20);
    expect(await countLocks()).toBe(0);
  });
});
