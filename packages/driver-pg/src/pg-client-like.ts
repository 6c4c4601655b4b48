import type { ConnectionOptions } from 'node:tls';

/**
 * What a query returns, as far as this package's own types go. `pg`'s `QueryResult` fits; pass
 * `Client: pg.Client` to `createPgDriver()` to get `pg`'s full types on the connection.
 */
export interface PgQueryResultLike {
  readonly rows: readonly unknown[];
  readonly rowCount: number | null;
}

/** One column of a {@link PgQueryResult}, as `pg` describes it. */
export interface PgFieldLike {
  readonly name: string;
  readonly dataTypeID: number;
}

/**
 * What `pool.query()` resolves with on the `pg` driver: `pg`'s own `QueryResult`, declared here
 * (the fields below; `pg`'s object carries them all). A string of several statements resolves
 * with an array of them, as `pg` does. Give the row type per call:
 * `pool.query<PgQueryResult<{ id: number }>>(…)`.
 *
 * @typeParam TRow - one row; `pg` builds an object per row keyed by column name.
 */
export interface PgQueryResult<TRow = Record<string, unknown>> {
  /** The command tag's verb: `SELECT`, `INSERT`, … */
  readonly command: string;
  readonly rowCount: number | null;
  readonly oid: number;
  readonly fields: readonly PgFieldLike[];
  readonly rows: TRow[];
}

/** The socket under a `pg` client, read to tell whether it is still usable. */
export interface PgStreamLike {
  readonly destroyed?: boolean;
  readonly writable?: boolean;
  destroy(error?: Error): void;
  /** Node's `Writable.cork()`: writes are held until as many `uncork()` calls. */
  cork?(): void;
  uncork?(): void;
}

/**
 * The part of a `pg` `Client` this driver uses. Declared here rather than imported from `pg`'s
 * types so a change in those types is not a breaking change of this package, and so `pg-native`
 * or a test double can stand in. `pg.Client` satisfies it as is.
 *
 * Members marked optional are read when present and ignored otherwise: without
 * `getTransactionStatus()` the driver cannot tell an idle client from one in a transaction, so
 * `reset()` always sends `ROLLBACK`; without `connection.stream` a broken socket is noticed only
 * through the client's `error` and `end` events.
 */
export interface PgClientLike {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<PgQueryResultLike>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  /** `'I'` idle, `'T'` in a transaction, `'E'` in a failed transaction (pg ≥ 8.16). */
  getTransactionStatus?(): string | null;
  /** pg's flag: `false` while a query is on the wire, `true` once the server is ready again. */
  readonly readyForQuery?: boolean;
  /**
   * pg ≥ 8.23's pipeline mode: statements are written without waiting for earlier answers. The
   * driver's `query()` (what `pool.query()` uses) switches it on while its statements are in
   * flight and off again after (a client configured with `pipeline: true` stays pipelined).
   */
  pipeline?: boolean;
  /** The server process id of this connection (`pg_backend_pid()`), once connected. */
  readonly processID?: number | null;
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly connection?: { readonly stream?: PgStreamLike };
}

/**
 * The `pg` client settings this driver accepts in `config`: the common fields of `pg`'s
 * `ClientConfig`, with the same types, so a `pg.ClientConfig` value can be passed as is (other
 * fields such as `types` pass through untouched).
 */
export interface PgClientConfig {
  readonly user?: string | undefined;
  readonly database?: string | undefined;
  readonly password?: string | (() => string | Promise<string>) | undefined;
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly connectionString?: string | undefined;
  readonly keepAlive?: boolean | undefined;
  readonly keepAliveInitialDelayMillis?: number | undefined;
  readonly statement_timeout?: false | number | undefined;
  readonly ssl?: boolean | ConnectionOptions | undefined;
  readonly enableChannelBinding?: boolean | undefined;
  readonly sslnegotiation?: 'postgres' | 'direct' | undefined;
  readonly query_timeout?: number | undefined;
  readonly lock_timeout?: number | undefined;
  readonly idle_in_transaction_session_timeout?: number | undefined;
  readonly application_name?: string | undefined;
  readonly fallback_application_name?: string | undefined;
  readonly connectionTimeoutMillis?: number | undefined;
  readonly options?: string | undefined;
  readonly client_encoding?: string | undefined;
  readonly pipeline?: boolean | undefined;
}

/** A client class: `pg.Client` (the default), `pg.native.Client`, or a test double. */
export type PgClientConstructor<TClient extends PgClientLike = PgClientLike> = new (
  config: PgClientConfig,
) => TClient;
