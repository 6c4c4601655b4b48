import { inspect } from 'node:util';
import { createFakeClock, type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability, startSilentListener } from '@enhanced-pool/testing/conformance';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AcquireTimeoutError, InvalidReleaseError, Pool, type PoolConfig } from '../src/index.js';

// Written from pg-pool 3.14's documented behaviour (its README and test suite), run against a
// real PostgreSQL: what holds for pg-pool must hold here.

let server: PostgresServer;
const pools: Pool[] = [];

/** A pool on the test server; ended after the test unless the test ended it. */
function open(config: PoolConfig = {}): Pool {
  const pool = new Pool({ connectionString: server.connectionString, ...config });
  pools.push(pool);
  return pool;
}

function pidOf(client: pg.PoolClient): number {
  return (client as unknown as { processID: number }).processID;
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: Error) => error,
  );
}

beforeAll(async () => {
  server = await startPostgres();
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => (pool.ending ? undefined : pool.end())));
});

afterAll(async () => {
  await server?.stop();
});

describe('connect()', () => {
  it('resolves a client that runs queries and goes back with release()', async () => {
    const pool = open();
    const checkout = pool.connect();
    // Counted from the moment its client starts connecting; not waiting for another to free up.
    expect([pool.totalCount, pool.waitingCount]).toEqual([1, 0]);
    const client = await checkout;
    const result = await client.query('select $1::text as name', ['pg-pool']);
    expect(result.rows[0]).toEqual({ name: 'pg-pool' });
    expect([pool.totalCount, pool.idleCount, pool.waitingCount]).toEqual([1, 0, 0]);
    client.release();
    expect([pool.totalCount, pool.idleCount]).toEqual([1, 1]);
    // The same backend serves the next checkout.
    const again = await pool.connect();
    expect(pidOf(again)).toBe(pidOf(client));
    again.release();
  });

  it('calls back with (error, client, done), done releasing the client', async () => {
    const pool = open();
    const { client, done } = await new Promise<{
      client: pg.PoolClient;
      done: (release?: unknown) => void;
    }>((resolve, reject) => {
      pool.connect((error, client, done) =>
        error ? reject(error) : resolve({ client: client!, done }),
      );
    });
    const rows = await new Promise<unknown[]>((resolve, reject) => {
      client.query('SELECT $1::text as name', ['pg-pool'], (error, result) =>
        error ? reject(error) : resolve(result.rows),
      );
    });
    expect(rows).toEqual([{ name: 'pg-pool' }]);
    done();
    expect(pool.idleCount).toBe(1);
  });

  it('throws each time release() is called again, and the pool keeps its count', async () => {
    const pool = open();
    const client = await pool.connect();
    const { release } = client;
    client.release();
    expect(() => client.release()).toThrow(InvalidReleaseError);
    expect(() => client.release()).toThrow(
      'Release called on client which has already been released to the pool.',
    );
    // A stale release of an earlier checkout never returns someone else's client.
    const again = await pool.connect();
    expect(again).toBe(client);
    expect(() => release()).toThrow(InvalidReleaseError);
    expect([pool.totalCount, pool.idleCount]).toEqual([1, 0]);
    again.release();
    expect([pool.totalCount, pool.idleCount]).toEqual([1, 1]);
  });

  it('release(error) and release(true) close the client instead of returning it', async () => {
    const pool = open();
    const removed: pg.PoolClient[] = [];
    pool.on('remove', (client) => removed.push(client));
    const first = await pool.connect();
    const second = await pool.connect();
    first.release(new Error('suspect'));
    second.release(true);
    expect([pool.totalCount, pool.idleCount]).toEqual([0, 0]);
    await expect.poll(() => removed.length).toBe(2);
    expect(new Set(removed)).toEqual(new Set([first, second]));
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(0);
  });

  it('rolls back a transaction left open by the client released inside it', async () => {
    await server.query('CREATE TABLE IF NOT EXISTS left_open (n integer)');
    await server.query('TRUNCATE left_open');
    const pool = open({ max: 1 });
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('INSERT INTO left_open VALUES (1)');
    client.release();
    // pg-pool would hand the next borrower this client still inside the transaction.
    const next = await pool.connect();
    expect(next).toBe(client);
    expect((await next.query('SELECT count(*)::int AS n FROM left_open')).rows).toEqual([{ n: 0 }]);
    await next.query('INSERT INTO left_open VALUES (2)');
    next.release();
    expect(await server.query('SELECT n FROM left_open')).toEqual([{ n: 2 }]);
  });

  it('queues callers beyond max and serves them first come, first served', async () => {
    const pool = open({ max: 2 });
    const held = [await pool.connect(), await pool.connect()];
    const order: number[] = [];
    const waiting = [1, 2, 3].map((n) =>
      pool.connect().then((client) => {
        order.push(n);
        client.release();
      }),
    );
    await expect.poll(() => pool.waitingCount).toBe(3);
    expect(pool.totalCount).toBe(2);
    for (const client of held) client.release();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(pool.totalCount).toBe(2);
  });
});

