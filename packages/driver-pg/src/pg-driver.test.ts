import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { InvalidOptionError } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { classifyPgError } from './classify-pg-error.js';
import type { PgClientConfig, PgClientLike, PgQueryResultLike } from './pg-client-like.js';
import { createPgDriver } from './pg-driver.js';
import type { PgDriverOptions } from './pg-driver-options.js';

const PASSWORD = 'unit-test-pw-3f9a';

/** A promise whose settlement the test decides. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A stand-in for `pg.Client` with the members the driver reads, whose connect, queries and end
 * the test settles by hand. It is an EventEmitter like pg's client, so an `error` event without
 * a listener throws, as it would crash a process.
 */
class FakePgClient extends EventEmitter implements PgClientLike {
  static instances: FakePgClient[] = [];
  readonly config: PgClientConfig;
  readonly password: string | undefined;
  readonly host = 'db.internal';
  readonly port = 6543;
  readonly database = 'orders';
  connectResult = deferred<unknown>();
  endResult: Promise<void> | undefined = Promise.resolve();
  queries: { text: string; result: ReturnType<typeof deferred<PgQueryResultLike>> }[] = [];
  endCalls = 0;
  transactionStatus: string | null = 'I';
  readyForQuery = true;
  readonly connection = {
    stream: {
      destroyed: false,
      writable: true,
      destroyCalls: 0,
      destroy() {
        this.destroyed = true;
        this.writable = false;
        this.destroyCalls += 1;
      },
    },
  };

  constructor(config: PgClientConfig) {
    super();
    this.config = config;
    this.password = typeof config.password === 'string' ? config.password : undefined;
    FakePgClient.instances.push(this);
  }

  connect(): Promise<unknown> {
    return this.connectResult.promise;
  }

  query(text: string): Promise<PgQueryResultLike> {
    const result = deferred<PgQueryResultLike>();
    this.queries.push({ text, result });
    return result.promise;
  }

  end(): Promise<void> {
    this.endCalls += 1;
    return this.endResult ?? new Promise<void>(() => {});
  }

  getTransactionStatus(): string | null {
    return this.transactionStatus;
  }
}

function setup(options: Partial<PgDriverOptions<FakePgClient>> = {}) {
  FakePgClient.instances = [];
  const clock = createFakeClock();
  const driver = createPgDriver<FakePgClient>({
    config: { host: 'db.internal', port: 6543, database: 'orders', password: PASSWORD },
    Client: FakePgClient,
    clock,
    ...options,
  });
  // The driver builds one client up front to check the target and read describe().
  const probes = FakePgClient.instances.length;
  return { driver, clock, probes };
}

async function connected(options: Partial<PgDriverOptions<FakePgClient>> = {}) {
  const context = setup(options);
  const pending = context.driver.connect({ signal: new AbortController().signal });
  const client = FakePgClient.instances.at(-1)!;
  client.connectResult.resolve(client);
  expect(await pending).toBe(client);
  return { ...context, client };
}

const signal = () => new AbortController().signal;

