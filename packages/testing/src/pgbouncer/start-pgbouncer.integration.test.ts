import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresServer } from '../postgres/postgres-server.js';
import { startPostgres } from '../postgres/start-postgres.js';
import { pgBouncerUnavailable, startPgBouncer } from './start-pgbouncer.js';

async function whoAmI(
  connectionString: string,
): Promise<{ user: string; pid: number; key: number }> {
  const client = new pg.Client({ connectionString });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query('SELECT current_user AS user, pg_backend_pid() AS pid');
    const processID = (client as unknown as { processID: number }).processID;
    return { user: rows[0].user, pid: rows[0].pid, key: processID };
  } finally {
    await client.end();
  }
}

describe('startPgBouncer', () => {
  let server: PostgresServer;
  let skip: string | undefined;

  beforeAll(async () => {
    server = await startPostgres();
    skip = pgBouncerUnavailable(server);
    if (skip !== undefined) console.warn(`[startPgBouncer tests] skipped: ${skip}`);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('forwards both of the server’s users, and stops cleanly', async (context) => {
    if (skip !== undefined) return context.skip(skip);
    const bouncer = await startPgBouncer({ server, poolMode: 'session' });
    expect(bouncer.poolMode).toBe('session');
    const superuser = await whoAmI(bouncer.connectionString);
    expect(superuser.user).toBe(server.user);
    // PgBouncer answers with its own cancel key, not the server's process id.
    expect(superuser.key).not.toBe(superuser.pid);
    const role = server.passwordRole;
    if (role !== undefined) {
      expect((await whoAmI(bouncer.passwordConnectionString as string)).user).toBe(role.user);
      expect(inspect(bouncer)).not.toContain(role.password);
      const wrong = bouncer.passwordConnectionString?.replace(
        encodeURIComponent(role.password),
        'wrong',
      );
      await expect(whoAmI(wrong as string)).rejects.toThrow();
    }
    await bouncer.stop();
    await bouncer.stop();
    await expect(whoAmI(bouncer.connectionString)).rejects.toThrow();
  });

  it('in transaction mode, consecutive statements may run on different server sessions', async (context) => {
    if (skip !== undefined) return context.skip(skip);
    await using bouncer = await startPgBouncer({ server, poolMode: 'transaction' });
    const holder = new pg.Client({ connectionString: bouncer.connectionString });
    const other = new pg.Client({ connectionString: bouncer.connectionString });
    await holder.connect();
    await other.connect();
    try {
      const first = await holder.query('SELECT pg_backend_pid() AS pid');
      await other.query('BEGIN');
      const borrowed = await other.query('SELECT pg_backend_pid() AS pid');
      // The server session the first client just used went to the other client's transaction.
      expect(borrowed.rows[0].pid).toBe(first.rows[0].pid);
      await other.query('ROLLBACK');
    } finally {
      await holder.end();
      await other.end();
    }
  });

  it('validates its options and says why it cannot run', async () => {
    await expect(startPgBouncer({ server, poolMode: 'statement' as never })).rejects.toThrow(
      'Invalid option "poolMode": got "statement", expected "transaction" or "session"',
    );
    await expect(startPgBouncer({ server, defaultPoolSize: 0 })).rejects.toThrow(
      /"defaultPoolSize": got 0/,
    );
    const previous = process.env.PGBOUNCER;
    process.env.PGBOUNCER = '/nonexistent/pgbouncer';
    try {
      expect(pgBouncerUnavailable()).toMatch(/\/nonexistent\/pgbouncer is missing/);
    } finally {
      if (previous === undefined) delete process.env.PGBOUNCER;
      else process.env.PGBOUNCER = previous;
    }
    expect(pgBouncerUnavailable({ kind: 'embedded' })).toMatch(/not a "embedded" one/);
  });
});
