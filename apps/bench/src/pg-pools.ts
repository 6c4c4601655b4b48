import { createPgDriver, type PgClientLike } from '@enhanced-pool/driver-pg';
import { Pool as PgCompatPool } from '@enhanced-pool/pg-compat';
import { createPool } from '@enhanced-pool/pool';
import genericPool from 'generic-pool';
import pg from 'pg';
import PgPool from 'pg-pool';
import { Pool as TarnPool } from 'tarn';
import { withDeadline } from './measure.js';

/**
 * Every pool of the end-to-end and fault sections, behind one shape: run a statement the way
 * that pool's documentation recommends (borrow, query, give back), count connect attempts, close.
 *
 * Each peer is configured the way a careful user would: an `error` listener on every client so
 * a killed backend can't crash the process, a cheap "client saw an error/end" check where the
 * pool supports validation, and connections dropped after an error where the pool lets you.
 */
export interface PgBenchPool {
  readonly name: string;
  readonly configuration: string;
  /** `application_name` of its connections, so faults can target this pool alone. */
  readonly applicationName: string;
  query(sql: string): Promise<unknown>;
  /** Connections this pool asked for so far (successful or not). */
  connectAttempts(): number;
  close(): Promise<void>;
}

export interface PgBenchPoolOptions {
  readonly connectionString: string;
  readonly size: number;
  /** The one bound every pool gets on waiting for a connection. */
  readonly acquireTimeoutMs: number;
  /** Suffix of `application_name`, so two pools of one library don't share it. */
  readonly tag: string;
}

/** A pg client that records when it saw an error or its socket end: the peers' validation. */
function createClient(
  connectionString: string,
  applicationName: string,
  broken: WeakSet<pg.Client>,
): pg.Client {
  const client = new pg.Client({ connectionString, application_name: applicationName });
  client.on('error', () => broken.add(client));
  client.on('end', () => broken.add(client));
  return client;
}

/** Ends a client without waiting forever: `end()` on an already-dead socket can hang. */
function endClient(client: pg.Client): Promise<void> {
  return withDeadline(
    client.end().catch(() => {}),
    1_000,
    undefined,
  );
}

/** pg's own factory for tarn and generic-pool, counting attempts. */
function pgFactory(options: PgBenchPoolOptions, applicationName: string) {
  const broken = new WeakSet<pg.Client>();
  const counter = { attempts: 0 };
  return {
    broken,
    counter,
    async create(): Promise<pg.Client> {
      counter.attempts += 1;
      const client = createClient(options.connectionString, applicationName, broken);
      await client.connect();
      return client;
    },
    destroy: endClient,
  };
}

export function createPgPoolPeer(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-pg-pool-${options.tag}`;
  const counter = { attempts: 0 };
  // pg-pool builds one Client per connection attempt, so counting constructions counts attempts.
  class CountingClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super(config);
      counter.attempts += 1;
      // pg-pool adds its own listener while a client is idle; this one covers checked-out clients.
      this.on('error', () => {});
    }
  }
  const pool = new PgPool<pg.Client>({
    Client: CountingClient as never,
    connectionString: options.connectionString,
    application_name: applicationName,
    max: options.size,
    connectionTimeoutMillis: options.acquireTimeoutMs,
  });
  pool.on('error', () => {});
  return {
    name: 'pg-pool 3.14.0',
    configuration: `max ${options.size}, connectionTimeoutMillis ${options.acquireTimeoutMs}, \`pool.query()\`, pool \`error\` listener`,
    applicationName,
    query: (sql) => pool.query(sql),
    connectAttempts: () => counter.attempts,
    close: () => withDeadline(pool.end(), 3_000, undefined),
  };
}

export function createTarnPeer(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-tarn-${options.tag}`;
  const factory = pgFactory(options, applicationName);
  const pool = new TarnPool<pg.Client>({
    create: factory.create,
    destroy: factory.destroy,
    validate: (client) => !factory.broken.has(client),
    min: 0,
    max: options.size,
    acquireTimeoutMillis: options.acquireTimeoutMs,
  });
  return {
    name: 'tarn 3.1.2',
    configuration: `min 0, max ${options.size}, acquireTimeoutMillis ${options.acquireTimeoutMs}, \`validate\`: client saw no error/end`,
    applicationName,
    async query(sql) {
      const client = await pool.acquire().promise;
      try {
        return await client.query(sql);
      } finally {
        pool.release(client);
      }
    },
    connectAttempts: () => factory.counter.attempts,
    close: () =>
      withDeadline(
        pool.destroy().then(() => {}),
        3_000,
        undefined,
      ),
  };
}

