import { PGlite } from '@electric-sql/pglite';
import { type PostgresServer, PostgresServerError } from '@enhanced-pool/testing';
import { servePglite } from './pglite-server.js';

/** Connections the embedded server accepts: the pool's maximum and room for a `psql` beside it. */
const MAX_CONNECTIONS = 32;

function unsupported(operation: string): Promise<never> {
  return Promise.reject(
    new PostgresServerError(
      'POSTGRES_UNSUPPORTED',
      `${operation} is not available on embedded pglite: it runs inside this process as one backend`,
    ),
  );
}

/**
 * PostgreSQL on every machine: an in-memory pglite served over TCP on a free loopback port
 * (see {@link servePglite}: the clients share its one backend a round trip at a time). The
 * service reaches it through the fault proxy like any other server.
 */
export async function startEmbeddedDatabase(): Promise<PostgresServer> {
  const db = await PGlite.create();
  let socketServer: Awaited<ReturnType<typeof servePglite>>;
  try {
    socketServer = await servePglite(db, { maxConnections: MAX_CONNECTIONS });
  } catch (error) {
    await db.close().catch(() => {});
    throw new PostgresServerError('POSTGRES_START_FAILED', 'pglite could not be served on a port', {
      cause: error,
    });
  }
  const { port } = socketServer;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await socketServer.close().catch(() => {});
    await db.close().catch(() => {});
  };
  return {
    kind: 'embedded',
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    database: 'postgres',
    user: 'postgres',
    passwordRole: undefined,
    capabilities: Object.freeze({
      restart: false,
      terminateBackends: false,
      concurrentBackends: false,
      passwordAuth: false,
    }),
    query: async <TRow>(sql: string, params?: unknown[]) =>
      (await db.query<TRow>(sql, params)).rows,
    terminateBackends: () => unsupported('terminateBackends()'),
    countConnections: async () => socketServer.connections(),
    kill: () => unsupported('kill()'),
    start: () => unsupported('start()'),
    restart: () => unsupported('restart()'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
