import {
  type Clock,
  type Driver,
  type DriverCallOptions,
  type DriverDescription,
  type FleetSlots,
  InvalidOptionError,
  redactSecrets,
  redactValue,
  type TimerHandle,
  unrefTimer,
} from '@enhanced-pool/core';
import pg from 'pg';
import { classifyPgError } from './classify-pg-error.js';
import type {
  PgClientConfig,
  PgClientConstructor,
  PgClientLike,
  PgQueryResult,
} from './pg-client-like.js';
import { type PgDriverOptions, resolvePgDriverOptions } from './pg-driver-options.js';
import { createPgFleetSlots } from './pg-fleet-slots.js';
import { createPgQuery } from './pg-query.js';

/**
 * The `pg` adapter: a {@link Driver} whose connections are `pg` clients, so
 * `lease.connection.query(…)` is the API users already know. `reset()` and `isBroken()` are
 * always provided.
 */
export interface PgDriver<TClient extends PgClientLike = PgClientLike>
  extends Driver<TClient, PgQueryResult> {
  readonly name: 'pg';
  /**
   * Rolls back an open or failed transaction; no round trip when the client is idle outside a
   * transaction. A query still on the wire (e.g. one the borrower did not await) is waited for,
   * within `validationTimeoutMs`, and rolled back after. Rejects (so the pool discards the
   * connection) when the connection is broken or the `ROLLBACK` fails or times out. Session
   * settings, temporary tables and prepared statements are kept: `DISCARD ALL` would cost a
   * round trip per release and break `pg`'s client-side cache of prepared statements.
   */
  reset(connection: TClient, options: DriverCallOptions): Promise<void>;
  /**
   * True once the client has emitted `error` or `end`, was closed or timed out by this driver,
   * or its socket is destroyed or no longer writable. No I/O.
   */
  isBroken(connection: TClient): boolean;
  /**
   * Runs one statement for `pool.query()` with pg's pipelining (pg ≥ 8.23), switched on only
   * while the pool's statements are in flight, so the pool can send statements from many
   * callers down one connection without waiting for each answer. Errors are pg's own, with
   * credentials removed.
   */
  query(
    connection: TClient,
    text: string,
    values: readonly unknown[] | undefined,
    options: DriverCallOptions,
  ): Promise<PgQueryResult>;
  readonly pipelining: true;
  /**
   * Slots of the pool's `fleetBudget` as PostgreSQL session advisory locks on `(key, slot)`,
   * freed by the server when a connection's session ends. Refuses (`unsupported`) a connection
   * whose session does not stay with it, as behind PgBouncer in transaction mode.
   */
  readonly fleetSlots: FleetSlots<TClient>;
}

/** What the driver remembers about each connection, keyed by the client (not stored on it). */
interface ConnectionState {
  broken: boolean;
  /** The first error the client emitted, rethrown by `validate()` and `reset()`. */
  error: unknown;
  closing: Promise<void> | undefined;
}

/**
 * Creates the `pg` driver for a pool (or for standalone use).
 *
 * The target is checked at once: a connection string or config `pg` can't parse throws
 * {@link InvalidOptionError} here, not on the first acquire. Connections get TCP keepalive and
 * an `application_name` (see {@link PgDriverOptions}), and an `error` listener before they
 * connect, so an idle connection whose server goes away marks itself broken instead of
 * crashing the process.
 *
 * The password stays inside the driver's closure and the clients it creates: it is not a
 * property of the driver, never part of `describe()`, and removed from every error this driver
 * rejects with. `pg`'s own `Client` also holds it, in a non-enumerable property.
 *
 * @example
 * import { createPool } from '@enhanced-pool/pool';
 * import { createPgDriver } from '@enhanced-pool/driver-pg';
 * import pg from 'pg';
 *
 * const driver = createPgDriver({ connectionString: process.env.DATABASE_URL, Client: pg.Client });
 * const pool = createPool({ driver, minSize: 2, maxSize: 10 });
 * const { rows } = await pool.withConnection((client) => client.query('SELECT now()'));
 */
