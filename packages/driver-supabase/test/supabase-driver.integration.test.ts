import { inspect } from 'node:util';
import {
  createFakeClock,
  type PostgresServer,
  type PostgrestTestServer,
  startPostgres,
  startPostgrestTestServer,
} from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createSupabaseDriver,
  type SupabaseDriver,
  type SupabaseDriverOptions,
  SupabaseRequestError,
} from '../src/index.js';
import { prepareSupabaseDatabase } from './support/supabase-test-database.js';
import { freePortForTests } from './support/test-helpers.js';

const signal = () => new AbortController().signal;

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function renderings(value: unknown): string[] {
  const out = [
    String(value),
    inspect(value, { depth: Infinity }),
    inspect(value, { depth: Infinity, showHidden: true }),
  ];
  if (value instanceof Error && value.stack !== undefined) out.push(value.stack);
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // Circular: nothing leaks through JSON then.
  }
  return out;
}

describe('driver-supabase against the PostgREST test server and a real PostgreSQL', () => {
  let database: PostgresServer;
  let api: PostgrestTestServer;
  const opened: { driver: SupabaseDriver; client: SupabaseClient }[] = [];

  const connectWith = async (
    options: Partial<SupabaseDriverOptions<SupabaseClient>> = {},
  ): Promise<{ driver: SupabaseDriver; client: SupabaseClient }> => {
    const driver = createSupabaseDriver<SupabaseClient>({
      url: api.url,
      key: api.key,
      healthCheck: { table: 'todos' },
      ...options,
    });
    const client = await driver.connect({ signal: signal() });
    opened.push({ driver, client });
    return { driver, client };
  };

  beforeAll(async () => {
    database = await startPostgres();
    await prepareSupabaseDatabase(database);
    api = await startPostgrestTestServer({ database });
  });

  afterEach(async () => {
    api.clearFault();
    await Promise.all(opened.splice(0).map(({ driver, client }) => driver.close(client)));
  });

  afterAll(async () => {
    await api?.close();
    await database?.stop();
  });

  it('hands out supabase-js clients that read, write and call functions', async () => {
    const { client } = await connectWith();
    const inserted = await client.from('todos').insert({ title: 'write the driver' }).select();
    expect(inserted.error).toBeNull();
    const read = await client.from('todos').select('title').eq('title', 'write the driver');
    expect(read.data).toEqual([{ title: 'write the driver' }]);
    const sum = await client.rpc('add', { a: 2, b: 3 });
    expect(sum.data).toBe(5);
  });

  it('checks health with a HEAD on the table, or a call of the function, or pg_graphql by default', async () => {
    const before = api.requests().length;
    const { driver: byTable, client: first } = await connectWith({
      healthCheck: { table: 'todos' },
    });
    await byTable.validate(first, { signal: signal() });
    const { driver: byRpc, client: second } = await connectWith({
      healthCheck: { rpc: 'add', args: { a: 1, b: 1 } },
    });
    await byRpc.validate(second, { signal: signal() });
    const { driver: byDefault, client: third } = await connectWith({ healthCheck: undefined });
    await byDefault.validate(third, { signal: signal() });
    expect(
      api
        .requests()
        .slice(before)
        .map((request) => `${request.method} ${request.path} ${request.outcome}`),
    ).toEqual([
      'HEAD /rest/v1/todos?select=*&limit=0 200',
      'HEAD /rest/v1/todos?select=*&limit=0 200',
      'POST /rest/v1/rpc/add 200',
      'POST /rest/v1/rpc/add 200',
      'POST /rest/v1/rpc/graphql 200',
      'POST /rest/v1/rpc/graphql 200',
    ]);
  });

  it.each([
    ['unavailable', 503, 'connection'],
    ['pool-timeout', 504, 'resource-exhausted'],
  ] as const)('classifies an injected %s (%d) as "%s"', async (fault, status, reason) => {
    const { driver, client } = await connectWith();
    api.injectFault(fault, { times: 1 });
    const error = await rejectionOf(driver.validate(client, { signal: signal() }));
    expect(error).toBeInstanceOf(SupabaseRequestError);
    expect((error as SupabaseRequestError).status).toBe(status);
    expect(driver.classifyError(error)).toBe(reason);
    // The same fault reaching a borrower's own query classifies the same way.
    api.injectFault(fault, { times: 1 });
    const response = await client.from('todos').insert({ title: `during ${fault}` });
    expect(response.status).toBe(status);
    expect(driver.classifyError(response)).toBe(reason);
    expect(driver.classifyError(response.error)).toBe(reason);
    // The fault was one request long: the client serves again.
    await driver.validate(client, { signal: signal() });
  });

  it('classifies a reset connection as "connection", with the socket error kept as the cause', async () => {
    const { driver, client } = await connectWith();
    api.injectFault('reset', { times: 1 });
    const error = await rejectionOf(driver.validate(client, { signal: signal() }));
    expect(driver.classifyError(error)).toBe('connection');
    expect(error).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNRESET' } });
    api.injectFault('reset', { times: 1 });
    const response = await client.rpc('add', { a: 1, b: 2 });
    expect(response.status).toBe(0);
    expect(driver.classifyError(response.error)).toBe('connection');
  });

  it('times out a health check that gets no answer at healthCheck.timeoutMs, classified "timeout"', async () => {
    const clock = createFakeClock();
    const { driver, client } = await connectWith({
      clock,
      healthCheck: { table: 'todos', timeoutMs: 2_000 },
    });
    api.injectFault('no-answer');
    const requests = api.requests().length;
    const validation = rejectionOf(driver.validate(client, { signal: signal() }));
    await api.waitForRequests(requests + 1, 2_000);
    clock.advance(1_999);
    expect(api.pendingRequests()).toBe(1);
    clock.advance(1);
    const error = await validation;
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(driver.classifyError(error)).toBe('timeout');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('sends the health check once during an outage: supabase-js retries are off for it', async () => {
    const { driver, client } = await connectWith();
    api.injectFault('unavailable');
    const before = api.requests().length;
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await rejectionOf(driver.validate(client, { signal: signal() }));
      expect(driver.classifyError(error)).toBe('connection');
    }
    const sent = api.requests().slice(before);
    expect(sent).toHaveLength(3);
    expect(sent.every((request) => request.retryCount === 0 && request.outcome === 503)).toBe(true);
  });

  it('classifies a wrong key as "authentication", a rotated key too, and shows neither', async () => {
    const wrongKey = 'wrong-key-3f9c1a77e2';
    const wrong = createSupabaseDriver({
      url: api.url,
      key: wrongKey,
      healthCheck: { table: 'todos' },
    });
    const refused = await rejectionOf(wrong.connect({ signal: signal() }));
    expect(wrong.classifyError(refused)).toBe('authentication');
    for (const rendered of renderings(refused)) expect(rendered).not.toContain(wrongKey);

    const { driver, client } = await connectWith();
    const oldKey = api.key;
    api.rotateKey('rotated-key-0b1d4c');
    try {
      const error = await rejectionOf(driver.validate(client, { signal: signal() }));
      expect(driver.classifyError(error)).toBe('authentication');
      for (const rendered of renderings(error)) expect(rendered).not.toContain(oldKey);
    } finally {
      api.rotateKey(oldKey);
    }
  });

  it('classifies a refused connection as "connection" and a missing table or function as "query"', async () => {
    const port = await freePortForTests();
    const nowhere = createSupabaseDriver({ url: `http://127.0.0.1:${port}`, key: 'k' });
    const error = await rejectionOf(nowhere.connect({ signal: signal() }));
    expect(nowhere.classifyError(error)).toBe('connection');

    const noTable = createSupabaseDriver({
      url: api.url,
      key: api.key,
      healthCheck: { table: 'no_such_table' },
    });
    const missing = await rejectionOf(noTable.connect({ signal: signal() }));
    expect(missing).toMatchObject({ status: 404 });
    expect(noTable.classifyError(missing)).toBe('query');
    const { client } = await connectWith();
    const noFunction = await client.rpc('no_such_function');
    expect(noFunction.error?.code).toBe('PGRST202');
    expect(noTable.classifyError(noFunction.error)).toBe('query');
    const duplicate = await client.from('todos').insert([{ title: 'twice' }, { title: 'twice' }]);
    expect(duplicate.error?.code).toBe('23505');
    expect(noTable.classifyError(duplicate)).toBe('query');
  });

  it('reports the database going down behind the API as "connection", and recovers when it is back', async (context) => {
    requireCapability(context, database, 'restart');
    const { driver, client } = await connectWith();
    await database.kill();
    let error: unknown;
    try {
      error = await rejectionOf(driver.validate(client, { signal: signal() }));
    } finally {
      await database.start();
    }
    // A HEAD answer has no body, so PostgREST's PGRST000 is not seen; the status is.
    expect(error).toMatchObject({ status: 503 });
    expect(driver.classifyError(error)).toBe('connection');
    await driver.validate(client, { signal: signal() });
  });

  it('close() aborts the requests still in flight and refuses use afterwards', async () => {
    const { driver, client } = await connectWith();
    api.injectFault('no-answer');
    const before = api.requests().length;
    // A query builder sends nothing until it is awaited.
    const stuck = Promise.resolve(client.from('todos').select('*'));
    await api.waitForRequests(before + 1, 2_000);
    await driver.close(client);
    const answer = await stuck;
    expect(answer.error?.message).toMatch(/closed by its driver/);
    expect(driver.classifyError(answer.error)).toBe('connection');
    const after = await rejectionOf(driver.validate(client, { signal: signal() }));
    expect(driver.classifyError(after)).toBe('connection');
  });

  it('gives realtime the ws transport on Node without WebSocket, and close() removes its channels', async () => {
    const { driver, client } = await connectWith();
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
      expect(client.realtime.transport).toBe(WebSocket);
    }
    client.channel('room-1').subscribe();
    expect(client.getChannels()).toHaveLength(1);
    await expect(driver.reset(client, { signal: signal() })).rejects.toThrow(
      /realtime channel\(s\) still subscribed/,
    );
    await driver.close(client);
    expect(client.getChannels()).toHaveLength(0);
    expect(client.realtime.isConnected()).toBe(false);
  });

  it('reset() refuses a client a borrower left signed in, and passes a clean one', async () => {
    const { driver, client } = await connectWith();
    await driver.reset(client, { signal: signal() });
    const session = {
      access_token: 'header.payload.signature',
      refresh_token: 'refresh',
      expires_in: 3600,
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      token_type: 'bearer',
      user: { id: 'u1', aud: 'authenticated', app_metadata: {}, user_metadata: {}, created_at: '' },
    };
    // What signInWithPassword() stores; the test server has no auth endpoints to sign in with.
    await (client.auth as unknown as { _saveSession(value: unknown): Promise<void> })._saveSession(
      session,
    );
    expect((await client.auth.getSession()).data.session).not.toBeNull();
    await expect(driver.reset(client, { signal: signal() })).rejects.toThrow(/auth session/);
  });

  it('keeps the key out of util.inspect and JSON of the driver and its clients, and out of errors', async () => {
    const key = api.key;
    const { driver, client } = await connectWith();
    const rendered = [
      ...renderings(driver),
      ...renderings(client),
      ...renderings(driver.describe()),
      ...renderings({ lease: { connection: client } }),
      inspect(client.realtime, { depth: 4, showHidden: true }),
      inspect(client.auth, { depth: 4, showHidden: true }),
      inspect(client.storage, { depth: 4, showHidden: true }),
    ];
    for (const fault of ['unavailable', 'pool-timeout', 'reset'] as const) {
      api.injectFault(fault, { times: 1 });
      rendered.push(
        ...renderings(await rejectionOf(driver.validate(client, { signal: signal() }))),
      );
    }
    for (const text of rendered) expect(text).not.toContain(key);
    expect(inspect(client)).toContain('[redacted]');
  });
});