describe('query()', () => {
  it('takes text, text and values, a config object, and array rowMode', async () => {
    const pool = open();
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await pool.query('SELECT $1::int AS n', [7])).rows).toEqual([{ n: 7 }]);
    const config = await pool.query({ text: 'SELECT $1::text AS t', values: ['x'] });
    expect(config.rows).toEqual([{ t: 'x' }]);
    const named = await pool.query({ name: 'two', text: 'SELECT 2 AS two' });
    expect(named.rows).toEqual([{ two: 2 }]);
    const array = await pool.query({ text: 'SELECT 1, 2', rowMode: 'array' });
    expect(array.rows).toEqual([[1, 2]]);
    // drizzle's form: a config object, its values passed separately.
    const separate = await pool.query({ text: 'SELECT $1::int AS n', rowMode: 'array' }, [3]);
    expect(separate.rows).toEqual([[3]]);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  it('calls back with (error, result) for text, and for text and values', async () => {
    const pool = open();
    const viaCallback = (run: (callback: (error: Error, result: pg.QueryResult) => void) => void) =>
      new Promise<pg.QueryResult>((resolve, reject) =>
        run((error, result) => (error ? reject(error) : resolve(result))),
      );
    expect((await viaCallback((done) => pool.query('SELECT 1 AS a', done))).rows).toEqual([
      { a: 1 },
    ]);
    expect(
      (await viaCallback((done) => pool.query('SELECT $1::text AS b', ['b'], done))).rows,
    ).toEqual([{ b: 'b' }]);
    const error = await viaCallback((done) => pool.query('SELECT nope', done)).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: '42703' });
  });

  it('calls back with an error when given a function as the statement', async () => {
    const pool = open();
    const error = await new Promise<Error>((resolve) => {
      (pool.query as unknown as (callback: (error: Error) => void) => void)(resolve);
    });
    expect(error).toBeInstanceOf(Error);
  });

  it('keeps working through many failing statements on one client, and keeps that client', async () => {
    const pool = open({ max: 1 });
    const errors: unknown[] = [];
    for (let i = 0; i < 20; i++)
      await pool.query('invalid sql').catch((error) => errors.push(error));
    expect(errors).toHaveLength(20);
    expect(errors[0]).toMatchObject({ code: '42601' });
    // pg-pool closes the client after each failed statement; a syntax error does not hurt it.
    expect(pool.enhanced.getStats().created).toBe(1);
    const result = await pool.query('SELECT $1::text as name', ['brianc']);
    expect(result.rows).toEqual([{ name: 'brianc' }]);
  });

  it('fails the statement, not the process, when its backend is terminated mid-query', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const pool = open({ max: 1 });
    const failure = rejectionOf(pool.query('SELECT pg_sleep(5)'));
    await expect
      .poll(async () => server.countConnections({ applicationName: 'enhanced-pool' }))
      .toBe(1);
    await server.terminateBackends({ applicationName: 'enhanced-pool' });
    expect(await failure).toMatchObject({ code: '57P01' });
    // The dead client was retired; the next statement gets a new one.
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    expect(pool.enhanced.getStats().created).toBe(2);
  });
});

