// biome-ignore-all lint/suspicious/noExplicitAny: the query() and on() signatures are @types/pg's own, so code written against pg.Pool keeps the result types it had (rows typed any).
import { EventEmitter } from 'node:events';
import {
  type Clock,
  ConnectError,
  InvalidOptionError,
  InvalidReleaseError,
  type Logger,
  PoolClosedError,
  redactSecrets,
  type TimerHandle,
} from '@enhanced-pool/core';
import { createPgDriver, type PgDriver } from '@enhanced-pool/driver-pg';
import { createPool, type Pool as EnhancedPool, type Lease } from '@enhanced-pool/pool';
import type {
  Pool as PgPool,
  PoolOptions as PgPoolOptions,
  PoolClient,
  QueryArrayConfig,
  QueryArrayResult,
  QueryConfig,
  QueryConfigValues,
  QueryResult,
  QueryResultRow,
  Submittable,
} from 'pg';
import { ClientState } from './client-state.js';
import { type CompatClient, type CompatDriverHooks, createCompatDriver } from './compat-driver.js';
import type { PoolConfig } from './pool-config.js';
import { type LogFunction, resolvePoolConfig } from './resolve-pool-config.js';

const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;
const RELEASED_TWICE = 'Release called on client which has already been released to the pool.';
const noop = (): void => {};

/** pg's `Client` has `ref()` and `unref()` (on its socket); `@types/pg` does not declare them. */
interface Unreferable {
  ref?(): void;
  unref?(): void;
}