describe('options', () => {
  it('requires exactly one of connectionString and config', () => {
    expect(() => createPgDriver({})).toThrow(InvalidOptionError);
    const both = () =>
      createPgDriver({
        connectionString: `postgres://app:${PASSWORD}@db/x`,
        config: { password: PASSWORD },
      });
    expect(both).toThrow(/exactly one of connectionString and config/);
    try {
      both();
    } catch (error) {
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    }
  });

  it.each([
    ['connectionString', { connectionString: '' }],
    ['connectionString', { connectionString: 42 }],
    ['config', { config: 'host=db' }],
    ['config', { config: null }],
    ['applicationName', { config: {}, applicationName: '' }],
    ['applicationName', { config: {}, applicationName: 'x'.repeat(64) }],
    ['validationQuery', { config: {}, validationQuery: '' }],
    ['validationTimeoutMs', { config: {}, validationTimeoutMs: 0 }],
    ['validationTimeoutMs', { config: {}, validationTimeoutMs: Number.NaN }],
    ['validationTimeoutMs', { config: {}, validationTimeoutMs: 2 ** 31 }],
    ['keepAlive', { config: {}, keepAlive: 'yes' }],
    ['keepAliveInitialDelayMs', { config: {}, keepAliveInitialDelayMs: -1 }],
    ['keepAliveInitialDelayMs', { config: {}, keepAliveInitialDelayMs: 1.5 }],
    ['statementTimeoutMs', { config: {}, statementTimeoutMs: 0 }],
    ['closeTimeoutMs', { config: {}, closeTimeoutMs: -1 }],
    ['Client', { config: {}, Client: {} }],
    ['clock', { config: {}, clock: { now: () => 0 } }],
  ])('rejects a bad %s', (option, options) => {
    try {
      createPgDriver(options as never);
      expect.unreachable();
    } catch (error) {
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });

  it('rejects a connection string pg cannot parse at construction, without its password', () => {
    const connectionString = `postgres://app:${PASSWORD}@127.0.0.1:notaport/orders`;
    try {
      createPgDriver({ connectionString });
      expect.unreachable();
    } catch (error) {
      expect(InvalidOptionError.isInstance(error)).toBe(true);
      expect((error as InvalidOptionError).option).toBe('connectionString');
      expect((error as Error).message).toMatch(/Invalid URL/);
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    }
  });

  it('rejects a config pg refuses at construction', () => {
    expect(() =>
      createPgDriver({ config: { sslnegotiation: 'sometimes' as never, password: PASSWORD } }),
    ).toThrow(/Invalid option "config".*sslnegotiation/);
  });

  it('sends an application name, keepalive and a statement timeout in the client config', async () => {
    const { client } = await connected({ statementTimeoutMs: 2_500 });
    expect(client.config).toMatchObject({
      host: 'db.internal',
      fallback_application_name: 'enhanced-pool',
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      statement_timeout: 2_500,
    });
    expect(client.config.application_name).toBeUndefined();
  });

  it("leaves the user's application_name, keepalive settings and config object alone", async () => {
    const config = {
      host: 'db.internal',
      application_name: 'billing',
      keepAlive: false,
      keepAliveInitialDelayMillis: 500,
    };
    const { client } = await connected({ config });
    expect(client.config).toMatchObject({ application_name: 'billing', keepAlive: false });
    expect(client.config.keepAliveInitialDelayMillis).toBe(500);
    expect(client.config.statement_timeout).toBeUndefined();
    expect(config).toEqual({
      host: 'db.internal',
      application_name: 'billing',
      keepAlive: false,
      keepAliveInitialDelayMillis: 500,
    });
  });

  it('lets explicit driver options win over the same settings in config', async () => {
    const { client } = await connected({
      config: { keepAlive: false, fallback_application_name: 'theirs' },
      keepAlive: true,
      keepAliveInitialDelayMs: 0,
      applicationName: 'ours',
    });
    expect(client.config).toMatchObject({
      keepAlive: true,
      keepAliveInitialDelayMillis: 0,
      fallback_application_name: 'ours',
    });
  });
});

describe('describe() and secrets', () => {
  it('describes a connection string target without its password', () => {
    const driver = createPgDriver({
      connectionString: `postgresql://app:${PASSWORD}@db.internal:6543/orders?sslmode=disable`,
    });
    expect(driver.describe()).toEqual({
      'db.system.name': 'postgresql',
      'server.address': 'db.internal',
      'server.port': 6543,
      'db.namespace': 'orders',
    });
  });

  it('describes a config target', () => {
    const driver = createPgDriver({
      config: { host: '/var/run/postgresql', port: 5433, database: 'app', password: PASSWORD },
    });
    expect(driver.describe()).toEqual({
      'db.system.name': 'postgresql',
      'server.address': '/var/run/postgresql',
      'server.port': 5433,
      'db.namespace': 'app',
    });
  });

  it.each([
    ['connectionString', { connectionString: `postgres://app:${PASSWORD}@db.internal/orders` }],
    ['config', { config: { host: 'db.internal', user: 'app', password: PASSWORD } }],
  ])('keeps the password out of util.inspect of the driver (%s)', (_, options) => {
    const driver = createPgDriver(options);
    expect(inspect(driver, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    expect(JSON.stringify(driver.describe())).not.toContain(PASSWORD);
  });

  it('removes the password from an error it rejects with', async () => {
    const { driver } = setup();
    const pending = driver.connect({ signal: signal() });
    FakePgClient.instances
      .at(-1)!
      .connectResult.reject(new Error(`server said: password "${PASSWORD}" is wrong`));
    const error = await pending.catch((caught: unknown) => caught);
    expect((error as Error).message).toBe('server said: password "***" is wrong');
    expect((error as Error).stack).not.toContain(PASSWORD);
  });

  it('classifies with classifyPgError', () => {
    const { driver } = setup();
    expect(driver.classifyError).toBe(classifyPgError);
    expect(driver.name).toBe('pg');
    expect(driver.specificationVersion).toBe('v1');
  });
});

describe('connect()', () => {
  it('does not create a client when the signal is already aborted', async () => {
    const { driver, probes } = setup();
    const controller = new AbortController();
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(driver.connect({ signal: controller.signal })).rejects.toBe(reason);
    expect(FakePgClient.instances).toHaveLength(probes);
  });

  it('rejects with the abort reason mid-connect and destroys the socket', async () => {
    const { driver } = setup();
    const controller = new AbortController();
    const pending = driver.connect({ signal: controller.signal });
    const client = FakePgClient.instances.at(-1)!;
    const reason = new Error('acquire deadline');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(client.connection.stream.destroyCalls).toBe(1);
    // pg's own connect() settles later; that must not surface anywhere.
    client.connectResult.reject(new Error('Connection terminated unexpectedly'));
  });

  it('rejects with the abort reason when connect completes in the same tick', async () => {
    const { driver } = setup();
    const controller = new AbortController();
    const pending = driver.connect({ signal: controller.signal });
    const client = FakePgClient.instances.at(-1)!;
    client.connectResult.resolve(client);
    controller.abort(new Error('too late'));
    await expect(pending).rejects.toThrow('too late');
    expect(client.connection.stream.destroyed).toBe(true);
  });

  it('does not hand out a connection whose caller aborted just after pg connected', async () => {
    const { driver } = setup();
    const controller = new AbortController();
    const pending = driver.connect({ signal: controller.signal });
    const client = FakePgClient.instances.at(-1)!;
    client.connectResult.resolve(client);
    // One microtask: pg's connect() has settled the deadline race, the driver has not resumed.
    await Promise.resolve();
    controller.abort(new Error('acquire deadline'));
    await expect(pending).rejects.toThrow('acquire deadline');
    expect(client.connection.stream.destroyed).toBe(true);
  });

  it('destroys the socket when connect fails (pg leaves it open after a SCRAM error)', async () => {
    const { driver } = setup();
    const pending = driver.connect({ signal: signal() });
    const client = FakePgClient.instances.at(-1)!;
    client.connectResult.reject(
      new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
    );
    await expect(pending).rejects.toThrow(/SASL/);
    expect(client.connection.stream.destroyed).toBe(true);
  });
});

describe('isBroken()', () => {
  it('is false for a healthy connection', async () => {
    const { driver, client } = await connected();
    expect(driver.isBroken(client)).toBe(false);
  });

  it('turns true on an error event, which never goes unhandled', async () => {
    const { driver, client } = await connected();
    const terminated = Object.assign(new Error('terminating connection'), { code: '57P01' });
    expect(() => client.emit('error', terminated)).not.toThrow();
    expect(driver.isBroken(client)).toBe(true);
    await expect(driver.validate(client, { signal: signal() })).rejects.toBe(terminated);
    await expect(driver.reset(client, { signal: signal() })).rejects.toBe(terminated);
    expect(client.queries).toHaveLength(0);
  });

  it("turns true on an 'end' event", async () => {
    const { driver, client } = await connected();
    client.emit('end');
    expect(driver.isBroken(client)).toBe(true);
    const error = await driver.validate(client, { signal: signal() }).catch((caught) => caught);
    expect(classifyPgError(error)).toBe('connection');
  });

  it('turns true when the socket is destroyed or no longer writable', async () => {
    const { driver, client } = await connected();
    client.connection.stream.writable = false;
    expect(driver.isBroken(client)).toBe(true);
  });
});

describe('validate()', () => {
  it('runs the validation query', async () => {
    const { driver, client } = await connected({ validationQuery: 'SELECT 42' });
    const pending = driver.validate(client, { signal: signal() });
    expect(client.queries.map((query) => query.text)).toEqual(['SELECT 42']);
    client.queries[0]!.result.resolve({ rows: [], rowCount: 1 });
    await expect(pending).resolves.toBeUndefined();
    expect(driver.isBroken(client)).toBe(false);
  });

  it('rejects with a timeout and marks the connection broken when the query hangs', async () => {
    const { driver, client, clock } = await connected({ validationTimeoutMs: 250 });
    const pending = driver.validate(client, { signal: signal() }).catch((caught) => caught);
    clock.advance(249);
    expect(driver.isBroken(client)).toBe(false);
    clock.advance(1);
    const error = await pending;
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(classifyPgError(error)).toBe('timeout');
    expect(driver.isBroken(client)).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects with the abort reason and marks the connection broken', async () => {
    const { driver, client, clock } = await connected();
    const controller = new AbortController();
    const pending = driver.validate(client, { signal: controller.signal });
    controller.abort(new Error('pool closing'));
    await expect(pending).rejects.toThrow('pool closing');
    expect(driver.isBroken(client)).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('passes a failing query through, and leaves no timer behind', async () => {
    const { driver, client, clock } = await connected();
    const pending = driver.validate(client, { signal: signal() });
    const failure = Object.assign(new Error('Connection terminated unexpectedly'), {});
    client.queries[0]!.result.reject(failure);
    await expect(pending).rejects.toBe(failure);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('reset()', () => {
  it('costs no round trip when the client is idle outside a transaction', async () => {
    const { driver, client } = await connected();
    await driver.reset(client, { signal: signal() });
    expect(client.queries).toHaveLength(0);
  });

  it.each(['T', 'E', null])('rolls back when the transaction status is %s', async (status) => {
    const { driver, client } = await connected();
    client.transactionStatus = status;
    const pending = driver.reset(client, { signal: signal() });
    expect(client.queries.map((query) => query.text)).toEqual(['ROLLBACK']);
    client.queries[0]!.result.resolve({ rows: [], rowCount: null });
    await expect(pending).resolves.toBeUndefined();
  });

  it('rolls back when the client cannot report its transaction status', async () => {
    const { driver, client } = await connected();
    Object.assign(client, { getTransactionStatus: undefined });
    const pending = driver.reset(client, { signal: signal() });
    expect(client.queries.map((query) => query.text)).toEqual(['ROLLBACK']);
    client.queries[0]!.result.resolve({ rows: [], rowCount: null });
    await pending;
  });

  it('rolls back behind a query still on the wire, even when the status looks idle', async () => {
    // pg settles a failed query before the server's ReadyForQuery arrives, so a connection
    // released right after a query error reports a stale 'I' with readyForQuery still false.
    const { driver, client } = await connected();
    client.readyForQuery = false;
    const pending = driver.reset(client, { signal: signal() });
    expect(client.queries.map((query) => query.text)).toEqual(['ROLLBACK']);
    client.queries[0]!.result.resolve({ rows: [], rowCount: null });
    await expect(pending).resolves.toBeUndefined();
    expect(driver.isBroken(client)).toBe(false);
  });

  it('rejects when the ROLLBACK fails, or times out (then the connection is broken)', async () => {
    const { driver, client, clock } = await connected({ validationTimeoutMs: 100 });
    client.transactionStatus = 'E';
    const failing = driver.reset(client, { signal: signal() });
    client.queries[0]!.result.reject(new Error('Client has encountered a connection error'));
    await expect(failing).rejects.toThrow(/connection error/);

    const hanging = driver.reset(client, { signal: signal() }).catch((caught) => caught);
    clock.advance(100);
    expect(classifyPgError(await hanging)).toBe('timeout');
    expect(driver.isBroken(client)).toBe(true);
  });
});

describe('close()', () => {
  it('ends the client once, however often it is called', async () => {
    const { driver, client } = await connected();
    const first = driver.close(client);
    const second = driver.close(client);
    expect(second).toBe(first);
    await first;
    await driver.close(client);
    expect(client.endCalls).toBe(1);
    expect(driver.isBroken(client)).toBe(true);
  });

  it('destroys the socket when end() does not finish in time', async () => {
    const { driver, client, clock } = await connected({ closeTimeoutMs: 1_000 });
    client.endResult = undefined;
    const closing = driver.close(client);
    clock.advance(999);
    expect(client.connection.stream.destroyed).toBe(false);
    clock.advance(1);
    await closing;
    expect(client.connection.stream.destroyed).toBe(true);
  });

  it('never rejects, even when end() does', async () => {
    const { driver, client, clock } = await connected();
    client.endResult = Promise.reject(new Error('already dead'));
    await expect(driver.close(client)).resolves.toBeUndefined();
    expect(client.connection.stream.destroyed).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('closes a client this driver did not create without complaint', async () => {
    const { driver } = setup();
    const stranger = new FakePgClient({});
    await driver.close(stranger);
    expect(stranger.endCalls).toBe(1);
  });
});