describe('events', () => {
  it('emits connect for a new client before the caller gets it, then acquire', async () => {
    const pool = open();
    const seen: string[] = [];
    let connected: pg.PoolClient | undefined;
    pool.on('connect', (client) => {
      connected = client;
      seen.push('connect');
    });
    pool.on('acquire', () => seen.push('acquire'));
    const client = await pool.connect();
    expect(client).toBe(connected);
    client.release();
    (await pool.connect()).release();
    expect(seen).toEqual(['connect', 'acquire', 'acquire']);
  });

  it('emits connect only for a successful connection', async () => {
    // Nothing listens on port 1: every connect is refused.
    const pool = new Pool({ host: '127.0.0.1', port: 1, enhanced: { outageGraceMs: 50 } });
    pools.push(pool);
    pool.on('connect', () => {
      throw new Error('should never get here');
    });
    // pg-pool fails the caller with the first refusal; this pool retries with backoff through
    // the outage grace, then the open breaker refuses the caller.
    const error = await rejectionOf(pool.connect());
    expect(error).toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(pool.enhanced.getStats().connectErrorsByReason.connection).toBeGreaterThan(0);
    expect(pool.totalCount).toBe(0);
  });

  it('emits acquire and release once per checkout, connect and query alike', async () => {
    const pool = open();
    let acquired = 0;
    const released: unknown[] = [];
    pool.on('acquire', (client) => {
      expect(client).toBeTruthy();
      acquired++;
    });
    pool.on('release', (error, client) => {
      expect(client).toBeTruthy();
      released.push(error);
    });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      work.push(pool.connect().then((client) => client.release()));
      work.push(pool.query('SELECT now()'));
    }
    await Promise.all(work);
    expect(acquired).toBe(20);
    expect(released).toHaveLength(20);
    // No error: pg-pool passes on what pg's callback gave (undefined or null).
    expect(released.filter((error) => error instanceof Error)).toEqual([]);
    // The default max of 10 held.
    expect(pool.enhanced.getStats().created).toBeLessThanOrEqual(10);
  });

  it('emits release with the error a client was released with', async () => {
    const pool = open();
    const client = await pool.connect();
    const problem = new Error('problem');
    const event = new Promise<[unknown, unknown]>((resolve) =>
      pool.once('release', (error, released) => resolve([error, released])),
    );
    client.release(problem);
    expect(await event).toEqual([problem, client]);
  });

  it('emits error with the client when an idle client errors, and removes it at once', async () => {
    const pool = open();
    const client = await pool.connect();
    client.release();
    let poolError: [Error, pg.PoolClient] | undefined;
    pool.once('error', (error, errored) => {
      poolError = [error, errored];
    });
    let clientError: Error | undefined;
    client.once('error', (error) => {
      clientError = error;
    });
    client.emit('error', new Error('expected'));
    expect(clientError?.message).toBe('expected');
    expect(poolError?.[0].message).toBe('expected');
    expect(poolError?.[1]).toBe(client);
    expect([pool.idleCount, pool.totalCount]).toEqual([0, 0]);
  });

  it('leaves an error of a checked-out client to its holder', async () => {
    const pool = open();
    const client = await pool.connect();
    let poolError: unknown;
    pool.once('error', (error) => {
      poolError = error;
    });
    let clientError: Error | undefined;
    client.once('error', (error) => {
      clientError = error;
    });
    client.emit('error', new Error('expected'));
    expect(clientError?.message).toBe('expected');
    expect(poolError).toBeUndefined();
    expect([pool.idleCount, pool.totalCount]).toEqual([0, 1]);
    // Released after an error, it is not handed out again.
    client.release();
    expect(pool.totalCount).toBe(0);
  });

  it('does not crash when an idle backend dies and nobody listens for error', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const warnings: string[] = [];
    const pool = open({
      max: 2,
      enhanced: {
        logger: {
          debug: () => {},
          info: () => {},
          warn: (message) => warnings.push(message),
          error: () => {},
        },
      },
    });
    const clients = [await pool.connect(), await pool.connect()];
    for (const client of clients) client.release();
    expect(pool.listenerCount('error')).toBe(0);
    await server.terminateBackends({ applicationName: 'enhanced-pool' });
    await expect.poll(() => pool.totalCount).toBe(0);
    expect(warnings.some((warning) => warning.includes('idle client failed'))).toBe(true);
    expect((await pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});

describe('end()', () => {
  it('ends without being used, with a callback or a promise', async () => {
    const unused = new Pool({ connectionString: server.connectionString });
    await new Promise<void>((resolve, reject) =>
      unused.end((error) => (error ? reject(error) : resolve())),
    );
    expect([unused.ending, unused.ended]).toEqual([true, true]);
    await new Pool({ connectionString: server.connectionString }).end();
  });

  it('lets a query already started finish, then closes every client', async () => {
    const pool = open();
    const query = pool.query('SELECT $1::text as name', ['brianc']);
    const queued = Array.from({ length: 20 }, (_, n) => pool.query('SELECT $1::int AS n', [n]));
    await pool.end();
    expect((await query).rows).toEqual([{ name: 'brianc' }]);
    expect((await Promise.all(queued)).map((result) => result.rows[0].n)).toEqual(
      Array.from({ length: 20 }, (_, n) => n),
    );
    expect(pool.ended).toBe(true);
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(0);
  });

  it('rejects connect, query and end afterwards, by promise and by callback', async () => {
    const pool = open();
    await pool.end();
    for (const attempt of [pool.connect(), pool.query('SELECT 1'), pool.end()]) {
      expect(await rejectionOf(attempt)).toMatchObject({ code: 'POOL_CLOSED' });
    }
    const errors = await Promise.all([
      new Promise((resolve) => pool.query('SELECT 1', (error) => resolve(error))),
      new Promise((resolve) => pool.connect((error) => resolve(error))),
      new Promise((resolve) => pool.end((error) => resolve(error))),
    ]);
    for (const error of errors) expect(error).toBeInstanceOf(Error);
  });

  it('finishes even while a client is never released (bounded by enhanced.endTimeoutMs)', async () => {
    const pool = open({ enhanced: { endTimeoutMs: 100 } });
    const client = await pool.connect();
    const waiting = open({ max: 1, enhanced: { endTimeoutMs: 100 } });
    const holder = await waiting.connect();
    const queued = waiting.connect();
    await Promise.all([pool.end(), waiting.end()]);
    expect(pool.ended && waiting.ended).toBe(true);
    expect(await rejectionOf(queued)).toMatchObject({ code: 'POOL_CLOSED' });
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(0);
    // Releasing after the forced close is harmless.
    client.release();
    holder.release();
  });
});

describe('options', () => {
  it('passes connection fields (not only a connection string) to every client', async () => {
    const pool = new Pool({
      host: server.host,
      port: server.port,
      user: server.user,
      database: server.database,
      application_name: 'orders-api',
      statement_timeout: 1_234,
    });
    pools.push(pool);
    const { rows } = await pool.query('SHOW statement_timeout');
    expect(rows).toEqual([{ statement_timeout: '1234ms' }]);
    expect(await server.countConnections({ applicationName: 'orders-api' })).toBe(1);
  });

  it('uses the Client option, or the class pg passes as the second argument', async () => {
    let built = 0;
    class CountingClient extends pg.Client {
      constructor(config: pg.ClientConfig) {
        super(config);
        built++;
      }
    }
    const pool = open({ Client: CountingClient as never });
    await pool.query('SELECT 1');
    const viaArgument = new Pool({ connectionString: server.connectionString }, CountingClient);
    pools.push(viaArgument);
    await viaArgument.query('SELECT 1');
    // One each to connect, and one each the driver builds (unconnected) to read the target.
    expect(built).toBe(4);
  });

  it('closes a client after maxUses checkouts', async () => {
    const pool = open({ max: 1, maxUses: 2 });
    const pids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const client = await pool.connect();
      pids.push(pidOf(client));
      client.release();
    }
    expect(new Set(pids.slice(0, 2)).size).toBe(1);
    expect(pids[2]).not.toBe(pids[1]);
    expect(pids[4]).not.toBe(pids[3]);
    expect(pool.enhanced.getStats().destroyedByReason['max-uses']).toBe(2);
  });

  it('closes idle clients after idleTimeoutMillis, never below min', async () => {
    const clock = createFakeClock({ start: 1_000 });
    const pool = open({ min: 1, max: 3, idleTimeoutMillis: 1_000, enhanced: { clock } });
    const removed: pg.PoolClient[] = [];
    pool.on('remove', (client) => removed.push(client));
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const client of clients) client.release();
    expect(pool.totalCount).toBe(3);
    clock.advance(999);
    expect(pool.totalCount).toBe(3);
    clock.advance(1);
    expect(pool.totalCount).toBe(1);
    await expect.poll(() => removed.length).toBe(2);
  });

  it('retires clients at maxLifetimeSeconds, counting checked-out ones in expiredCount', async () => {
    const clock = createFakeClock({ start: 1_000 });
    const pool = open({ maxLifetimeSeconds: 2, enhanced: { clock } });
    const idle = await pool.connect();
    const busy = await pool.connect();
    idle.release();
    clock.advance(1_999);
    expect([pool.totalCount, pool.expiredCount]).toEqual([2, 0]);
    clock.advance(1);
    // The idle one is closed at once; the busy one counts as expired until it comes back.
    expect([pool.totalCount, pool.idleCount, pool.expiredCount]).toEqual([1, 0, 1]);
    busy.release();
    expect([pool.totalCount, pool.expiredCount]).toEqual([0, 0]);
  });

  it('rejects a checkout after connectionTimeoutMillis while the pool is full', async () => {
    const clock = createFakeClock({ start: 1_000 });
    const pool = open({ max: 1, connectionTimeoutMillis: 500, enhanced: { clock } });
    const held = await pool.connect();
    const waiting = pool.connect();
    clock.advance(499);
    expect(pool.waitingCount).toBe(1);
    clock.advance(1);
    const error = await rejectionOf(waiting);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect(pool.waitingCount).toBe(0);
    held.release();
  });

  it('holds connectionTimeoutMillis against a server that accepts and never answers', async () => {
    await using silent = await startSilentListener();
    const pool = new Pool({ host: '127.0.0.1', port: silent.port, connectionTimeoutMillis: 200 });
    pools.push(pool);
    const startedAt = performance.now();
    const error = await rejectionOf(pool.connect());
    expect(error).toBeInstanceOf(Error);
    expect(performance.now() - startedAt).toBeLessThan(2_000);
    // No socket is left open toward the hung server.
    await silent.waitUntilClientsClosed(2_000);
    expect(pool.totalCount).toBe(0);
  });

  it('bounds a hanging onConnect by connectionTimeoutMillis', async () => {
    const clock = createFakeClock({ start: 1_000 });
    const pool = open({
      connectionTimeoutMillis: 100,
      onConnect: () => new Promise<void>(() => {}),
      enhanced: { clock },
    });
    const checkout = rejectionOf(pool.connect());
    await expect.poll(() => pool.enhanced.getStats().connecting).toBe(1);
    await clock.advanceAsync(100);
    expect(await checkout).toBeInstanceOf(AcquireTimeoutError);
    await expect.poll(() => pool.totalCount).toBe(0);
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(0);
  });

  it('opens min clients up front and keeps them', async () => {
    const pool = open({ min: 2, max: 4 });
    await pool.enhanced.ready();
    expect([pool.totalCount, pool.idleCount]).toEqual([2, 2]);
    expect(await server.countConnections({ applicationName: 'enhanced-pool' })).toBe(2);
  });

  it('runs onConnect before the first statement, and fails the checkout with its error', async () => {
    const pool = open({
      onConnect: async (client) => {
        await client.query("SET application_name = 'hooked'");
      },
    });
    expect((await pool.query('SHOW application_name')).rows).toEqual([
      { application_name: 'hooked' },
    ]);
    const failing = open({
      onConnect: () => Promise.reject(new Error('hook says no')),
      verify: (_client, done) => done(),
    });
    expect((await rejectionOf(failing.connect())).message).toBe('hook says no');
    expect(failing.totalCount).toBe(0);
  });

  it('runs verify on each new client, and fails the checkout with its error', async () => {
    let verified = 0;
    const pool = open({
      verify: (_client, done) => {
        verified++;
        done();
      },
    });
    await pool.query('SELECT 1');
    await pool.query('SELECT 1');
    expect(verified).toBe(1);
    const failing = open({ verify: (_client, done) => done(new Error('not verified')) });
    expect((await rejectionOf(failing.query('SELECT 1'))).message).toBe('not verified');
  });

  it('unreferences idle sockets with allowExitOnIdle, so the process can exit', async () => {
    const pool = open({ allowExitOnIdle: true });
    const hasRef = (client: pg.PoolClient): boolean =>
      (
        client as unknown as { connection: { stream: { _handle: { hasRef(): boolean } } } }
      ).connection.stream._handle.hasRef();
    const client = await pool.connect();
    expect(hasRef(client)).toBe(true);
    client.release();
    expect(hasRef(client)).toBe(false);
    const again = await pool.connect();
    expect(hasRef(again)).toBe(true);
    again.release();

    const holding = open();
    const held = await holding.connect();
    held.release();
    expect(hasRef(held)).toBe(true);
  });

  it('returns promises of the Promise option', async () => {
    class OwnPromise<T> extends Promise<T> {}
    const pool = open({ Promise: OwnPromise as PromiseConstructorLike });
    const query = pool.query('SELECT 1');
    expect(query).toBeInstanceOf(OwnPromise);
    await query;
    expect(pool.connect().then((client) => client.release())).toBeInstanceOf(Promise);
  });

  it('calls log with the pool’s messages', async () => {
    const messages: unknown[][] = [];
    const pool = open({ log: (...args: unknown[]) => messages.push(args) });
    await pool.query('SELECT 1');
    await pool.end();
    expect(messages.some(([message]) => message === 'ending')).toBe(true);
  });
});

