import { freePort, LOOPBACK } from './free-port.js';
import { inspectServer } from './inspect-server.js';
import { type PostgresServer, PostgresServerError } from './postgres-server.js';

/** The few pglite members we use (optional peer dependency, loaded only in this mode). */
interface PgliteLike {
  query<TRow>(sql: string, params?: unknown[]): Promise<{ rows: TRow[] }>;
  close(): Promise<void>;
}

interface SocketServerLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  getStats(): { activeConnections: number };
}

interface EmbeddedModules {
  create(): Promise<PgliteLike>;
  serve(db: PgliteLike, port: number, maxConnections: number): SocketServerLike;
}

async function loadEmbedded(): Promise<EmbeddedModules> {
  try {
    const [pglite, socket] = await Promise.all([
      import('@electric-sql/pglite'),
      import('@electric-sql/pglite-socket'),
    ]);
    return {
      create: async () => (await pglite.PGlite.create()) as unknown as PgliteLike,
      serve: (db, port, maxConnections) =>
        new socket.PGLiteSocketServer({
          db: db as unknown as InstanceType<typeof pglite.PGlite>,
          host: LOOPBACK,
          port,
          maxConnections,
        }),
    };
  } catch (error) {
    throw new PostgresServerError(
      'POSTGRES_UNAVAILABLE',
      'No PostgreSQL: DATABASE_URL is unset, no server binaries were found, and the embedded fallback ' +
        'needs @electric-sql/pglite@0.5.14 and @electric-sql/pglite-socket@0.2.17 installed',
      { cause: error },
    );
  }
}

function unsupported(operation: string): Promise<never> {
  return Promise.reject(
    new PostgresServerError(
      'POSTGRES_UNSUPPORTED',
      `${operation} is not available on embedded pglite: it runs inside this process as a single backend. ` +
        'Check server.capabilities (or missingCapability()) first.',
    ),
  );
}

/**
 * Serves an in-memory pglite over TCP on a free loopback port. One backend runs every query
 * in turn, so there is nothing to restart or terminate; admin queries go to pglite directly
 * and never take one of the `maxConnections` socket slots.
 */
export async function startEmbeddedPostgres(maxConnections: number): Promise<PostgresServer> {
  const modules = await loadEmbedded();
  const db = await modules.create();
  let socketServer: SocketServerLike | undefined;
  let port = 0;
  for (let attempt = 1; socketServer === undefined; attempt += 1) {
    port = await freePort();
    const candidate = modules.serve(db, port, maxConnections);
    try {
      await candidate.start();
      socketServer = candidate;
    } catch (error) {
      if (attempt >= 5 || (error as { code?: string }).code !== 'EADDRINUSE') {
        await db.close().catch(() => {});
        throw new PostgresServerError(
          'POSTGRES_START_FAILED',
          `pglite-socket could not listen on ${LOOPBACK}:${port}`,
          { cause: error },
        );
      }
    }
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await socketServer.stop().catch(() => {});
    await db.close().catch(() => {});
  };
  const server: PostgresServer = {
    kind: 'embedded',
    connectionString: `postgres://postgres@${LOOPBACK}:${port}/postgres`,
    host: LOOPBACK,
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
    countConnections: async (filter = {}) => {
      if (filter.applicationName !== undefined) {
        throw new PostgresServerError(
          'POSTGRES_UNSUPPORTED',
          'countConnections({ applicationName }) is not available on embedded pglite: it does not track application names',
        );
      }
      return socketServer.getStats().activeConnections;
    },
    kill: () => unsupported('kill()'),
    start: () => unsupported('start()'),
    restart: () => unsupported('restart()'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return inspectServer(server);
}