type QueryCallback = (error: Error | undefined, result?: QueryResult) => void;
type ConnectCallback = (
  error: Error | undefined,
  client: PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/** The enhanced pool reports a failed connect as `ConnectError`; pg-pool callers expect pg's own error. */
function callerError(error: unknown): unknown {
  return ConnectError.isInstance(error) && error.cause !== undefined ? error.cause : error;
}

/**
 * Whether a released client needs the driver's `reset()`: a transaction is open or failed, or a
 * statement is still on the wire. pg reports neither for a client that is not pg's own (pg-native,
 * a test double): those go back as they are, as in pg-pool.
 */
function needsReset(client: CompatClient): boolean {
  const { readyForQuery, getTransactionStatus } = client as {
    readonly readyForQuery?: boolean;
    getTransactionStatus?(): string | null;
  };
  if (readyForQuery === false) return true;
  if (typeof getTransactionStatus !== 'function') return false;
  const status = getTransactionStatus.call(client);
  return status === 'T' || status === 'E';
}

/** Settles like `work`, or rejects with the signal's reason once it aborts: a hook that hangs can't hold a connect past its deadline. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function isSubmittable(value: unknown): value is Submittable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { submit?: unknown }).submit === 'function'
  );
}

/**
 * A drop-in for `pg.Pool` (pg-pool 3.14): the same constructor, methods, events and counters,
 * backed by the enhanced pool, so the breaker, validation of idle connections, health checks,
 * bounded `end()` and metrics come with changing one import. `pool.enhanced` is the enhanced
 * pool itself, for `getStats()`, readiness, `runHealthCheck()` and the metrics exporters.
 *
 * @example
 * import { Pool } from '@enhanced-pool/pg-compat';
 *
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * pool.on('error', (error) => console.error('idle client error', error.message));
 * const { rows } = await pool.query('SELECT $1::text AS name', ['world']);
 */
export class Pool extends EventEmitter implements PgPool {
  /** The configuration with pg-pool's defaults filled in; `password` and `connectionString` are hidden from enumeration. */
  options: PgPoolOptions;
  /** pg-pool's `log` option (a no-op without it). */
  log: LogFunction;
  /** The enhanced pool under this one. Its connections are the same `pg` clients. */
  readonly enhanced: EnhancedPool<PoolClient>;
  /** `end()` was called: `connect()` and `query()` now fail. */
  ending = false;
  /** `end()` has finished: every client is closed. */
  ended = false;

  readonly #clients = new Map<CompatClient, ClientState>();
  readonly #pgDriver: PgDriver<CompatClient>;
  /** Aborts resets in flight when the pool ends. */
  readonly #endController = new AbortController();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #allowExitOnIdle: boolean;
  readonly #maxLifetimeMs: number;
  readonly #endTimeoutMs: number;
  readonly #onConnect: ((client: PoolClient) => unknown) | undefined;
  readonly #verify:
    | ((client: PoolClient, done: (error?: Error | undefined) => void) => void)
    | undefined;
  readonly #Promise: PromiseConstructorLike | undefined;
  /** `connect()`s and `query()`s waiting for a client; `end()` lets them be served first. */
  #pending = 0;
  #drained: (() => void) | undefined = undefined;

  /**
   * @param config - pg-pool's configuration plus `enhanced`; see {@link PoolConfig}. Invalid
   * values throw `InvalidOptionError` naming the option, the value and the allowed range.
   * @param Client - the client class, as `pg` passes it to pg-pool (the `Client` option wins).
   */
  constructor(config?: PoolConfig, Client?: unknown) {
    super();
    const resolved = resolvePoolConfig(config, Client);
    this.options = resolved.publicOptions;
    this.log = resolved.log;
    this.#clock = resolved.clock;
    this.#logger = resolved.logger;
    this.#allowExitOnIdle = resolved.allowExitOnIdle;
    this.#maxLifetimeMs = resolved.maxLifetimeMs;
    this.#endTimeoutMs = resolved.endTimeoutMs;
    this.#onConnect = resolved.onConnect;
    this.#verify = resolved.verify;
    this.#Promise = resolved.Promise;

    const hooks: CompatDriverHooks = {
      opened: (client, signal) => this.#opened(client, signal),
      closed: (client) => this.#closed(client),
      abandoned: (client) => {
        this.#clients.delete(client);
      },
    };
    let driver: ReturnType<typeof createCompatDriver>;
    try {
      this.#pgDriver = createPgDriver(resolved.driverOptions);
      driver = createCompatDriver(this.#pgDriver, hooks);
    } catch (error) {
      throw renameDriverError(error, config);
    }
    try {
      this.enhanced = createPool<PoolClient>({ ...resolved.poolOptions, driver });
    } catch (error) {
      throw renameEnhancedError(error, resolved.enhancedKeys);
    }
  }

  /** Clients open or being opened (pg-pool counts a client from the moment it starts connecting). */
  get totalCount(): number {
    const stats = this.enhanced.getStats();
    return stats.poolSize + stats.connecting;
  }

  /** Clients in the pool, ready to hand out. */
  get idleCount(): number {
    return this.enhanced.getStats().idleConnections;
  }

  /**
   * `connect()`s and `query()`s waiting for a client to come free. As in pg-pool, a caller for
   * whom a new client is being opened is not counted.
   */
  get waitingCount(): number {
    const stats = this.enhanced.getStats();
    return Math.max(0, stats.pending - stats.connecting);
  }

  /** Clients past `maxLifetimeSeconds` that are still checked out (they close on release). */
  get expiredCount(): number {
    const lifetime = this.#maxLifetimeMs;
    if (lifetime === Infinity) return 0;
    const now = this.#clock.now();
    let expired = 0;
    for (const state of this.#clients.values()) {
      if (state.lease !== undefined && now - state.createdAt >= lifetime) expired++;
    }
    return expired;
  }

  /**
   * Checks a client out: an idle one (validated first if it sat idle a while), a new one, or the
   * next one released. Give it back with `client.release()`; `client.release(error)` or
   * `client.release(true)` closes it instead. Without `connectionTimeoutMillis` it waits as long
   * as it takes, as in pg-pool; while the database is down the breaker may refuse at once with
   * `CircuitOpenError`. A failed connect rejects with pg's own error.
   */
  connect(): Promise<PoolClient>;
  connect(callback: ConnectCallback): void;
  connect(callback?: ConnectCallback): Promise<PoolClient> | undefined {
    if (this.ending) {
      const error = this.#closedError();
      if (callback === undefined) return this.#promise(Promise.reject(error));
      callback(error, undefined, noop);
      return undefined;
    }
    const promise = this.#acquire().then((lease) => this.#checkout(lease));
    if (callback === undefined) return this.#promise(promise);
    promise.then(
      (client) => process.nextTick(callback, undefined, client, client.release),
      (error: Error) => process.nextTick(callback, error, undefined, noop),
    );
    return undefined;
  }

  /**
   * Runs one statement on a client from the pool and gives the client back, as pg-pool does: text
   * and values, or a query config (`{ text, values, rowMode, types, name }`), with a promise or
   * a callback. A statement that fails because the connection died retires that client; one
   * that fails for any other reason (a syntax error, a constraint) leaves it in the pool.
   */
  query<T extends Submittable>(queryStream: T): T;
  query<R extends any[] = any[], I = any[]>(
    queryConfig: QueryArrayConfig<I>,
    values?: QueryConfigValues<I>,
  ): Promise<QueryArrayResult<R>>;
  query<R extends QueryResultRow = any, I = any[]>(
    queryConfig: QueryConfig<I>,
  ): Promise<QueryResult<R>>;
  query<R extends QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | QueryConfig<I>,
    values?: QueryConfigValues<I>,
  ): Promise<QueryResult<R>>;
  query<R extends any[] = any[], I = any[]>(
    queryConfig: QueryArrayConfig<I>,
    callback: (err: Error, result: QueryArrayResult<R>) => void,
  ): void;
  query<R extends QueryResultRow = any, I = any[]>(
    queryTextOrConfig: string | QueryConfig<I>,
    callback: (err: Error, result: QueryResult<R>) => void,
  ): void;
  query<R extends QueryResultRow = any, I = any[]>(
    queryText: string,
    values: QueryConfigValues<I>,
    callback: (err: Error, result: QueryResult<R>) => void,
  ): void;
  query(text: unknown, values?: unknown, callback?: unknown): any {
    if (typeof text === 'function') {
      const error = new TypeError(
        'Passing a function as the first parameter to pool.query is not supported',
      );
      setImmediate(text as (error: Error) => void, error);
      return undefined;
    }
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    const promise = this.#query(text, values);
    if (typeof callback !== 'function') return this.#promise(promise);
    const done = callback as QueryCallback;
    promise.then(
      (result) => process.nextTick(done, undefined, result),
      (error: Error) => process.nextTick(done, error),
    );
    return undefined;
  }

  /**
   * Shuts the pool down: `connect()` and `query()` fail from now on; queued ones are still
   * served, idle clients close, and checked-out clients close when released. Unlike pg-pool it
   * always finishes: after `enhanced.endTimeoutMs` (30 s) whatever is still checked out is
   * closed and whatever still waits is rejected. A second call rejects, as in pg-pool.
   */
  end(): Promise<void>;
  end(callback: (error?: Error) => void): void;
  end(callback?: (error?: Error) => void): Promise<void> | undefined {
    this.log('ending');
    let promise: Promise<void>;
    if (this.ending) promise = Promise.reject(this.#closedError());
    else {
      this.ending = true;
      promise = this.#end();
    }
    if (callback === undefined) return this.#promise(promise);
    promise.then(
      () => process.nextTick(callback),
      (error: Error) => process.nextTick(callback, error),
    );
    return undefined;
  }

  /** pg-pool's events, typed as `@types/pg` types them. */
  override on(
    event: 'error' | 'release',
    listener: (error: Error, client: PoolClient) => void,
  ): this;
  override on(
    event: 'connect' | 'acquire' | 'remove',
    listener: (client: PoolClient) => void,
  ): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /** `on()`, for one event only. */
  override once(
    event: 'error' | 'release',
    listener: (error: Error, client: PoolClient) => void,
  ): this;
  override once(
    event: 'connect' | 'acquire' | 'remove',
    listener: (client: PoolClient) => void,
  ): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /** Never prints options or clients: they can hold credentials. */
  [inspectSymbol](): string {
    return (
      `Pool { name: '${this.enhanced.name}', totalCount: ${this.totalCount}, ` +
      `idleCount: ${this.idleCount}, waitingCount: ${this.waitingCount}, ` +
      `ending: ${this.ending}, ended: ${this.ended} }`
    );
  }

  // ---------------------------------------------------------------------------------------
  // Checking clients out and in

  #acquire(): Promise<Lease<CompatClient>> {
    this.#pending++;
    return (this.enhanced.acquire() as Promise<Lease<CompatClient>>).then(
      (lease) => {
        this.#settled();
        return lease;
      },
      (error: unknown) => {
        this.#settled();
        throw callerError(error);
      },
    );
  }

  #settled(): void {
    if (--this.#pending === 0 && this.#drained !== undefined) this.#drained();
  }

  /** Marks the client checked out and tells `acquire` listeners; releases it if one throws. */
  #take(lease: Lease<CompatClient>): ClientState {
    const client = lease.connection;
    let state = this.#clients.get(client);
    if (state === undefined) {
      state = new ClientState(client, this.#clock.now());
      this.#clients.set(client, state);
    }
    state.lease = lease;
    if (this.#allowExitOnIdle) (client as Unreferable).ref?.();
    try {
      this.emit('acquire', client);
    } catch (error) {
      this.#give(state, lease, undefined, false);
      throw error;
    }
    return state;
  }

  #checkout(lease: Lease<CompatClient>): PoolClient {
    const state = this.#take(lease);
    const client = state.client;
    client.release = (error?: unknown) => {
      if (state.lease !== lease) throw new InvalidReleaseError('already-released', RELEASED_TWICE);
      this.#give(state, lease, error, true);
    };
    return client;
  }

  /**
   * Ends a checkout. `destroy`: a truthy `error` closes the client (pg-pool's `release(err)`);
   * otherwise it is reported to the pool, which retires the client only when the error says
   * the connection is dead.
   */
  #give(state: ClientState, lease: Lease<CompatClient>, error: unknown, destroy: boolean): void {
    state.lease = undefined;
    const client = state.client;
    try {
      this.emit('release', error, client);
    } finally {
      if (error && destroy) lease.destroy(error === true ? undefined : error);
      else {
        if (error) lease.reportError(error);
        if (needsReset(client)) void this.#resetThenRelease(lease, client);
        else {
          lease.release();
          if (this.#allowExitOnIdle) (client as Unreferable).unref?.();
        }
      }
    }
  }

  /** Rolls back a transaction left open (or waits out a statement still running), then releases. */
  async #resetThenRelease(lease: Lease<CompatClient>, client: CompatClient): Promise<void> {
    try {
      await this.#pgDriver.reset(client, { signal: this.#endController.signal });
    } catch (error) {
      lease.destroy(error);
      return;
    }
    lease.release();
    if (this.#allowExitOnIdle) (client as Unreferable).unref?.();
  }

  #query(text: unknown, values: unknown): Promise<QueryResult> {
    if (this.ending) return Promise.reject(this.#closedError());
    if (isSubmittable(text)) {
      return Promise.reject(
        new TypeError(
          'pool.query() does not take a Submittable (a stream or cursor): check a client out with pool.connect() and call client.query() on it',
        ),
      );
    }
    return this.#acquire().then(
      (lease) =>
        new Promise<QueryResult>((resolve, reject) => {
          const state = this.#take(lease);
          const finish = (error: Error | undefined, result?: QueryResult): void => {
            this.#give(state, lease, error, false);
            if (error) reject(error);
            else resolve(result as QueryResult);
          };
          try {
            (
              state.client.query as (
                text: unknown,
                values: unknown,
                callback: (error: Error | undefined, result: QueryResult) => void,
              ) => void
            )(text, values, finish);
          } catch (error) {
            finish(error as Error);
          }
        }),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Lifecycle

  async #end(): Promise<void> {
    const startedAt = this.#clock.now();
    if (this.#pending > 0) await this.#drain(this.#endTimeoutMs);
    const remaining = Math.max(0, this.#endTimeoutMs - (this.#clock.now() - startedAt));
    const closed = this.enhanced.close({ timeoutMs: remaining });
    this.#endController.abort(this.#closedError());
    await closed;
    this.ended = true;
  }

  /** Resolves once no `connect()` or `query()` waits for a client, or after `timeoutMs`. */
  #drain(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | undefined;
      this.#drained = () => {
        this.#drained = undefined;
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        resolve();
      };
      timer = this.#clock.setTimeout(() => this.#drained?.(), timeoutMs);
    });
  }

  async #opened(client: CompatClient, signal: AbortSignal): Promise<void> {
    const state = new ClientState(client, this.#clock.now());
    this.#clients.set(client, state);
    // After the driver's own listener, so the client is already marked broken when this runs.
    client.on('error', (error: Error) => this.#clientError(state, error));
    if (this.#allowExitOnIdle) (client as Unreferable).unref?.();
    const onConnect = this.#onConnect;
    if (onConnect !== undefined) {
      await untilAborted(new Promise((resolve) => resolve(onConnect(client))), signal);
    }
    signal.throwIfAborted();
    this.emit('connect', client);
    const verify = this.#verify;
    if (verify !== undefined) {
      await untilAborted(
        new Promise<void>((resolve, reject) => {
          verify(client, (error) => (error ? reject(error) : resolve()));
        }),
        signal,
      );
    }
  }

  #closed(client: CompatClient): void {
    this.#clients.delete(client);
    try {
      this.emit('remove', client);
    } catch (error) {
      this.#logger.error('a pool "remove" listener threw', { error: messageOf(error) });
    }
  }

  /**
   * A client emitted `error`. While checked out, that is its holder's to handle (the pool only
   * retires it on release). While idle, pg-pool's rule: the client leaves the pool and the error
   * goes to the pool's `error` event, with the client as second argument. Without a listener
   * the error is logged instead of crashing the process.
   */
  #clientError(state: ClientState, error: Error): void {
    if (state.lease !== undefined) return;
    if (state.errored) {
      this.log('additional client error after disconnection due to error', error);
      return;
    }
    state.errored = true;
    const client = state.client;
    if (typeof error === 'object' && error !== null) {
      Object.defineProperty(error, 'client', {
        configurable: true,
        enumerable: false,
        writable: true,
        value: client,
      });
    }
    // The driver has marked the client broken; a health check's sweep closes it now.
    if (!this.ending) this.enhanced.runHealthCheck().catch(noop);
    if (this.listenerCount('error') > 0) {
      this.emit('error', error, client);
      return;
    }
    this.#logger.warn(
      'an idle client failed and was removed from the pool; listen to the pool\'s "error" event to handle it',
      { error: messageOf(error) },
    );
  }

  #closedError(): PoolClosedError {
    return new PoolClosedError({ poolName: this.enhanced.name });
  }

  #promise<T>(promise: Promise<T>): Promise<T> {
    const Custom = this.#Promise;
    if (Custom === undefined) return promise;
    return new Custom<T>((resolve, reject) => {
      promise.then(resolve, reject);
    }) as Promise<T>;
  }
}

function messageOf(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** The driver names its own options; here they are the connection fields or `enhanced.driverOptions.*`. */
function renameDriverError(error: unknown, config: PoolConfig | undefined): unknown {
  if (!InvalidOptionError.isInstance(error)) return error;
  const { option, value, allowed } = error as InvalidOptionError;
  if (option === 'config' || option === 'connectionString') {
    const named = config?.connectionString === undefined ? 'config' : 'connectionString';
    return new InvalidOptionError(named, value, allowed);
  }
  if (option === 'Client') return error;
  return new InvalidOptionError(`enhanced.driverOptions.${option}`, value, allowed);
}

/** An error about an option the user set in `enhanced` names it `enhanced.<option>`. */
function renameEnhancedError(error: unknown, keys: ReadonlySet<string>): unknown {
  if (!InvalidOptionError.isInstance(error)) return error;
  const { option, value, allowed } = error as InvalidOptionError;
  const root = option.split('.')[0] ?? option;
  if (!keys.has(root)) return error;
  return new InvalidOptionError(`enhanced.${option}`, value, allowed);
}
