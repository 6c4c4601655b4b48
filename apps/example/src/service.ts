import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { type App, createApp } from './app.js';
import { createEventLog, type EventLog } from './event-log.js';
import { createExamplePool } from './example-pool.js';
import { ensureSchema, type OrdersPool } from './orders.js';

/** Options of {@link startService}. */
export interface ServiceOptions {
  /**
   * HTTP port on 127.0.0.1; `0` picks a free one.
   * @default 3_000
   */
  readonly port?: number;
  /**
   * `application_name` of the pool's connections (what `kill-idle` selects on).
   * @default 'enhanced-pool-example'
   */
  readonly applicationName?: string;
  /**
   * How long `shutdown()` waits for leased connections before closing them anyway.
   * @default 5_000
   */
  readonly closeTimeoutMs?: number;
  /**
   * How long the `restart` fault keeps the server down.
   * @default 3_000
   */
  readonly restartDowntimeMs?: number;
  /**
   * Progress lines for a human (start-up, shutdown).
   * @default console.log
   */
  readonly print?: (line: string) => void;
}

/** What {@link Service.shutdown} found and did. */
export interface ShutdownReport {
  /**
   * Connections with the service's `application_name` the server still had after the pool
   * closed (0 is the only right answer); `undefined` when the server was not reachable.
   */
  readonly connectionsLeft: number | undefined;
  /** Whether the database server was stopped (a `DATABASE_URL` server never is). */
  readonly serverStopped: boolean;
}

/** The running example service. */
export interface Service {
  readonly url: string;
  readonly port: number;
  readonly app: App;
  readonly pool: OrdersPool;
  readonly server: PostgresServer;
  readonly events: EventLog;
  /**
   * Stops the load, closes the HTTP server, closes the pool (`close({ timeoutMs })`), counts
   * what the server still sees, and stops the server. Idempotent; later calls share the result.
   */
  shutdown(): Promise<ShutdownReport>;
}

/**
 * Starts everything `pnpm start` runs: a PostgreSQL (`startPostgres()`: `DATABASE_URL` if set,
 * else a throwaway local server), the schema, the pool and the HTTP service. If any step fails,
 * what was already started is stopped before the error is rethrown.
 */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const applicationName = options.applicationName ?? 'enhanced-pool-example';
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  const print = options.print ?? ((line: string) => console.log(line));
  const events = createEventLog();
  let server: PostgresServer | undefined;
  let pool: OrdersPool | undefined;
  let app: App | undefined;
  let shuttingDown: Promise<ShutdownReport> | undefined;

  const shutdown = (): Promise<ShutdownReport> => {
    shuttingDown ??= (async () => {
      await app?.close();
      await pool?.close({ timeoutMs: closeTimeoutMs });
      let connectionsLeft: number | undefined;
      try {
        // pglite tracks no application names; embedded, this service is its only client.
        connectionsLeft = await server?.countConnections(
          server.kind === 'embedded' ? {} : { applicationName },
        );
      } catch {
        // The server is down (stopped by a fault, or by a signal's cleanup hook): nothing to count.
      }
      const serverStopped = server !== undefined && server.kind !== 'external';
      await server?.stop();
      return { connectionsLeft, serverStopped };
    })();
    return shuttingDown;
  };

  try {
    print('Starting PostgreSQL…');
    server = await startPostgres();
    const where = `${server.host}:${server.port}/${server.database}`;
    const source =
      server.kind === 'local'
        ? 'a throwaway local server'
        : server.kind === 'external'
          ? 'DATABASE_URL (fault buttons that need a local server are disabled)'
          : 'embedded pglite (no faults; install PostgreSQL server binaries for them)';
    print(`PostgreSQL at ${where}: ${source}`);
    events.log('service', 'info', `PostgreSQL at ${where}: ${source}`);

    const created = createExamplePool({
      connectionString: server.connectionString,
      applicationName,
    });
    pool = created.pool;
    if (created.unsupportedOptions.length > 0) {
      const message = `this pool build does not know ${created.unsupportedOptions.join(', ')}; running without`;
      print(message);
      events.log('service', 'warn', message);
    }
    await pool.ready({ signal: AbortSignal.timeout(30_000) });
    await ensureSchema(pool);
    events.log('service', 'info', `pool ready: ${pool.getStats().poolSize} connections open`);

    app = createApp({
      pool,
      server,
      applicationName,
      events,
      ...(options.restartDowntimeMs === undefined
        ? {}
        : { restartDowntimeMs: options.restartDowntimeMs }),
    });
    const { url, port } = await app.listen(options.port ?? 3_000);
    events.log('service', 'info', `listening on ${url}`);
    return { url, port, app, pool, server, events, shutdown };
  } catch (error) {
    await shutdown().catch(() => undefined);
    throw error;
  }
}
