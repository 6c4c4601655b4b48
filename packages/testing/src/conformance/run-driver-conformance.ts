import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { type Driver, ERROR_REASONS, type ErrorReason } from '@enhanced-pool/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, LOOPBACK } from '../postgres/free-port.js';
import type { PostgresServer } from '../postgres/postgres-server.js';
import { startPostgres } from '../postgres/start-postgres.js';
import {
  POSTGREST_TEST_APPLICATION_NAME,
  type PostgrestTestServer,
  startPostgrestTestServer,
} from '../postgrest/postgrest-test-server.js';
import { requireCapability, requireLocalPostgres, skipWithReason } from './require-capability.js';
import { startSilentListener } from './silent-listener.js';

/**
 * Where a driver under test should connect. Every field is filled in from the URL, so an adapter
 * can use `connectionString` or build its own config from the parts.
 */
export interface DriverConformanceTarget {
  /** `postgres://user[:password]@host:port/database`. */
  readonly connectionString: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Present when the target has one (the wrong-password and secret checks always do). */
  readonly password?: string;
  /**
   * With `protocol: 'postgrest'`: the API's base URL (`http://127.0.0.1:PORT`), to give a
   * client as its project URL. Absent for `'postgres'`.
   */
  readonly url?: string;
  /** With `protocol: 'postgrest'`: the API key (the wrong-key and secret checks change it). */
  readonly key?: string;
  /** With `protocol: 'postgrest'`: the schema the API serves by default (`public`). */
  readonly schema?: string;
}

/**
 * How a driver reaches PostgreSQL:
 * - `postgres`: the wire protocol, at `target.connectionString`;
 * - `postgrest`: HTTP, through a PostgREST-compatible API (supabase-js, postgrest-js). The suite
 *   puts `startPostgrestTestServer()` in front of every PostgreSQL it builds a target for and
 *   passes its `url` and `key`; each rule is checked with the fault that means the same thing
 *   over HTTP (the database down behind the API instead of a terminated backend, a wrong API
 *   key instead of a wrong password, the API's own pool exhausted instead of
 *   `max_connections`).
 */
export type DriverConformanceProtocol = 'postgres' | 'postgrest';

/**
 * With `protocol: 'postgrest'`, the function the suite creates so that `runQuery` can run SQL
 * through the API: `runQuery: (client, sql) => client.rpc(CONFORMANCE_EXEC_FUNCTION, { sql })…`.
 * It runs `sql` with `EXECUTE` inside the request's transaction.
 */
export const CONFORMANCE_EXEC_FUNCTION = 'enhanced_pool_conformance_exec';

/** Options of {@link runDriverConformance}. */
export interface DriverConformanceOptions<TConnection> {
  /** Name of the `describe()` block, e.g. `'driver-pg'`. */
  readonly name: string;
  /**
   * Builds the driver under test for a target. Called for the suite's server and for targets
   * made to fail (refused port, wrong password, missing database, full server).
   */
  readonly createDriver: (target: DriverConformanceTarget) => Driver<TConnection>;
  /**
   * Starts the server the suite runs against; the suite stops it in `afterAll`.
   * @default () => startPostgres()
   */
  readonly startServer?: () => Promise<PostgresServer>;
  /**
   * The server process id of a connection, so the suite can terminate exactly it.
   * @default the one backend that appeared in `pg_stat_activity` during `connect()`
   */
  readonly backendPid?: (connection: TConnection) => Promise<number> | number;
  /**
   * Runs a statement on a connection, to check that a failing statement is classified `query`
   * and that `reset()` ends an open transaction. Those checks are skipped (with a printed reason)
   * without it.
   * @default undefined
   */
  readonly runQuery?: (connection: TConnection, sql: string) => Promise<unknown>;
  /**
   * How the driver reaches the database; see {@link DriverConformanceProtocol}.
   * @default 'postgres'
   */
  readonly protocol?: DriverConformanceProtocol;
  /**
   * Runs once on the suite's server before any check (and on other servers the suite starts),
   * e.g. to create the table a driver's health check reads.
   * @default undefined
   */
  readonly prepareDatabase?: (server: PostgresServer) => Promise<void>;
  /**
   * Timeout of each check, in milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * How soon, in milliseconds, an operation must settle after its signal aborts. Generous on
   * purpose: it catches a driver that ignores the signal, not a slow one.
   * @default 2000
   */
  readonly promptMs?: number;
}