export function createPgDriver<TClient extends PgClientLike = PgClientLike>(
  options: PgDriverOptions<TClient>,
): PgDriver<TClient> {
  const resolved = resolvePgDriverOptions(options);
  const { clientConfig, clock, validationQuery, validationTimeoutMs, closeTimeoutMs } = resolved;
  const Client = resolved.Client ?? (pg.Client as unknown as PgClientConstructor<TClient>);
  const target = inspectTarget(Client, clientConfig, resolved.targetOption);
  const states = new WeakMap<PgClientLike, ConnectionState>();

  const stateOf = (client: PgClientLike): ConnectionState => {
    let state = states.get(client);
    if (state === undefined) {
      state = { broken: false, error: undefined, closing: undefined };
      states.set(client, state);
    }
    return state;
  };

  const markBroken = (client: PgClientLike): void => {
    stateOf(client).broken = true;
  };

  const isBroken = (client: TClient): boolean => {
    if (states.get(client)?.broken === true) return true;
    const stream = client.connection?.stream;
    return stream !== undefined && (stream.destroyed === true || stream.writable === false);
  };

  /** The error to reject with for a connection already known to be dead. */
  const brokenError = (client: TClient): unknown =>
    scrub(states.get(client)?.error ?? connectionClosedError(), client);

  const scrub = (error: unknown, client?: PgClientLike): unknown =>
    scrubSecrets(error, [target.password, readPassword(client)]);

  const close = (client: TClient): Promise<void> => {
    const state = stateOf(client);
    state.broken = true;
    state.closing ??= closeClient(client, clock, closeTimeoutMs);
    return state.closing;
  };

  const driver: PgDriver<TClient> = {
    specificationVersion: 'v1',
    name: 'pg',

    async connect({ signal }: DriverCallOptions): Promise<TClient> {
      signal.throwIfAborted();
      const client = new Client(clientConfig);
      const state = stateOf(client);
      // Before connect(): an error on a connection nobody is using must never go unhandled.
      client.on('error', (error) => {
        state.broken = true;
        state.error ??= error;
      });
      client.on('end', () => {
        state.broken = true;
      });
      try {
        await withDeadline(client.connect(), signal, Infinity, clock, 'connect');
        signal.throwIfAborted();
      } catch (error) {
        state.broken = true;
        // pg leaves the socket open after some failures (a SCRAM error on the client side
        // keeps a backend waiting in authentication), and an abort must not leave one either.
        destroySocket(client);
        throw scrub(error, client);
      }
      return client;
    },

    async validate(client: TClient, { signal }: DriverCallOptions): Promise<void> {
      signal.throwIfAborted();
      if (isBroken(client)) throw brokenError(client);
      try {
        await withDeadline(
          client.query(validationQuery),
          signal,
          validationTimeoutMs,
          clock,
          'validation query',
          () => markBroken(client),
        );
      } catch (error) {
        throw scrub(error, client);
      }
    },

    async reset(client: TClient, { signal }: DriverCallOptions): Promise<void> {
      signal.throwIfAborted();
      if (isBroken(client)) throw brokenError(client);
      // pg settles a failed query on ErrorResponse, before the server's ReadyForQuery: a
      // connection released right after a query error still has readyForQuery false and a stale
      // status for a moment. The ROLLBACK then queues behind it (or behind a query left running).
      if (client.readyForQuery !== false && client.getTransactionStatus?.() === 'I') return;
      try {
        await withDeadline(
          client.query('ROLLBACK'),
          signal,
          validationTimeoutMs,
          clock,
          'reset (ROLLBACK)',
          () => markBroken(client),
        );
      } catch (error) {
        throw scrub(error, client);
      }
    },

    isBroken,
    close,
    fleetSlots: createPgFleetSlots<TClient>({
      run: (client, sql, params, signal) =>
        withDeadline(
          client.query(sql, params),
          signal,
          validationTimeoutMs,
          clock,
          'fleet slot statement',
          () => markBroken(client),
        ).then(
          (result) => result.rows as readonly Record<string, unknown>[],
          (error: unknown) => {
            throw scrub(error, client);
          },
        ),
      withProbeClient: async (signal, use) => {
        const probe = new Client(clientConfig);
        probe.on('error', () => {});
        try {
          await withDeadline(probe.connect(), signal, Infinity, clock, 'connect');
          return await use(probe);
        } catch (error) {
          throw scrub(error, probe);
        } finally {
          await closeClient(probe, clock, closeTimeoutMs);
        }
      },
      random: Math.random,
    }),
    classifyError: classifyPgError,
    describe: () => target.description,

    // `pool.query()`: statements from many callers pipelined on shared connections.
    pipelining: true,
    query: createPgQuery<TClient>({ isBroken, brokenError, scrub }),
  };
  return Object.freeze(driver);
}

/**
 * Builds one client without connecting it, so a target `pg` rejects fails at construction, and
 * reads what `describe()` reports and the password to redact (pg resolves both from the config,
 * the connection string and the `PG*` environment variables).
 */