describe('the enhanced pool underneath', () => {
  it('is reachable as pool.enhanced, with its stats, readiness and health check', async () => {
    const pool = open({ enhanced: { name: 'orders' } });
    await pool.query('SELECT 1');
    expect(pool.enhanced.name).toBe('orders');
    expect(pool.enhanced.getStats()).toMatchObject({ acquired: 1, released: 1, poolSize: 1 });
    expect(pool.enhanced.isReady()).toBe(true);
    expect((await pool.enhanced.runHealthCheck()).healthy).toBe(true);
  });

  it('never shows the password, in the pool, its options or the errors', async (context) => {
    requireCapability(context, server, 'passwordAuth');
    const role = server.passwordRole!;
    const pool = open({ connectionString: role.connectionString });
    await pool.query('SELECT 1');
    expect(inspect(pool, { depth: 5 })).not.toContain(role.password);
    expect(inspect(pool.options, { depth: 5 })).not.toContain(role.password);
    expect(JSON.stringify(pool.options)).not.toContain(role.password);
    expect(pool.options.connectionString).toBe(role.connectionString);

    const wrong = new Pool({
      host: server.host,
      port: server.port,
      database: server.database,
      user: role.user,
      password: 'wrong-secret-value',
    });
    pools.push(wrong);
    const error = await rejectionOf(wrong.query('SELECT 1'));
    expect(error).toMatchObject({ code: '28P01' });
    expect(inspect(wrong, { depth: 5 })).not.toContain('wrong-secret-value');
    expect(inspect(error)).not.toContain('wrong-secret-value');
  });
});
