import { countMatchingBackends, runAdminQuery, terminateMatchingBackends } from './admin-client.js';
import { inspectServer } from './inspect-server.js';
import { type PostgresServer, PostgresServerError } from './postgres-server.js';

function unsupported(operation: string): Promise<never> {
  return Promise.reject(
    new PostgresServerError(
      'POSTGRES_UNSUPPORTED',
      `${operation} is not available on the DATABASE_URL server: it is not ours to stop. ` +
        'Check server.capabilities.restart (or missingCapability(server, "restart")) first.',
    ),
  );
}

/**
 * Wraps the server named by `DATABASE_URL`. We never stop it or drop anything in it, and
 * counting/terminating backends is scoped to our own user and database so a shared dev
 * database's other clients are left alone.
 */
export async function useExternalPostgres(databaseUrl: string): Promise<PostgresServer> {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch (error) {
    throw new PostgresServerError(
      'POSTGRES_UNAVAILABLE',
      'DATABASE_URL is not a valid postgres:// URL',
      { cause: error },
    );
  }
  const user = decodeURIComponent(url.username) || process.env.USER || 'postgres';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || user;
  const scope = { ownUserAndDatabaseOnly: true };
  // Fail now, with a clear cause, rather than in the first test.
  try {
    await runAdminQuery(databaseUrl, 'SELECT 1');
  } catch (error) {
    throw new PostgresServerError(
      'POSTGRES_UNAVAILABLE',
      'Could not connect to the server in DATABASE_URL',
      { cause: error },
    );
  }
  const server: PostgresServer = {
    kind: 'external',
    connectionString: databaseUrl,
    host: url.hostname || 'localhost',
    port: url.port === '' ? 5432 : Number(url.port),
    database,
    user,
    passwordRole: undefined,
    capabilities: Object.freeze({
      restart: false,
      terminateBackends: true,
      concurrentBackends: true,
      passwordAuth: false,
    }),
    query: <TRow>(sql: string, params?: unknown[]) => runAdminQuery<TRow>(databaseUrl, sql, params),
    terminateBackends: (filter = {}) => terminateMatchingBackends(databaseUrl, scope, filter),
    countConnections: (filter = {}) => countMatchingBackends(databaseUrl, scope, filter),
    kill: () => unsupported('kill()'),
    start: () => unsupported('start()'),
    restart: () => unsupported('restart()'),
    // Nothing of ours to remove: the server and its data belong to the user.
    stop: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return inspectServer(server);
}
