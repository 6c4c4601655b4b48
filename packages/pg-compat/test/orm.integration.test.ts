import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import { sql as drizzleSql, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from '../src/index.js';

// Kysely 0.28 and drizzle-orm 0.45 take the drop-in where they take a pg.Pool, and run queries
// and transactions through it against a real PostgreSQL, including across an outage.

interface Database {
  accounts: { id: number; owner: string; balance: number };
}

const accounts = pgTable('accounts', {
  id: integer('id').primaryKey(),
  owner: text('owner').notNull(),
  balance: integer('balance').notNull(),
});

let server: PostgresServer;
const pools: Pool[] = [];

function open(applicationName: string): Pool {
  const pool = new Pool({
    connectionString: server.connectionString,
    application_name: applicationName,
    max: 4,
  });
  // An idle client killed by the outage reaches this listener, as with pg.Pool.
  pool.on('error', () => {});
  pools.push(pool);
  return pool;
}

async function resetTable(): Promise<void> {
  await server.query('DROP TABLE IF EXISTS accounts');
  await server.query(
    'CREATE TABLE accounts (id integer PRIMARY KEY, owner text NOT NULL, balance integer NOT NULL)',
  );
  await server.query("INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 50)");
}

/** Every connection the pool counts is one the server has, and none is checked out. */
async function expectAccounted(pool: Pool, applicationName: string): Promise<void> {
  await expect.poll(() => server.countConnections({ applicationName })).toBe(pool.totalCount);
  expect(pool.idleCount).toBe(pool.totalCount);
}

beforeAll(async () => {
  server = await startPostgres();
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => (pool.ending ? undefined : pool.end())));
});

afterAll(async () => {
  await server?.stop();
});

describe('Kysely (PostgresDialect)', () => {
  const connect = (name: string) => {
    const pool = open(name);
    return { pool, db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }) };
  };

  it('runs queries and commits and rolls back transactions', async () => {
    await resetTable();
    const { pool, db } = connect('kysely-basic');
    const rows = await db
      .selectFrom('accounts')
      .select(['owner', 'balance'])
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { owner: 'ada', balance: 100 },
      { owner: 'bob', balance: 50 },
    ]);
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({ balance: sql`balance - 30` })
        .where('id', '=', 1)
        .execute();
      await trx
        .updateTable('accounts')
        .set({ balance: sql`balance + 30` })
        .where('id', '=', 2)
        .execute();
    });
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.updateTable('accounts').set({ balance: 0 }).where('id', '=', 1).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    const balances = await db.selectFrom('accounts').select('balance').orderBy('id').execute();
    expect(balances.map((row) => row.balance)).toEqual([70, 80]);
    await expectAccounted(pool, 'kysely-basic');
    // Kysely's destroy() ends the pool.
    await db.destroy();
    expect(pool.ended).toBe(true);
  });

  it('works again right after an immediate server restart, and its failed transaction is gone', async (context) => {
    requireCapability(context, server, 'restart');
    await resetTable();
    const { pool, db } = connect('kysely-restart');
    // Two clients in the pool, one of them inside a transaction when the server goes down.
    await Promise.all([db.selectFrom('accounts').selectAll().execute(), pool.query('SELECT 1')]);
    let resume: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let inTransaction: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      inTransaction = resolve;
    });
    const transaction = db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ balance: 0 }).where('id', '=', 1).execute();
      inTransaction();
      await paused;
      await trx.updateTable('accounts').set({ balance: 0 }).where('id', '=', 2).execute();
    });
    const failure = transaction.then(
      () => undefined,
      (error: unknown) => error,
    );
    await started;
    await server.restart({ mode: 'immediate' });
    resume();
    expect(await failure).toBeInstanceOf(Error);

    // The first query after the restart succeeds: the dead clients are never handed out.
    const rows = await db.selectFrom('accounts').select('balance').orderBy('id').execute();
    expect(rows.map((row) => row.balance)).toEqual([100, 50]);
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('accounts').set({ balance: 99 }).where('id', '=', 1).execute();
    });
    const [ada] = await db.selectFrom('accounts').select('balance').where('id', '=', 1).execute();
    expect(ada?.balance).toBe(99);
    await expectAccounted(pool, 'kysely-restart');
  });
});

describe('drizzle-orm (node-postgres)', () => {
  const connect = (name: string) => {
    const pool = open(name);
    return { pool, db: drizzle({ client: pool }) };
  };

  it('runs queries and commits and rolls back transactions', async () => {
    await resetTable();
    const { pool, db } = connect('drizzle-basic');
    expect(await db.select().from(accounts).orderBy(accounts.id)).toEqual([
      { id: 1, owner: 'ada', balance: 100 },
      { id: 2, owner: 'bob', balance: 50 },
    ]);
    await db.transaction(async (tx) => {
      await tx
        .update(accounts)
        .set({ balance: drizzleSql`${accounts.balance} - 30` })
        .where(eq(accounts.id, 1));
      await tx
        .update(accounts)
        .set({ balance: drizzleSql`${accounts.balance} + 30` })
        .where(eq(accounts.id, 2));
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.update(accounts).set({ balance: 0 }).where(eq(accounts.id, 1));
        tx.rollback();
      }),
    ).rejects.toThrow();
    const balances = await db
      .select({ balance: accounts.balance })
      .from(accounts)
      .orderBy(accounts.id);
    expect(balances.map((row) => row.balance)).toEqual([70, 80]);
    // A transaction checks one client out and gives it back.
    expect(pool.enhanced.getStats().acquired).toBe(4);
    await expectAccounted(pool, 'drizzle-basic');
  });

  it('works again right after its backends are terminated, and after an immediate restart', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    await resetTable();
    const { pool, db } = connect('drizzle-outage');
    await Promise.all([db.select().from(accounts), db.select().from(accounts)]);
    expect(pool.totalCount).toBeGreaterThan(0);

    await server.terminateBackends({ applicationName: 'drizzle-outage' });
    await db.transaction(async (tx) => {
      await tx.update(accounts).set({ balance: 1 }).where(eq(accounts.id, 1));
    });
    const [afterKill] = await db
      .select({ balance: accounts.balance })
      .from(accounts)
      .where(eq(accounts.id, 1));
    expect(afterKill?.balance).toBe(1);

    requireCapability(context, server, 'restart');
    await server.restart({ mode: 'immediate' });
    const rows = await db.select({ balance: accounts.balance }).from(accounts).orderBy(accounts.id);
    expect(rows.map((row) => row.balance)).toEqual([1, 50]);
    await db.transaction(async (tx) => {
      await tx.update(accounts).set({ balance: 2 }).where(eq(accounts.id, 2));
    });
    await expectAccounted(pool, 'drizzle-outage');
  });
});