const SUITE_LABEL = '@enhanced-pool/testing conformance';

function targetFor(connectionString: string): DriverConformanceTarget {
  const url = new URL(connectionString);
  const user = decodeURIComponent(url.username) || 'postgres';
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  return {
    connectionString,
    host: url.hostname,
    port: url.port === '' ? 5432 : Number(url.port),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || user,
    user,
    ...(password === undefined ? {} : { password }),
  };
}

/** The target for a driver that reaches `connectionString`'s database through `api`. */
function apiTargetFor(
  connectionString: string,
  api: { readonly url: string; readonly key: string },
  change: { url?: string; key?: string } = {},
): DriverConformanceTarget {
  const url = new URL(change.url ?? api.url);
  return {
    ...targetFor(connectionString),
    url: url.origin,
    key: change.key ?? api.key,
    schema: 'public',
  };
}

async function prepareApiDatabase(server: PostgresServer): Promise<void> {
  await server.query(
    `CREATE OR REPLACE FUNCTION public.${CONFORMANCE_EXEC_FUNCTION}(sql text) RETURNS void
       LANGUAGE plpgsql AS $$ BEGIN EXECUTE sql; END $$`,
  );
}

function withUrl(
  connectionString: string,
  change: { password?: string; database?: string; port?: number; user?: string },
): string {
  const url = new URL(connectionString);
  if (change.user !== undefined) url.username = encodeURIComponent(change.user);
  if (change.password !== undefined) url.password = encodeURIComponent(change.password);
  if (change.database !== undefined) url.pathname = `/${encodeURIComponent(change.database)}`;
  if (change.port !== undefined) {
    url.hostname = LOOPBACK;
    url.port = String(change.port);
  }
  return url.toString();
}

