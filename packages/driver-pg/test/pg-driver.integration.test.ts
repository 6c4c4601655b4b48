import { inspect } from 'node:util';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import {
  requireCapability,
  requireLocalPostgres,
  runDriverConformance,
  type SkippableContext,
  skipWithReason,
} from '@enhanced-pool/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgDriver,
  type PgClientLike,
  type PgDriver,
  type PgDriverOptions,
} from '../src/index.js';

function processIdOf(client: PgClientLike): number {
  if (typeof client.processID !== 'number') throw new Error('the client has no processID');
  return client.processID;
}

runDriverConformance({
  name: 'driver-pg',
  createDriver: (target) => createPgDriver({ connectionString: target.connectionString }),
  backendPid: processIdOf,
  runQuery: (client, sql) => client.query(sql),
});

const signal = () => new AbortController().signal;

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Polls the server for a state no client event announces (e.g. a query reaching the backend). */
async function waitUntil(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('driver-pg against a real PostgreSQL', () => {
  let server: PostgresServer;
  let ownLocal: Promise<PostgresServer> | undefined;
  const opened: { driver: PgDriver; client: PgClientLike }[] = [];

  /**
   * A server started from the local binaries, for what only such a server offers (a restart,
   * a role with a password): the shared one when it is local, else (with `DATABASE_URL` set) one
   * of this file's own, so these tests need the binaries, not an unset `DATABASE_URL`.
   */
  const localServer = async (context: SkippableContext): Promise<PostgresServer> => {
    if (server.kind === 'local') return server;
    requireLocalPostgres(context);
    ownLocal ??= startPostgres({ prefer: 'local' });
    return await ownLocal;
  };

  const connectWith = async (
    options: Partial<PgDriverOptions> = {},
  ): Promise<{ driver: PgDriver; client: PgClientLike }> => {
    const driver = createPgDriver({ connectionString: server.connectionString, ...options });
    const client = await driver.connect({ signal: signal() });
    opened.push({ driver, client });
    return { driver, client };
  };

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map(({ driver, client }) => driver.close(client)));
  });

  afterAll(async () => {
    await (await ownLocal)?.stop();
    await server?.stop();
  });

  it('reports a backend terminated while idle through isBroken(), without crashing', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { driver, client } = await connectWith();
    // No 'error' listener of our own: pg emits one, and only the driver's keeps it handled.
    const ended = new Promise<void>((resolve) => client.on('end', resolve));
    expect(driver.isBroken(client)).toBe(false);

    expect(await server.terminateBackends({ pids: [processIdOf(client)] })).toBe(1);
    await ended;

    expect(driver.isBroken(client)).toBe(true);
    // validate() rejects with what the client saw: the server's termination notice.
    const error = await rejectionOf(driver.validate(client, { signal: signal() }));
    expect(error).toMatchObject({ code: '57P01' });
    expect(driver.classifyError(error)).toBe('connection');
  });

  it('names its connections in pg_stat_activity, and keeps an application_name the user set', async (context) => {
    requireCapability(context, server, 'concurrentBackends');
    await connectWith();
    await connectWith({ applicationName: 'orders-pool' });
    await connectWith({ applicationName: 'orders-pool' });
    await connectWith({
      connectionString: `${server.connectionString}?application_name=billing`,
      applicationName: 'orders-pool',
    });
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(1);
    expect(await server.countConnections({ applicationName: 'orders-pool' })).toBe(2);
    expect(await server.countConnections({ applicationName: 'billing' })).toBe(1);
  });

  it('applies statementTimeoutMs from the first statement, classified "timeout"', async (context) => {
    if (server.kind === 'embedded') {
      skipWithReason(
        context,
        'embedded pglite ignores settings sent at connect (statement_timeout)',
      );
    }
    const { client, driver } = await connectWith({ statementTimeoutMs: 100 });
    const shown = await client.query('SHOW statement_timeout');
    expect(shown.rows).toEqual([{ statement_timeout: '100ms' }]);
    const error = await rejectionOf(client.query('SELECT pg_sleep(5)'));
    expect(driver.classifyError(error)).toBe('timeout');
    await driver.validate(client, { signal: signal() });
  });

  it('reset() rolls back an open or failed transaction, and the work in it is gone', async () => {
    const { client, driver } = await connectWith();
    await client.query('CREATE TEMP TABLE reset_probe (id int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO reset_probe VALUES (1)');
    await driver.reset(client, { signal: signal() });
    expect((await client.query('SELECT count(*)::int AS n FROM reset_probe')).rows).toEqual([
      { n: 0 },
    ]);

    // Released the moment a query fails: pg rejects before the server says it is ready again.
    await client.query('BEGIN');
    const failed = await rejectionOf(client.query('SELECT 1 / 0'));
    expect(driver.classifyError(failed)).toBe('query');
    await driver.reset(client, { signal: signal() });
    expect(client.getTransactionStatus?.()).toBe('I');
    expect(driver.isBroken(client)).toBe(false);

    // Released with a statement still running (the borrower did not await it).
    await client.query('BEGIN');
    const abandoned = client.query('SELECT pg_sleep(0.2)');
    await driver.reset(client, { signal: signal() });
    await abandoned;
    expect(client.getTransactionStatus?.()).toBe('I');
    await driver.validate(client, { signal: signal() });
  });

  it('classifies a wrong password as "authentication", with no password in the error', async (context) => {
    const local = await localServer(context);
    requireCapability(context, local, 'passwordAuth');
    const role = local.passwordRole!;
    const wrongPassword = 'wrong-password-8d1e';
    const url = new URL(role.connectionString);
    url.password = wrongPassword;
    const driver = createPgDriver({ connectionString: url.toString() });
    const error = await rejectionOf(driver.connect({ signal: signal() }));
    expect(driver.classifyError(error)).toBe('authentication');
    for (const rendered of [String(error), (error as Error).stack, inspect(error, { depth: 5 })]) {
      expect(rendered).not.toContain(wrongPassword);
      expect(rendered).not.toContain(role.password);
    }
  });

  it('classifies a missing password as "authentication" and frees the server slot at once', async (context) => {
    requireLocalPostgres(context);
    // One slot. pg alone leaves the socket open after this SCRAM failure, so the backend would
    // hold the slot until authentication_timeout (60 s); PostgreSQL 15 does not list a backend
    // in pg_stat_activity before it authenticates, so the slot is what we can observe.
    await using tiny = await startPostgres({ prefer: 'local', maxConnections: 1 });
    const url = new URL(tiny.passwordRole!.connectionString);
    url.password = '';
    const withoutPassword = createPgDriver({ connectionString: url.toString() });
    const superuser = createPgDriver({ connectionString: tiny.connectionString });

    let reason: string | undefined;
    await waitUntil(
      "a connect without a password refused for a reason other than the admin backend's slot",
      async () => {
        reason = withoutPassword.classifyError(
          await rejectionOf(withoutPassword.connect({ signal: signal() })),
        );
        // "resource-exhausted" while startPostgres()'s own admin backend is still exiting.
        return reason !== 'resource-exhausted';
      },
    );
    expect(reason).toBe('authentication');

    let client: PgClientLike | undefined;
    await waitUntil(
      'the only slot free again after the failed authentication',
      async () => {
        client = await superuser.connect({ signal: signal() }).catch(() => undefined);
        return client !== undefined;
      },
      3_000,
    );
    await superuser.close(client!);
  });

  it('classifies a missing database as "configuration"', async (context) => {
    if (server.kind === 'embedded') {
      skipWithReason(context, 'embedded pglite serves any database name, so none is missing');
    }
    const url = new URL(server.connectionString);
    url.pathname = '/no_such_database_here';
    const driver = createPgDriver({ connectionString: url.toString() });
    const error = await rejectionOf(driver.connect({ signal: signal() }));
    expect(driver.classifyError(error)).toBe('configuration');
  });

  it('classifies a server at its connection limit as "resource-exhausted"', async (context) => {
    requireLocalPostgres(context);
    await using full = await startPostgres({ prefer: 'local', maxConnections: 3 });
    const driver = createPgDriver({ connectionString: full.connectionString });
    const clients: PgClientLike[] = [];
    let refusal: unknown;
    // Up to 3 fit; one fewer if startPostgres()'s admin backend is still exiting.
    while (refusal === undefined && clients.length <= 3) {
      try {
        clients.push(await driver.connect({ signal: signal() }));
      } catch (error) {
        refusal = error;
      }
    }
    expect(clients.length).toBeGreaterThanOrEqual(2);
    expect(clients.length).toBeLessThanOrEqual(3);
    expect(driver.classifyError(refusal)).toBe('resource-exhausted');
    await Promise.all(clients.map((client) => driver.close(client)));
    // The refused attempt left nothing behind either.
    await waitUntil(
      'no connection left on the server',
      async () => (await full.countConnections()) === 0,
    );
  });

  it('keeps the password out of every error, whatever fails', async (context) => {
    const local = await localServer(context);
    requireCapability(context, local, 'passwordAuth');
    const role = local.passwordRole!;
    const errors: unknown[] = [];
    const variants = [
      (url: URL) => {
        url.pathname = '/no_such_database_here';
      },
      (url: URL) => {
        url.port = '1';
      },
      (url: URL) => {
        url.username = 'no_such_role';
      },
    ];
    for (const change of variants) {
      const url = new URL(role.connectionString);
      change(url);
      const driver = createPgDriver({ connectionString: url.toString() });
      errors.push(await rejectionOf(driver.connect({ signal: signal() })));
    }
    const driver = createPgDriver({
      config: {
        host: local.host,
        port: local.port,
        database: local.database,
        user: role.user,
        password: role.password,
      },
      validationQuery: 'SELECT no_such_column',
    });
    const client = await driver.connect({ signal: signal() });
    opened.push({ driver, client });
    errors.push(await rejectionOf(driver.validate(client, { signal: signal() })));

    expect(errors).toHaveLength(4);
    for (const error of errors) {
      for (const rendered of [
        String(error),
        (error as Error).stack,
        inspect(error, { depth: 5 }),
      ]) {
        expect(rendered).not.toContain(role.password);
      }
    }
  });

  it('rejects a query in flight when the server restarts with a "connection" reason, then connects again', async (context) => {
    const local = await localServer(context);
    requireCapability(context, local, 'restart');
    const { client, driver } = await connectWith({ connectionString: local.connectionString });
    const pid = processIdOf(client);
    const inFlight = rejectionOf(client.query('SELECT pg_sleep(30)'));
    await waitUntil(
      'the pg_sleep(30) running on its backend',
      async () =>
        (
          await local.query<{ state: string }>(
            'SELECT state FROM pg_stat_activity WHERE pid = $1',
            [pid],
          )
        )[0]?.state === 'active',
    );

    await local.restart({ mode: 'immediate' });

    const error = await inFlight;
    expect(driver.classifyError(error)).toBe('connection');
    expect(driver.isBroken(client)).toBe(true);
    const { client: fresh } = await connectWith({ connectionString: local.connectionString });
    await driver.validate(fresh, { signal: signal() });
  });
});
