import type { ConnectionOptions } from 'node:tls';

/**
 * What a query returns, as far as this package's own types go. `pg`'s `QueryResult` fits; pass
 * `Client: pg.Client` to `createPgDriver()` to get `pg`'s full types on the connection.
 */
export interface PgQueryResultLike {
  readonly rows: readonly unknown[];
  readonly rowCount: number | null;
}

/** The socket under a `pg` client, read to tell whether it is still usable. */
export interface PgStreamLike {
  readonly destroyed?: boolean;
  readonly writable?: boolean;
  destroy(error?: Error): void;
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
