import { createFaultProxy, type FaultProxy, type PostgresServer } from '@enhanced-pool/testing';
import { type App, createApp } from './app.js';
import { type DatabaseChoice, startDatabase } from './database.js';
import { createEventLog, type EventLog } from './event-log.js';
import { createExamplePool } from './example-pool.js';
import { ensureMolecules, type MoleculesPool } from './molecules.js';

/** Options of {@link startService}. */
export interface ServiceOptions {
  /**
   * HTTP port on 127.0.0.1; `0` picks a free one.
   * @default 3_000
   */
  readonly port?: number;
  /**
   * Which database to run on (see {@link DatabaseChoice}).
   * @default 'auto'
   */
  readonly database?: DatabaseChoice;
  /**
   * `application_name` of the pool's connections (what the `terminate-*` faults select on).
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
   * How often the dashboard's figures are sampled and pushed.
   * @default 1_000
   */
  readonly snapshotIntervalMs?: number;
  /**
   * Progress lines for a human (start-up, shutdown).
   * @default console.log
   */
  readonly print?: (line: string) => void;
}

/** What {@link Service.shutdown} found and did. */
export interface ShutdownReport {
  /**
   * Connections the server still had from the service after the pool closed (0 is the only
   * right answer); `undefined` when the server was not reachable.
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
  readonly pool: MoleculesPool;
  readonly server: PostgresServer;
  /** Between the pool and the server: every pool connection goes through it. */
  readonly proxy: FaultProxy;
  readonly events: EventLog;
  /**
   * Stops the load, closes the HTTP server, closes the pool (`close({ timeoutMs })`), counts
   * what the server still sees, closes the proxy and stops the server. Idempotent.
   */
  shutdown(): Promise<ShutdownReport>;
}

/** Polls until the server counts `expected` connections or `timeoutMs` passes; the last count. */
async function settledCount(
  count: () => Promise<number>,
  expected: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let current = await count();
  while (current !== expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    current = await count();
  }
  return current;
}

/**
 * Starts everything `pnpm start` runs: the database (see {@link DatabaseChoice}), the fault
 * proxy in front of it, the pool (connecting through the proxy), the `molecules` table and the
 * HTTP service. If a step fails, what was already started is stopped before the error is
 * rethrown.
 */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const applicationName = options.applicationName ?? 'enhanced-pool-example';
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  const print = options.print ?? ((line: string) => console.log(line));
  const events = createEventLog();
  let server: PostgresServer | undefined;
  let proxy: FaultProxy | undefined;
  let pool: MoleculesPool | undefined;
  let app: App | undefined;
  let shuttingDown: Promise<ShutdownReport> | undefined;

  const shutdown = (): Promise<ShutdownReport> => {
    shuttingDown ??= (async () => {
      await app?.close();
      await pool?.close({ timeoutMs: closeTimeoutMs });
      let connectionsLeft: number | undefined;
      try {
        // Embedded, the service is the server's only client; elsewhere, count its own.
        const count = () =>
          server === undefined
            ? Promise.resolve(0)
            : server.countConnections(server.kind === 'embedded' ? {} : { applicationName });
        // The server notices closed sockets a moment after the pool has closed them.
        connectionsLeft = await settledCount(count, 0, 2_000);
      } catch {
        // The server is down (a restart fault failed half-way): nothing to count.
      }
      await proxy?.close();
      const serverStopped = server !== undefined && server.kind !== 'external';
      await server?.stop();
      return { connectionsLeft, serverStopped };
    })();
    return shuttingDown;
  };

  try {
    print('Starting the database…');
    const started = await startDatabase(options.database ?? 'auto');
    server = started.server;
    proxy = await createFaultProxy({ target: { host: server.host, port: server.port } });
    const where = `${server.host}:${server.port}/${server.database}`;
    print(`Database: ${started.description}, at ${where}.`);
    print(`The pool connects through the fault proxy on ${proxy.host}:${proxy.port}.`);
    events.log('service', 'info', `database: ${started.description} at ${where}`);
    events.log('service', 'info', `fault proxy on ${proxy.host}:${proxy.port} → ${where}`);

    const created = createExamplePool({
      connectionString: proxy.connectionString(server.connectionString),
      applicationName,
    });
    pool = created.pool;
    if (created.unsupportedOptions.length > 0) {
      const message = `this pool build does not know ${created.unsupportedOptions.join(', ')}; running without`;
      print(message);
      events.log('service', 'warn', message);
    }
    await pool.ready({ signal: AbortSignal.timeout(30_000) });
    const rows = await ensureMolecules(pool);
    events.log(
      'service',
      'info',
      `pool ready: ${pool.getStats().poolSize} connections open; ${rows} molecules`,
    );

    app = createApp({
      pool,
      server,
      proxy,
      applicationName,
      events,
      ...(options.restartDowntimeMs === undefined
        ? {}
        : { restartDowntimeMs: options.restartDowntimeMs }),
      ...(options.snapshotIntervalMs === undefined
        ? {}
        : { snapshotIntervalMs: options.snapshotIntervalMs }),
    });
    const { url, port } = await app.listen(options.port ?? 3_000);
    events.log('service', 'info', `listening on ${url}`);
    return { url, port, app, pool, server, proxy, events, shutdown };
  } catch (error) {
    await shutdown().catch(() => undefined);
    throw error;
  }
}
