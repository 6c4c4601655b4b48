import { PostgresServerError } from './postgres-server.js';

/** `application_name` of our own admin connections, so counts and terminations skip them. */
export const ADMIN_APPLICATION_NAME = 'enhanced-pool-testing-admin';

/** The few `pg` Client members the admin connection uses (pg is an optional peer dependency). */
interface AdminClient {
  connect(): Promise<unknown>;
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

type AdminClientConstructor = new (config: {
  connectionString: string;
  application_name: string;
  connectionTimeoutMillis: number;
}) => AdminClient;

let clientConstructor: Promise<AdminClientConstructor> | undefined;

async function loadClient(): Promise<AdminClientConstructor> {
  clientConstructor ??= import('pg').then(
    (module) => {
      const pg = ((module as { default?: unknown }).default ?? module) as {
        Client: AdminClientConstructor;
      };
      return pg.Client;
    },
    (error: unknown) => {
      clientConstructor = undefined;
      throw new PostgresServerError(
        'POSTGRES_UNAVAILABLE',
        'startPostgres() needs the "pg" package for its admin queries: install pg@^8 as a dev dependency',
        { cause: error },
      );
    },
  );
  return await clientConstructor;
}

/**
 * Runs one statement on a fresh connection and closes it: an admin connection never lingers
 * to be counted, terminated or killed by the test it serves.
 */
export async function runAdminQuery<TRow>(
  connectionString: string,
  sql: string,
  params?: unknown[],
): Promise<TRow[]> {
  const Client = await loadClient();
  const client = new Client({
    connectionString,
    application_name: ADMIN_APPLICATION_NAME,
    connectionTimeoutMillis: 10_000,
  });
  // A server killed mid-query emits 'error' on the client as well as rejecting the query.
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query(sql, params);
    return result.rows as TRow[];
  } finally {
    await client.end().catch(() => {});
  }
}

/** Which server-side backends a statement may touch; `external` servers are scoped to our own. */
export interface BackendScope {
  readonly ownUserAndDatabaseOnly: boolean;
}

/** Builds the `WHERE` clause shared by counting and terminating client backends. */
export function backendWhereClause(
  scope: BackendScope,
  filter: {
    readonly applicationName?: string;
    readonly state?: string;
    readonly pids?: readonly number[];
  },
): { where: string; params: unknown[] } {
  const params: unknown[] = [ADMIN_APPLICATION_NAME];
  const conditions = [
    "backend_type = 'client backend'",
    'pid <> pg_backend_pid()',
    'application_name IS DISTINCT FROM $1',
  ];
  if (scope.ownUserAndDatabaseOnly) {
    conditions.push('usename = current_user', 'datname = current_database()');
  }
  if (filter.applicationName !== undefined) {
    params.push(filter.applicationName);
    conditions.push(`application_name = $${params.length}`);
  }
  if (filter.state !== undefined) {
    params.push(filter.state);
    conditions.push(`state = $${params.length}`);
  }
  if (filter.pids !== undefined) {
    params.push([...filter.pids]);
    conditions.push(`pid = ANY($${params.length}::int[])`);
  }
  return { where: conditions.join(' AND '), params };
}

/**
 * Terminates the matching backends and waits until the server has reaped them, so a test that
 * continues after `await` sees them gone (`pg_terminate_backend` alone only sends a signal).
 */
export async function terminateMatchingBackends(
  connectionString: string,
  scope: BackendScope,
  filter: Parameters<typeof backendWhereClause>[1],
): Promise<number> {
  const { where, params } = backendWhereClause(scope, filter);
  const rows = await runAdminQuery<{ pid: number; terminated: boolean }>(
    connectionString,
    `SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE ${where}`,
    params,
  );
  const pids = rows.filter((row) => row.terminated).map((row) => row.pid);
  if (pids.length === 0) return 0;
  // One admin connection that polls the server until the pids are gone; bounded at 10 s.
  await runAdminQuery(
    connectionString,
    `DO $$
     DECLARE deadline timestamptz := clock_timestamp() + interval '10 seconds';
     BEGIN
       WHILE EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ANY('{${pids.join(',')}}'::int[])) LOOP
         IF clock_timestamp() > deadline THEN
           RAISE EXCEPTION 'backends still running 10 s after pg_terminate_backend';
         END IF;
         PERFORM pg_sleep(0.005);
         -- pg_stat_activity is a per-transaction snapshot; refresh it.
         PERFORM pg_stat_clear_snapshot();
       END LOOP;
     END $$`,
  );
  return pids.length;
}

/** Counts client backends matching `filter`, excluding admin connections. */
export async function countMatchingBackends(
  connectionString: string,
  scope: BackendScope,
  filter: { readonly applicationName?: string },
): Promise<number> {
  const { where, params } = backendWhereClause(scope, filter);
  const rows = await runAdminQuery<{ count: number }>(
    connectionString,
    `SELECT count(*)::int AS count FROM pg_stat_activity WHERE ${where}`,
    params,
  );
  return rows[0]?.count ?? 0;
}
