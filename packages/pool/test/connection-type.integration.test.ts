import type { PgClientLike } from '@enhanced-pool/driver-pg';
import {
  type PostgresServer,
  type PostgrestTestServer,
  startPostgres,
  startPostgrestTestServer,
} from '@enhanced-pool/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, EnhancedConnectionPool } from '../src/enhanced-connection-pool.js';

let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

/** The seed's configuration shape builds a working pool against a real PostgreSQL. */
describe("connectionType: 'direct' against a real PostgreSQL", () => {
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
      const result = await pool.withConnection((client) => client.query('SELECT 41 + 1 AS n'));
      expect(result.rows[0]).toEqual({ n: 42 });
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
        client.query('SELECT current_user AS user'),
      );
      expect(result.rows[0]).toEqual({ user: role!.user });
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

/** The same shape builds a pool of supabase-js clients, against the PostgREST test server. */
describe("connectionType: 'supabase' against the PostgREST test server", () => {
  let api: PostgrestTestServer;

  /** The part of supabase-js these tests use (the pool does not depend on supabase-js). */
  interface SupabaseLike {
    from(table: string): {
      select(columns: string): PromiseLike<{ data: unknown; error: unknown }>;
    };
  }

  beforeAll(async () => {
    await server.query(
      "CREATE TABLE IF NOT EXISTS public.molecules (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO public.molecules (name) VALUES ('caffeine')",
    );
    api = await startPostgrestTestServer({ database: server });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('serves supabase-js clients from url and key, health-checked on the named table', async () => {
    const pool = createPool<SupabaseLike>({
      connectionType: 'supabase',
      connectionParams: { url: api.url, key: api.key, healthCheck: { table: 'molecules' } },
      minSize: 1,
      maxSize: 2,
      healthCheckIntervalMs: 0,
    });
    try {
      await pool.ready();
      const { data, error } = await pool.withConnection((supabase) =>
        supabase.from('molecules').select('name'),
      );
      expect(error).toBeNull();
      expect(data).toEqual([{ name: 'caffeine' }]);
      const report = await pool.runHealthCheck();
      expect(report.healthy).toBe(true);
      // Connecting ran the health check the params named: a HEAD select on that table.
      const paths = api.requests().map((request) => `${request.method} ${request.path}`);
      expect(paths.some((path) => path.startsWith('HEAD /rest/v1/molecules'))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("a driver's own option error names the connectionParams field", () => {
    expect(() =>
      createPool({
        connectionType: 'supabase',
        connectionParams: {
          url: api.url,
          key: api.key,
          healthCheck: { table: 'molecules', timeoutMs: -1 },
        },
      }),
    ).toThrow(/connectionParams\.healthCheck\.timeoutMs/);
  });
});
