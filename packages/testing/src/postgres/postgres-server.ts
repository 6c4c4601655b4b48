/**
 * Which PostgreSQL a {@link PostgresServer} is:
 * - `external`: the server named by `DATABASE_URL`; we never stop it or drop anything in it.
 * - `local`: a throwaway server we started from the PostgreSQL binaries on this machine.
 * - `embedded`: `@electric-sql/pglite` served over TCP; one backend, for machines without binaries.
 */
export type PostgresServerKind = 'external' | 'local' | 'embedded';

/** Where to get a server from. `auto` = `DATABASE_URL`, else local binaries, else embedded. */
export type PostgresPreference = 'auto' | 'local' | 'embedded';

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /**
   * `max_connections` of the server. Every client counts, superusers included
   * (`superuser_reserved_connections` is 0 unless `settings` says otherwise), so a small value
   * is exactly how many connections fit. Ignored for `external` servers.
   * @default 100
   */
  readonly maxConnections?: number;
  /**
   * Extra server settings, as `postgresql.conf` lines (`name = value`); they win over ours.
   * Only used for `local` servers.
   * @default {}
   */
  readonly settings?: Readonly<Record<string, string | number>>;
  /**
   * Force a backend. `auto` uses `DATABASE_URL` when set, else local binaries, else embedded.
   * @default 'auto'
   */
  readonly prefer?: PostgresPreference;
}

/** What a server can do; fault tests skip (with a printed reason) what it can't. */
export interface PostgresCapabilities {
  /** `kill()`, `start()` and `restart()` work. */
  readonly restart: boolean;
  /** `terminateBackends()` really ends server backends. */
  readonly terminateBackends: boolean;
  /** Connections are separate backends running queries in parallel. */
  readonly concurrentBackends: boolean;
  /** `passwordRole` exists and the server checks its password. */
  readonly passwordAuth: boolean;
}

/** The name of one {@link PostgresCapabilities} flag. */
export type PostgresCapability = keyof PostgresCapabilities;

/** A role that must authenticate with a password (scram-sha-256) over TCP. */
export interface PostgresPasswordRole {
  readonly user: string;
  readonly password: string;
  /** Includes the password, URL-encoded. */
  readonly connectionString: string;
}

/** Which backends {@link PostgresServer.terminateBackends} ends; all given fields must match. */
export interface TerminateBackendsFilter {
  /** `application_name` of the client (the pg driver sets it from `application_name`). */
  readonly applicationName?: string;
  /** `pg_stat_activity.state`. */
  readonly state?: 'idle' | 'active' | 'idle in transaction';
  /** Server process ids, e.g. from `SELECT pg_backend_pid()` on the connection. */
  readonly pids?: readonly number[];
}

/** Which backends {@link PostgresServer.countConnections} counts. */
export interface CountConnectionsFilter {
  /** `application_name` of the client. */
  readonly applicationName?: string;
}

/** Options of {@link PostgresServer.restart}. */
export interface RestartOptions {
  /**
   * `immediate` kills the server like a crash (clients see their sockets die); `fast` is a
   * clean shutdown (clients get `57P01 terminating connection due to administrator command`).
   * @default 'immediate'
   */
  readonly mode?: 'immediate' | 'fast';
  /**
   * How long the server stays down before it comes back.
   * @default 0
   */
  readonly downtimeMs?: number;
}

/**
 * A throwaway PostgreSQL server for tests, with the fault injection that resilience tests need.
 * `await using server = await startPostgres()` stops it at the end of the scope.
 */
export interface PostgresServer extends AsyncDisposable {
  readonly kind: PostgresServerKind;
  /** Superuser with trust auth (`postgres://postgres@127.0.0.1:PORT/postgres`), or `DATABASE_URL`. */
  readonly connectionString: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** A role that authenticates with a password over TCP, for auth tests; `undefined` when unavailable. */
  readonly passwordRole: PostgresPasswordRole | undefined;
  /** What this server can do; see {@link missingCapability}. */
  readonly capabilities: PostgresCapabilities;
  /** Runs SQL on a short-lived admin connection (not counted by `countConnections`). */
  query<TRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<TRow[]>;
  /**
   * Terminates client backends (never the admin connection) and resolves once they are gone
   * from `pg_stat_activity`. Returns how many were terminated. On an `external` server only
   * backends of the same user and database are touched.
   */
  terminateBackends(filter?: TerminateBackendsFilter): Promise<number>;
  /** Counts client backends in `pg_stat_activity`, excluding admin connections. */
  countConnections(filter?: CountConnectionsFilter): Promise<number>;
  /** Immediate stop (`pg_ctl stop -m immediate`): down, data kept; `start()` brings it back on the same port. */
  kill(): Promise<void>;
  /** Starts a server that was killed, on the same port. No-op when running. */
  start(): Promise<void>;
  /** Stops (immediately by default) then starts again, optionally staying down `downtimeMs`. */
  restart(options?: RestartOptions): Promise<void>;
  /** Stops the server and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

/** Stable codes of {@link PostgresServerError}. */
export type PostgresServerErrorCode =
  /** No binaries, no `pg`, or no pglite: nothing to start a server with. */
  | 'POSTGRES_UNAVAILABLE'
  /** initdb or the server failed to start; the message carries the server log's tail. */
  | 'POSTGRES_START_FAILED'
  /** The operation needs a capability this kind of server lacks, or the server was stopped. */
  | 'POSTGRES_UNSUPPORTED';

/**
 * Why a throwaway server could not be started or could not do what was asked. Test-kit only,
 * so it is not part of the `EnhancedPoolError` family the runtime packages throw.
 */
export class PostgresServerError extends Error {
  readonly code: PostgresServerErrorCode;

  constructor(code: PostgresServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'PostgresServerError';
  }
}

const CAPABILITY_REASONS: Record<PostgresServerKind, Record<PostgresCapability, string>> = {
  external: {
    restart: 'the server comes from DATABASE_URL and is not ours to kill or restart',
    terminateBackends: 'the DATABASE_URL role may not terminate backends',
    concurrentBackends: 'the DATABASE_URL server does not run backends concurrently',
    passwordAuth:
      'no password-checked role is known for a DATABASE_URL server (unset DATABASE_URL to use a local one)',
  },
  local: {
    restart: 'the local server cannot be restarted',
    terminateBackends: 'the local server cannot terminate backends',
    concurrentBackends: 'the local server does not run backends concurrently',
    passwordAuth: 'the local server has no password-checked role',
  },
  embedded: {
    restart: 'embedded pglite runs inside this process and cannot be killed and restarted',
    terminateBackends: 'embedded pglite has a single backend, so there is none to terminate',
    concurrentBackends: 'embedded pglite runs one query at a time on a single backend',
    passwordAuth: 'embedded pglite accepts any password',
  },
};

/**
 * Why `server` can't do `capability`, as a sentence to print when skipping a test, or
 * `undefined` when it can. Lets a runner-agnostic test skip honestly, e.g.
 * `it.skipIf(missingCapability(server, 'restart'))`.
 */
export function missingCapability(
  server: Pick<PostgresServer, 'kind' | 'capabilities'>,
  capability: PostgresCapability,
): string | undefined {
  if (server.capabilities[capability]) return undefined;
  const hint =
    server.kind === 'embedded' ? ' (install PostgreSQL server binaries for the full suite)' : '';
  return `needs "${capability}": ${CAPABILITY_REASONS[server.kind][capability]}${hint}`;
}
