import type { PgClientLike } from '@enhanced-pool/driver-pg';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, EnhancedConnectionPool } from '../src/enhanced-connection-pool.js';

/** The seed's configuration shape builds a working pool against a real PostgreSQL. */
describe("connectionType: 'direct' against a real PostgreSQL", () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves queries from host/port/database/user fields', async () => {
    const pool = createPool<PgClientLike>({
      connectionType: 'direct',
      connectionParams: {
        host: server.host,
        port: server.port,
        database: server.database,
        user: server.user,
        application_name: 'connection-type-fields',
      },
      minSize: 2,
      maxSize: 4,
    });
    try {
      await pool.ready();
      const result = await pool.withConnection((client) =>
        client.query<{ n: number }>('SELECT 41 + 1 AS n'),
      );
      expect(result.rows[0]?.n).toBe(42);
      expect(await server.countConnections({ applicationName: 'connection-type-fields' })).toBe(
        pool.getStats().poolSize,
      );
    } finally {
      await pool.close();
    }
  });

  it('serves queries from a connection string, with a password role', async ({ skip }) => {
    const role = server.passwordRole;
    if (role === undefined) skip('this server has no password role');
    const pool = new EnhancedConnectionPool<PgClientLike>({
      connectionType: 'direct',
      connectionParams: { connectionString: role!.connectionString },
      maxSize: 2,
    });
    try {
      const result = await pool.withConnection((client) =>
        client.query<{ user: string }>('SELECT current_user AS user'),
      );
      expect(result.rows[0]?.user).toBe(role!.user);
      expect(JSON.stringify(pool.getStats())).not.toContain(role!.password);
    } finally {
      await pool.close();
    }
  });

  it('a wrong password fails as an authentication error that never shows it', async ({ skip }) => {
    const role = server.passwordRole;
    if (role === undefined) skip('this server has no password role');
    const pool = createPool<PgClientLike>({
      connectionType: 'direct',
      connectionParams: {
        host: server.host,
        port: server.port,
        database: server.database,
        user: role!.user,
        password: 'not-the-password-xyz',
      },
      acquireTimeoutMs: 2_000,
    });
    try {
      const error = await pool.acquire().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: 'CONNECT_FAILED' });
      expect(String((error as Error).message)).not.toContain('not-the-password-xyz');
    } finally {
      await pool.close();
    }
  });
});