export function createGenericPoolPeer(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-generic-pool-${options.tag}`;
  const factory = pgFactory(options, applicationName);
  const pool = genericPool.createPool<pg.Client>(
    {
      create: factory.create,
      destroy: factory.destroy,
      validate: (client) => Promise.resolve(!factory.broken.has(client)),
    },
    {
      min: 0,
      max: options.size,
      testOnBorrow: true,
      acquireTimeoutMillis: options.acquireTimeoutMs,
    },
  );
  return {
    name: 'generic-pool 3.9.0',
    configuration: `min 0, max ${options.size}, acquireTimeoutMillis ${options.acquireTimeoutMs}, testOnBorrow (client saw no error/end), destroy on query error`,
    applicationName,
    async query(sql) {
      const client = await pool.acquire();
      let result: unknown;
      try {
        result = await client.query(sql);
      } catch (error) {
        void pool.destroy(client);
        throw error;
      }
      void pool.release(client);
      return result;
    },
    connectAttempts: () => factory.counter.attempts,
    close: () =>
      withDeadline(
        pool.drain().then(() => pool.clear()),
        3_000,
        undefined,
      ),
  };
}

/**
 * Ours as a drop-in: `@enhanced-pool/pg-compat`'s `Pool` with exactly the pg-pool peer's
 * configuration (one import changed), used through `pool.query()`.
 */
export function createPgCompatPool(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-pg-compat-${options.tag}`;
  const counter = { attempts: 0 };
  // The driver also builds one unconnected client at construction to read the target; the
  // sections count attempts as differences, so that one never shows.
  class CountingClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super(config);
      counter.attempts += 1;
    }
  }
  const pool = new PgCompatPool({
    Client: CountingClient as never,
    connectionString: options.connectionString,
    application_name: applicationName,
    max: options.size,
    connectionTimeoutMillis: options.acquireTimeoutMs,
  });
  pool.on('error', () => {});
  return {
    name: 'pg-compat (drop-in pg.Pool)',
    configuration: `pg-pool's configuration with the import changed: max ${options.size}, connectionTimeoutMillis ${options.acquireTimeoutMs}, \`pool.query()\`, pool \`error\` listener; enhanced defaults otherwise`,
    applicationName,
    query: (sql) => pool.query(sql),
    connectAttempts: () => counter.attempts,
    close: () => withDeadline(pool.end(), 3_000, undefined),
  };
}

/** Ours: the pg driver under the pool, used through `withConnection()` as its README advises. */
export function createOurPgPool(
  options: PgBenchPoolOptions,
  variant: {
    readonly idleOrder?: 'lifo' | 'fifo';
    /** `withConnection(fn, { idempotent: true })`: a stale idle socket's failure is retried. */
    readonly idempotent?: boolean;
    readonly outageGraceMs?: number;
  } = {},
): PgBenchPool {
  const applicationName = `bench-enhanced-pool-${options.tag}`;
  const driver = createPgDriver({
    connectionString: options.connectionString,
    applicationName,
  });
  const counter = { attempts: 0 };
  const counted: typeof driver = Object.create(driver, {
    connect: {
      value: (callOptions: Parameters<typeof driver.connect>[0]) => {
        counter.attempts += 1;
        return driver.connect(callOptions);
      },
    },
  });
  const pool = createPool<PgClientLike>({
    driver: counted,
    minSize: 0,
    maxSize: options.size,
    acquireTimeoutMs: options.acquireTimeoutMs,
    name: applicationName,
    ...(variant.idleOrder === undefined ? {} : { idleOrder: variant.idleOrder }),
    ...(variant.outageGraceMs === undefined ? {} : { outageGraceMs: variant.outageGraceMs }),
  });
  const tags: string[] = [];
  if (variant.idleOrder !== undefined) tags.push(variant.idleOrder);
  if (variant.idempotent === true) tags.push('idempotent');
  if (variant.outageGraceMs !== undefined) tags.push(`outageGraceMs ${variant.outageGraceMs}`);
  const order = variant.idleOrder === undefined ? '' : `, idleOrder '${variant.idleOrder}'`;
  const grace =
    variant.outageGraceMs === undefined ? '' : `, outageGraceMs ${variant.outageGraceMs}`;
  const call = variant.idempotent === true ? '{ idempotent: true }' : '';
  const callOptions = variant.idempotent === true ? { idempotent: true } : undefined;
  return {
    name: tags.length === 0 ? 'enhanced-pool' : `enhanced-pool (${tags.join(', ')})`,
    configuration: `createPgDriver, minSize 0, maxSize ${options.size}, acquireTimeoutMs ${options.acquireTimeoutMs}${order}${grace}, \`pool.withConnection(fn${call === '' ? '' : `, ${call}`})\`; defaults otherwise`,
    applicationName,
    query: (sql) => pool.withConnection((connection) => connection.query(sql), callOptions),
    connectAttempts: () => counter.attempts,
    close: () => withDeadline(pool.close({ timeoutMs: 2_000 }), 3_000, undefined),
  };
}

/**
 * The baseline: `size` pg.Clients opened up front and used round robin, no pool at all. pg
 * queues statements per client, so concurrency above `size` waits inside the clients.
 */
export async function createRawClients(options: PgBenchPoolOptions): Promise<PgBenchPool> {
  const applicationName = `bench-raw-${options.tag}`;
  const broken = new WeakSet<pg.Client>();
  const clients = Array.from({ length: options.size }, () =>
    createClient(options.connectionString, applicationName, broken),
  );
  await Promise.all(clients.map((client) => client.connect()));
  let next = 0;
  return {
    name: `raw: ${options.size} pg.Clients, round robin`,
    configuration: `${options.size} \`pg.Client\`s connected up front, \`clients[next++ % ${options.size}].query()\``,
    applicationName,
    query: (sql) => clients[next++ % options.size]!.query(sql),
    connectAttempts: () => options.size,
    close: async () => {
      await Promise.all(clients.map(endClient));
    },
  };
}
