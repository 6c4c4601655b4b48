// Compiled by `pnpm typecheck`, never run: the drop-in must fit wherever code expects a pg.Pool.
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import type pg from 'pg';
import { Pool, type PoolConfig } from '../src/index.js';

const pool = new Pool({ connectionString: 'postgres://localhost/app', max: 5 });

// A parameter typed with @types/pg's Pool takes it.
function withPgPool(given: pg.Pool): pg.Pool {
  return given;
}
withPgPool(pool);
const typed: pg.Pool = pool;

// Kysely's dialect and drizzle's node-postgres driver take it.
new Kysely<{ accounts: { id: number } }>({ dialect: new PostgresDialect({ pool }) });
new Kysely<{ accounts: { id: number } }>({
  dialect: new PostgresDialect({ pool: async () => pool }),
});
const db = drizzle({ client: pool });
const client: Pool = db.$client;
drizzle(pool);

// pg's result and client types come through unchanged.
async function results(): Promise<void> {
  const rows: { a: number }[] = (await pool.query<{ a: number }>('SELECT 1 AS a')).rows;
  const arrays: number[][] = (await pool.query<number[]>({ text: 'SELECT 1', rowMode: 'array' }))
    .rows;
  const checkedOut: pg.PoolClient = await pool.connect();
  checkedOut.release();
  checkedOut.release(true);
  checkedOut.release(new Error('broken'));
  pool.query('SELECT 1', (error: Error, result: pg.QueryResult) => [error, result]);
  pool.connect((error, connected, done) => {
    if (error === undefined) connected?.release();
    done();
  });
  pool.on('error', (error: Error, errored: pg.PoolClient) => [error, errored]);
  pool.on('connect', (connected: pg.PoolClient) => connected);
  pool.end(() => {});
  await pool.end();
  void [rows, arrays, typed, client];
}
void results;

// A pg.PoolConfig is a PoolConfig as it is.
const pgConfig: pg.PoolConfig = { host: 'localhost', max: 3, idleTimeoutMillis: null };
new Pool(pgConfig);
const config: PoolConfig = {
  ...pgConfig,
  enhanced: {
    outageGraceMs: 500,
    circuitBreaker: false,
    driverOptions: { validationQuery: 'SELECT 2' },
  },
};
new Pool(config);

// Options with a pg-pool name are set through it, not under `enhanced`.
// @ts-expect-error maxSize is `max` here
new Pool({ enhanced: { maxSize: 3 } });
// @ts-expect-error max is a number
new Pool({ max: '10' });
