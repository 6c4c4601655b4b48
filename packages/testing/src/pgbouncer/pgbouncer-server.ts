import type { PostgresServer } from '../postgres/postgres-server.js';

/**
 * How PgBouncer hands server connections to clients:
 * - `transaction`: a server connection is a client's only for one transaction, then goes back to
 *   PgBouncer's pool. Session state (`SET`, session advisory locks, named prepared statements in
 *   PgBouncer 1.18, `LISTEN`, temporary tables) does not follow the client.
 * - `session`: a server connection is a client's until it disconnects; PgBouncer then runs
 *   `server_reset_query` (`DISCARD ALL`) before giving it to the next client.
 */
export type PgBouncerPoolMode = 'transaction' | 'session';

/** Options of {@link startPgBouncer}. */
export interface StartPgBouncerOptions {
  /** The PostgreSQL server PgBouncer forwards to (a `local` one from `startPostgres()`). */
  readonly server: PostgresServer;
  /**
   * PgBouncer's `pool_mode`.
   * @default 'transaction'
   */
  readonly poolMode?: PgBouncerPoolMode;
  /**
   * PgBouncer's `default_pool_size`: most server connections per database and user.
   * @default 20
   */
  readonly defaultPoolSize?: number;
  /**
   * PgBouncer's `max_client_conn`.
   * @default 200
   */
  readonly maxClientConnections?: number;
  /**
   * Extra `[pgbouncer]` settings (`name = value` lines); they win over ours.
   * @default {}
   */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A PgBouncer in front of a throwaway PostgreSQL, on a free loopback port. */
export interface PgBouncerServer extends AsyncDisposable {
  readonly poolMode: PgBouncerPoolMode;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** The server's superuser through PgBouncer (trusted, as on the server itself). */
  readonly user: string;
  /** `postgres://postgres@127.0.0.1:PORT/postgres`, through PgBouncer. */
  readonly connectionString: string;
  /**
   * The server's password role through PgBouncer (SCRAM from the client to PgBouncer and from
   * PgBouncer to the server); `undefined` when the server has none. Includes the password.
   */
  readonly passwordConnectionString: string | undefined;
  /** The last lines of PgBouncer's log, for a failing test's message. */
  logTail(lines?: number): Promise<string>;
  /** Stops PgBouncer and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Stable codes of {@link PgBouncerError}. */
export type PgBouncerErrorCode =
  /** No `pgbouncer` binary, or a server PgBouncer cannot sit in front of. */
  | 'PGBOUNCER_UNAVAILABLE'
  /** PgBouncer exited or never accepted connections; the message carries its log's tail. */
  | 'PGBOUNCER_START_FAILED';

/** Why a PgBouncer could not be started. Test-kit only, like `PostgresServerError`. */
export class PgBouncerError extends Error {
  readonly code: PgBouncerErrorCode;

  constructor(code: PgBouncerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'PgBouncerError';
  }
}