function inspectTarget(
  Client: PgClientConstructor<PgClientLike>,
  clientConfig: PgClientConfig,
  targetOption: 'connectionString' | 'config',
): { readonly description: DriverDescription; readonly password: string | undefined } {
  let probe: PgClientLike;
  try {
    probe = new Client(clientConfig);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const configPassword =
      typeof clientConfig.password === 'string' ? clientConfig.password : undefined;
    throw new InvalidOptionError(
      targetOption,
      targetOption === 'connectionString' ? '[connection string]' : '[config object]',
      `a target pg accepts (pg said: ${redactValue(redactSecrets(message), configPassword)})`,
    );
  }
  const description: DriverDescription = {
    'db.system.name': 'postgresql',
    ...(typeof probe.host === 'string' && probe.host.length > 0
      ? { 'server.address': probe.host }
      : {}),
    ...(Number.isInteger(probe.port) ? { 'server.port': probe.port as number } : {}),
    ...(typeof probe.database === 'string' && probe.database.length > 0
      ? { 'db.namespace': probe.database }
      : {}),
  };
  return { description: Object.freeze(description), password: readPassword(probe) };
}

/** pg keeps the resolved password in a non-enumerable `password` property of the client. */
function readPassword(client: PgClientLike | undefined): string | undefined {
  const password = (client as { readonly password?: unknown } | undefined)?.password;
  return typeof password === 'string' && password.length > 0 ? password : undefined;
}

/**
 * Removes credentials from an error's message and stack before it leaves the driver. pg's
 * messages do not normally carry the password; this makes sure none ever does. A very short
 * password is redacted wherever it appears, even inside other words: safety over readability.
 */
function scrubSecrets(error: unknown, secrets: readonly (string | undefined)[]): unknown {
  if (!(error instanceof Error)) return error;
  for (const key of ['message', 'stack'] as const) {
    const text = error[key];
    if (typeof text !== 'string') continue;
    let clean = redactSecrets(text);
    for (const secret of secrets) clean = redactValue(clean, secret);
    if (clean !== text) {
      try {
        error[key] = clean;
      } catch {
        // A frozen error can't be cleaned; nothing of ours to do about it.
      }
    }
  }
  return error;
}

/**
 * The error for using a connection already known to be closed. SQLSTATE 08003
 * (connection_does_not_exist) is what libpq-based clients report for it, and classifies as
 * `connection`.
 */
function connectionClosedError(): Error {
  return Object.assign(new Error('Connection is closed'), { code: '08003' });
}

/** Tears a client down without a goodbye: its socket if we can reach it, else `end()`. */
function destroySocket(client: PgClientLike): void {
  const stream = client.connection?.stream;
  if (stream !== undefined && typeof stream.destroy === 'function') {
    stream.destroy();
    return;
  }
  new Promise<void>((resolve) => resolve(client.end())).catch(() => {});
}

/**
 * `end()` (Terminate, then wait for the server to close), bounded by `timeoutMs`, after which
 * the socket is destroyed. Never rejects: a client that is already dead is simply done.
 */
function closeClient(client: PgClientLike, clock: Clock, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(() => {
      destroySocket(client);
      resolve();
    }, timeoutMs);
    unrefTimer(timer);
    new Promise<void>((settle) => settle(client.end())).then(
      () => {
        clock.clearTimeout(timer);
        resolve();
      },
      () => {
        clock.clearTimeout(timer);
        destroySocket(client);
        resolve();
      },
    );
  });
}

/**
 * Settles with `work`, or rejects once `signal` aborts (with its reason) or `timeoutMs` passes
 * (with a `TimeoutError`), calling `onExpire` first so the caller can mark the connection broken:
 * the work itself can't be taken back from the wire.
 */
function withDeadline<T>(
  work: Promise<T>,
  signal: AbortSignal,
  timeoutMs: number,
  clock: Clock,
  what: string,
  onExpire: () => void = () => {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: TimerHandle | undefined;
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (timer !== undefined) clock.clearTimeout(timer);
      return true;
    };
    const expire = (reason: unknown): void => {
      if (!finish()) return;
      onExpire();
      reject(reason);
    };
    const onAbort = (): void => expire(signal.reason);

    if (Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(
        () =>
          expire(
            new DOMException(`The ${what} did not finish within ${timeoutMs} ms`, 'TimeoutError'),
          ),
        timeoutMs,
      );
      unrefTimer(timer);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    work.then(
      (value) => {
        if (finish()) resolve(value);
      },
      (error: unknown) => {
        if (finish()) reject(error);
      },
    );
  });
}