type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/** Waits for `promise` to settle, failing the check if it takes longer than `ms`. */
async function settleWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<Settled<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value): Settled<T> => ({ status: 'fulfilled', value }),
        (reason: unknown): Settled<T> => ({ status: 'rejected', reason }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function rejectionOf(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  const settled = await settleWithin(promise, ms, what);
  if (settled.status === 'fulfilled') throw new Error(`${what} resolved; it should have rejected`);
  return settled.reason;
}

/** Polls the server until it reports `expected` connections: backends exit asynchronously. */
async function waitForConnectionCount(
  server: PostgresServer,
  expected: number,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  let actual = await server.countConnections();
  while (actual !== expected) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `the server has ${actual} client connection(s), expected ${expected} (after ${timeoutMs} ms)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    actual = await server.countConnections();
  }
}

/** Polls the API until it has no request left unanswered: a closed client's are aborted. */
async function waitForNoPendingRequests(
  api: PostgrestTestServer,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  while (api.pendingRequests() !== 0) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `the API still has ${api.pendingRequests()} request(s) pending ${timeoutMs} ms after close()`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function clientBackendPids(server: PostgresServer): Promise<Set<number>> {
  const rows = await server.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
  );
  return new Set(rows.map((row) => row.pid));
}

function expectReason(actual: ErrorReason, expected: ErrorReason, error: unknown): void {
  expect(
    actual,
    `classifyError() returned "${actual}" for: ${error instanceof Error ? `${error.name}: ${error.message}` : inspect(error)}`,
  ).toBe(expected);
}

/**
 * Whether `promise` is still pending once the I/O callbacks due now have run (a macrotask
 * turn): enough for a driver to have written to its socket, and for one that settles without
 * waiting for the server to have done so.
 */
async function stillPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}

function randomSecret(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

/**
 * Registers a vitest `describe` block that checks a {@link Driver} against a real PostgreSQL:
 * the contract's rules (signals honoured, idempotent close, classification of real errors,
 * secret-free `describe()`), one `it` per rule so a contributor sees exactly what failed.
 * Checks a server can't support (restart, terminate, passwords on pglite or `DATABASE_URL`)
 * are skipped with a printed reason.
 *
 * @example
 * ```ts
 * import { runDriverConformance } from '@enhanced-pool/testing/conformance';
 * import { createPgDriver } from '../src/index.js';
 *
 * runDriverConformance({
 *   name: 'driver-pg',
 *   createDriver: (target) => createPgDriver({ connectionString: target.connectionString }),
 *   runQuery: (client, sql) => client.query(sql),
 * });
 * ```
 */
export function runDriverConformance<TConnection>(
  options: DriverConformanceOptions<TConnection>,
): void {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const promptMs = options.promptMs ?? 2_000;
  const startServer = options.startServer ?? (() => startPostgres());
  const overHttp = (options.protocol ?? 'postgres') === 'postgrest';
  if (options.protocol !== undefined && options.protocol !== 'postgres' && !overHttp) {
    throw new Error(`runDriverConformance(): unknown protocol ${JSON.stringify(options.protocol)}`);
  }
  const prepare = async (database: PostgresServer): Promise<void> => {
    if (overHttp) await prepareApiDatabase(database);
    await options.prepareDatabase?.(database);
  };

  describe(`${options.name} (${SUITE_LABEL})`, () => {
    let server: PostgresServer;
    let driver: Driver<TConnection>;
    /** With `protocol: 'postgrest'`: the API in front of `server` the driver talks to. */
    let api: PostgrestTestServer | undefined;
    const apis = new Set<PostgrestTestServer>();

    const startApi = async (
      database: PostgresServer,
      apiOptions: { poolSize?: number; acquireTimeoutMs?: number } = {},
    ): Promise<PostgrestTestServer> => {
      const started = await startPostgrestTestServer({ database, ...apiOptions });
      apis.add(started);
      return started;
    };

    /** The suite server's target, with the changes a check makes to see a failure. */
    const suiteTarget = (
      change: { password?: string; database?: string; port?: number; key?: string } = {},
    ): DriverConformanceTarget => {
      if (!overHttp) return targetFor(withUrl(server.connectionString, change));
      const url =
        change.port === undefined ? api!.url : `http://${LOOPBACK}:${String(change.port)}`;
      return apiTargetFor(server.connectionString, api!, {
        url,
        ...(change.key === undefined ? {} : { key: change.key }),
      });
    };

    /** Requests the API has received so far (0 for `postgres`). */
    const apiRequests = (): number => api?.requests().length ?? 0;
    const open = new Set<{ driver: Driver<TConnection>; connection: TConnection }>();
    const stoppedPids = new Set<number>();

    const connect = async (
      target = driver,
      signal = new AbortController().signal,
    ): Promise<TConnection> => {
      const connection = await target.connect({ signal });
      open.add({ driver: target, connection });
      return connection;
    };

    /** Connects and validates (an HTTP client may send nothing until validate()). */
    const connectAndValidate = async (target: Driver<TConnection>): Promise<void> => {
      const connection = await connect(target);
      await target.validate(connection, { signal: new AbortController().signal });
    };

    /** Runs `work` with the suite's server killed, then starts the server again. */
    const whileDatabaseDown = async <T>(work: () => Promise<T>): Promise<T> => {
      await server.kill();
      try {
        return await work();
      } finally {
        await server.start();
      }
    };

    /** Connects and finds the connection's server process. */
    const connectWithPid = async (): Promise<{ connection: TConnection; pid: number }> => {
      const before = options.backendPid ? undefined : await clientBackendPids(server);
      const connection = await connect();
      if (options.backendPid) return { connection, pid: await options.backendPid(connection) };
      const after = await clientBackendPids(server);
      const added = [...after].filter((pid) => !before?.has(pid));
      if (added.length !== 1) {
        throw new Error(
          `could not tell which server backend connect() opened (${added.length} appeared); ` +
            'pass backendPid to runDriverConformance()',
        );
      }
      return { connection, pid: added[0]! };
    };

    beforeAll(async () => {
      server = await startServer();
      await prepare(server);
      if (overHttp) api = await startApi(server);
      driver = options.createDriver(suiteTarget());
    });

    afterEach(async () => {
      for (const pid of stoppedPids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // Already gone.
        }
      }
      stoppedPids.clear();
      const closing = [...open].map(({ driver: owner, connection }) =>
        owner.close(connection).catch(() => {}),
      );
      open.clear();
      await Promise.all(closing);
    });

    afterAll(async () => {
      await Promise.all([...apis].map((started) => started.close()));
      await server?.stop();
    });

    it(
      'declares specificationVersion "v1" and a non-empty name',
      () => {
        expect(driver.specificationVersion).toBe('v1');
        expect(typeof driver.name).toBe('string');
        expect(driver.name.trim()).not.toBe('');
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'connect() then validate() reach the API, and close() leaves no request pending'
        : 'connect() opens one server connection, validate() succeeds, close() ends it',
      async () => {
        if (overHttp) {
          const connection = await connect();
          const beforeValidate = apiRequests();
          await driver.validate(connection, { signal: new AbortController().signal });
          expect(apiRequests(), 'validate() sent no request to the API').toBeGreaterThan(
            beforeValidate,
          );
          await driver.close(connection);
          await waitForNoPendingRequests(api!, promptMs);
          return;
        }
        const baseline = await server.countConnections();
        const connection = await connect();
        await waitForConnectionCount(server, baseline + 1, promptMs);
        await driver.validate(connection, { signal: new AbortController().signal });
        await driver.close(connection);
        await waitForConnectionCount(server, baseline, promptMs);
      },
      timeoutMs,
    );

    it(
      'isBroken() answers synchronously: false for a healthy connection',
      async (context) => {
        if (!driver.isBroken) skipWithReason(context, 'the driver does not implement isBroken()');
        const connection = await connect();
        const result: unknown = driver.isBroken(connection);
        expect(result, 'isBroken() must return a boolean, not a promise').toBe(false);
      },
      timeoutMs,
    );

    it(
      'close() is idempotent: a second close() resolves',
      async () => {
        const baseline = overHttp ? 0 : await server.countConnections();
        const connection = await connect();
        await driver.close(connection);
        await expect(driver.close(connection)).resolves.toBeUndefined();
        if (overHttp) await waitForNoPendingRequests(api!, promptMs);
        else await waitForConnectionCount(server, baseline, promptMs);
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'close() resolves for a client whose API has gone away'
        : 'close() resolves for a connection the server already terminated',
      async (context) => {
        if (overHttp) {
          const doomed = await startApi(server);
          const owner = options.createDriver(apiTargetFor(server.connectionString, doomed));
          const connection = await connect(owner);
          await doomed.close();
          const settled = await settleWithin(owner.close(connection), promptMs, 'close()');
          expect(settled.status, 'close() of a client whose API is gone must not reject').toBe(
            'fulfilled',
          );
          await expect(owner.close(connection)).resolves.toBeUndefined();
          return;
        }
        requireCapability(context, server, 'terminateBackends');
        const { connection, pid } = await connectWithPid();
        expect(await server.terminateBackends({ pids: [pid] })).toBe(1);
        const settled = await settleWithin(driver.close(connection), promptMs, 'close()');
        expect(settled.status, 'close() of a dead connection must not reject').toBe('fulfilled');
        await expect(driver.close(connection)).resolves.toBeUndefined();
      },
      timeoutMs,
    );

    it(
      'connect() with an already-aborted signal rejects promptly and leaves no server connection',
      async () => {
        const baseline = overHttp ? apiRequests() : await server.countConnections();
        const controller = new AbortController();
        controller.abort(new Error('caller gave up'));
        const attempt = connect(driver, controller.signal);
        await rejectionOf(attempt, promptMs, 'connect() with an aborted signal');
        if (overHttp) {
          expect(apiRequests(), 'connect() with an aborted signal sent a request').toBe(baseline);
        } else {
          await waitForConnectionCount(server, baseline, promptMs);
        }
      },
      timeoutMs,
    );

    it(
      'connect() aborted during a handshake the server never answers rejects promptly and closes its socket',
      async () => {
        await using listener = await startSilentListener();
        const hung = options.createDriver(suiteTarget({ port: listener.port }));
        const controller = new AbortController();
        const attempt = connect(hung, controller.signal);
        // Awaited below; this only keeps an early failure from going unhandled.
        attempt.catch(() => {});
        // Give up only once the driver is inside the handshake: it has sent its first message.
        await listener.waitUntilClientSpoke(promptMs);
        expect(
          await stillPending(attempt),
          'connect() settled although the server never answered',
        ).toBe(true);
        controller.abort(new Error('caller gave up'));
        await rejectionOf(attempt, promptMs, 'connect() after its signal aborted');
        if (overHttp) await listener.waitUntilSpeakersClosed(promptMs);
        else await listener.waitUntilClientsClosed(promptMs);
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'validate() rejects while the database behind the API is down, classified "connection"'
        : 'validate() rejects for a connection terminated on the server, classified "connection"',
      async (context) => {
        if (overHttp) {
          requireCapability(context, server, 'restart');
          const connection = await connect();
          const error = await whileDatabaseDown(() =>
            rejectionOf(
              driver.validate(connection, { signal: new AbortController().signal }),
              timeoutMs,
              'validate() with the database down',
            ),
          );
          expectReason(driver.classifyError(error), 'connection', error);
          return;
        }
        requireCapability(context, server, 'terminateBackends');
        const { connection, pid } = await connectWithPid();
        expect(await server.terminateBackends({ pids: [pid] })).toBe(1);
        const error = await rejectionOf(
          driver.validate(connection, { signal: new AbortController().signal }),
          promptMs,
          'validate() of a terminated connection',
        );
        expectReason(driver.classifyError(error), 'connection', error);
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'isBroken() reports a client once validate() has failed with the database down'
        : 'isBroken() reports a connection terminated on the server once validate() has failed',
      async (context) => {
        if (!driver.isBroken) skipWithReason(context, 'the driver does not implement isBroken()');
        if (overHttp) {
          requireCapability(context, server, 'restart');
          const connection = await connect();
          await whileDatabaseDown(() =>
            rejectionOf(
              driver.validate(connection, { signal: new AbortController().signal }),
              timeoutMs,
              'validate() with the database down',
            ),
          );
          expect(driver.isBroken(connection), 'isBroken() after the failed validate()').toBe(true);
          return;
        }
        requireCapability(context, server, 'terminateBackends');
        const { connection, pid } = await connectWithPid();
        expect(await server.terminateBackends({ pids: [pid] })).toBe(1);
        await rejectionOf(
          driver.validate(connection, { signal: new AbortController().signal }),
          promptMs,
          'validate() of a terminated connection',
        );
        expect(driver.isBroken(connection), 'isBroken() after the failed validate()').toBe(true);
      },
      timeoutMs,
    );

    it(
      'validate() with an already-aborted signal rejects promptly',
      async () => {
        const connection = await connect();
        const controller = new AbortController();
        controller.abort(new Error('caller gave up'));
        await rejectionOf(
          driver.validate(connection, { signal: controller.signal }),
          promptMs,
          'validate() with an aborted signal',
        );
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'validate() stuck on an API that never answers rejects promptly when its signal aborts'
        : 'validate() stuck on an unresponsive backend rejects promptly when its signal aborts',
      async (context) => {
        if (overHttp) {
          const connection = await connect();
          const before = apiRequests();
          api!.injectFault('no-answer', { times: 1 });
          try {
            const controller = new AbortController();
            const validation = driver.validate(connection, { signal: controller.signal });
            validation.catch(() => {});
            await api!.waitForRequests(before + 1, promptMs);
            expect(
              await stillPending(validation),
              'validate() settled although the API never answered',
            ).toBe(true);
            controller.abort(new Error('caller gave up'));
            await rejectionOf(validation, promptMs, 'validate() after its signal aborted');
          } finally {
            api!.clearFault();
          }
          return;
        }
        if (server.kind !== 'local') {
          skipWithReason(
            context,
            `needs a local server whose backend can be paused with SIGSTOP (this one is ${server.kind})`,
          );
        }
        const { connection, pid } = await connectWithPid();
        try {
          process.kill(pid, 'SIGSTOP');
        } catch (error) {
          skipWithReason(context, `cannot pause the backend process: ${(error as Error).message}`);
        }
        stoppedPids.add(pid);
        const controller = new AbortController();
        const validation = driver.validate(connection, { signal: controller.signal });
        // A paused backend never answers, so no wait can make a correct driver settle here.
        expect(
          await stillPending(validation),
          'validate() settled although the backend is paused',
        ).toBe(true);
        controller.abort(new Error('caller gave up'));
        await rejectionOf(validation, promptMs, 'validate() after its signal aborted');
        process.kill(pid, 'SIGCONT');
        stoppedPids.delete(pid);
      },
      timeoutMs,
    );

    it(
      'reset() leaves a connection out of any transaction and ready to validate',
      async (context) => {
        if (!driver.reset) skipWithReason(context, 'the driver does not implement reset()');
        if (overHttp) {
          skipWithReason(
            context,
            'over PostgREST each request is its own transaction, so no transaction outlives a request for reset() to end',
          );
        }
        const { runQuery } = options;
        if (!runQuery) {
          skipWithReason(context, 'no runQuery option was given to open a transaction');
        }
        const connection = await connect();
        await runQuery(connection, 'BEGIN');
        await runQuery(connection, 'SELECT 1');
        await driver.reset(connection, { signal: new AbortController().signal });
        // Outside a transaction block PostgreSQL refuses a savepoint (25P01).
        await rejectionOf(
          Promise.resolve().then(() => runQuery(connection, 'SAVEPOINT enhanced_pool_conformance')),
          timeoutMs,
          'a SAVEPOINT after reset() (the transaction is still open)',
        );
        await driver.validate(connection, { signal: new AbortController().signal });
      },
      timeoutMs,
    );

    it(
      'classifyError(): connection refused → "connection"',
      async () => {
        const port = await freePort();
        const refused = options.createDriver(suiteTarget({ port }));
        const error = await rejectionOf(
          connectAndValidate(refused),
          timeoutMs,
          'connect() and validate() to a closed port',
        );
        expectReason(refused.classifyError(error), 'connection', error);
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'classifyError(): wrong API key → "authentication", and the error does not contain it'
        : 'classifyError(): wrong password → "authentication", and the error does not contain it',
      async (context) => {
        if (overHttp) {
          const wrongKey = randomSecret('wrong-key');
          const wrong = options.createDriver(suiteTarget({ key: wrongKey }));
          const error = await rejectionOf(
            connectAndValidate(wrong),
            timeoutMs,
            'connect() and validate() with a wrong API key',
          );
          expectReason(wrong.classifyError(error), 'authentication', error);
          for (const rendered of [String(error), inspect(error, { depth: 5 })]) {
            expect(rendered).not.toContain(wrongKey);
            expect(rendered).not.toContain(api!.key);
          }
          return;
        }
        requireCapability(context, server, 'passwordAuth');
        const role = server.passwordRole!;
        const wrongPassword = randomSecret('wrong-password');
        const wrong = options.createDriver(
          targetFor(withUrl(role.connectionString, { password: wrongPassword })),
        );
        const error = await rejectionOf(
          connect(wrong),
          timeoutMs,
          'connect() with a wrong password',
        );
        expectReason(wrong.classifyError(error), 'authentication', error);
        for (const rendered of [String(error), inspect(error, { depth: 5 })]) {
          expect(rendered).not.toContain(wrongPassword);
          expect(rendered).not.toContain(role.password);
        }
      },
      timeoutMs,
    );

    it(
      'classifyError(): missing database → "configuration"',
      async (context) => {
        if (overHttp) {
          skipWithReason(
            context,
            "PostgREST answers a database it can't open with 503 PGRST000, the same as one that is down, so a missing database is not told apart over HTTP",
          );
        }
        if (server.kind === 'embedded') {
          skipWithReason(context, 'embedded pglite serves any database name, so none is missing');
        }
        const missing = options.createDriver(
          targetFor(
            withUrl(server.connectionString, {
              database: `enhanced_pool_missing_${randomBytes(4).toString('hex')}`,
            }),
          ),
        );
        const error = await rejectionOf(
          connect(missing),
          timeoutMs,
          'connect() to a missing database',
        );
        expectReason(missing.classifyError(error), 'configuration', error);
      },
      timeoutMs,
    );

    it(
      'classifyError(): a failing statement → "query", and the connection still validates',
      async (context) => {
        if (!options.runQuery) {
          skipWithReason(context, 'no runQuery option was given to run a failing statement');
        }
        const connection = await connect();
        for (const sql of ['SELECT 1/0', 'SELEKT 1']) {
          const error = await rejectionOf(
            Promise.resolve().then(() => options.runQuery!(connection, sql)),
            timeoutMs,
            sql,
          );
          expectReason(driver.classifyError(error), 'query', error);
        }
        await driver.validate(connection, { signal: new AbortController().signal });
      },
      timeoutMs,
    );

    it(
      overHttp
        ? 'classifyError(): the API\'s connection pool exhausted (504 PGRST003) → "resource-exhausted"'
        : 'classifyError(): server at max_connections → "resource-exhausted"',
      async (context) => {
        if (overHttp) {
          requireCapability(context, server, 'concurrentBackends');
          const small = await startApi(server, { poolSize: 1, acquireTimeoutMs: 100 });
          const limited = options.createDriver(apiTargetFor(server.connectionString, small));
          // A raw request holds the API's only database connection for a second.
          const holding = fetch(`${small.url}/rest/v1/rpc/${CONFORMANCE_EXEC_FUNCTION}`, {
            method: 'POST',
            headers: { apikey: small.key, 'content-type': 'application/json' },
            body: JSON.stringify({ sql: 'SELECT pg_sleep(1)' }),
          }).then((response) => response.text());
          try {
            const started = Date.now();
            while (
              (
                await server.query<{ n: number }>(
                  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'",
                  [POSTGREST_TEST_APPLICATION_NAME],
                )
              )[0]?.n !== 1
            ) {
              if (Date.now() - started > promptMs) {
                throw new Error(`the holding request did not reach the database in ${promptMs} ms`);
              }
              await new Promise((resolve) => setTimeout(resolve, 10));
            }
            const error = await rejectionOf(
              connectAndValidate(limited),
              timeoutMs,
              'connect() and validate() with the API pool exhausted',
            );
            expectReason(limited.classifyError(error), 'resource-exhausted', error);
          } finally {
            await holding;
          }
          return;
        }
        requireLocalPostgres(context);
        await using full = await startPostgres({ prefer: 'local', maxConnections: 2 });
        const limited = options.createDriver(targetFor(full.connectionString));
        // startPostgres()'s own setup connection may still hold a slot while its server process
        // exits, and there is no event to await for that: fill the server, retrying only a refusal
        // for lack of slots, within the test's deadline.
        const fillDeadline = Date.now() + timeoutMs / 2;
        for (let filled = 0; filled < 2; ) {
          try {
            await connect(limited);
            filled += 1;
          } catch (error) {
            if (limited.classifyError(error) !== 'resource-exhausted') throw error;
            if (Date.now() > fillDeadline) {
              throw new Error(
                `could not open 2 connections to a server with max_connections 2 within ${timeoutMs / 2} ms (${filled} opened); the last refusal is the cause`,
                { cause: error },
              );
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        const error = await rejectionOf(connect(limited), timeoutMs, 'connect() to a full server');
        expectReason(limited.classifyError(error), 'resource-exhausted', error);
        // Close before the server goes so the connections end cleanly.
        for (const entry of [...open].filter((item) => item.driver === limited)) {
          open.delete(entry);
          await limited.close(entry.connection);
        }
      },
      timeoutMs,
    );

    it(
      'classifyError() places anything, even non-errors, in the closed set without throwing',
      () => {
        for (const value of [
          new Error('plain'),
          new TypeError('type'),
          Object.assign(new Error('odd code'), { code: 'XX999' }),
          'a string',
          42,
          null,
          undefined,
          {},
        ]) {
          expect(ERROR_REASONS).toContain(driver.classifyError(value));
        }
      },
      timeoutMs,
    );

    it(
      "describe() names db.system.name and the target's address, port and database",
      () => {
        const target = suiteTarget();
        const description = driver.describe();
        if (overHttp) {
          const url = new URL(target.url!);
          expect(description['db.system.name']).not.toBe('');
          expect(description['server.address'], 'describe()["server.address"]').toBe(url.hostname);
          expect(description['server.port'], 'describe()["server.port"]').toBe(Number(url.port));
          expect(description['db.namespace'], 'describe()["db.namespace"]').toBe(target.schema);
          return;
        }
        expect(typeof description['db.system.name']).toBe('string');
        expect(description['db.system.name']).not.toBe('');
        // Optional in DriverDescription, but every PostgreSQL target has them, and metrics and
        // logs need them to tell one database from another.
        expect(description['server.address'], 'describe()["server.address"]').toBe(target.host);
        expect(description['server.port'], 'describe()["server.port"]').toBe(target.port);
        expect(description['db.namespace'], 'describe()["db.namespace"]').toBe(target.database);
      },
      timeoutMs,
    );

    it(
      'describe(), the driver object and their util.inspect / JSON hold no password',
      () => {
        const secret = randomSecret('conformance-secret');
        const secretive = options.createDriver(
          overHttp ? suiteTarget({ key: secret }) : suiteTarget({ password: secret }),
        );
        const renderings = [
          JSON.stringify(secretive.describe()),
          inspect(secretive.describe(), { depth: Infinity }),
          inspect(secretive, { depth: Infinity }),
          inspect(secretive, { depth: Infinity, showHidden: true }),
        ];
        try {
          renderings.push(JSON.stringify(secretive) ?? '');
        } catch {
          // Not serialisable (e.g. circular): nothing leaks through JSON then.
        }
        for (const rendered of renderings) expect(rendered).not.toContain(secret);
        expect(renderings.join('\n')).not.toContain(encodeURIComponent(secret));
      },
      timeoutMs,
    );
  });
}
