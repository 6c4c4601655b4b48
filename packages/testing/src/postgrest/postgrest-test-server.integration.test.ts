import { inspect } from 'node:util';
import { InvalidOptionError } from '@enhanced-pool/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresServer } from '../postgres/postgres-server.js';
import { startPostgres } from '../postgres/start-postgres.js';
import {
  POSTGREST_TEST_APPLICATION_NAME,
  type PostgrestTestServer,
  startPostgrestTestServer,
} from './postgrest-test-server.js';

describe('startPostgrestTestServer() over a real PostgreSQL', () => {
  let database: PostgresServer;
  let api: PostgrestTestServer;

  const call = async (
    path: string,
    init: RequestInit & { key?: string | null } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> => {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set('apikey', init.key ?? api.key);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const response = await fetch(`${api.url}${path}`, { ...init, headers });
    const text = await response.text();
    return {
      status: response.status,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
      headers: response.headers,
    };
  };

  beforeAll(async () => {
    database = await startPostgres();
    await database.query(`
      CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
      INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three');
      CREATE FUNCTION double(n int) RETURNS int LANGUAGE sql AS 'SELECT n * 2';
      CREATE FUNCTION names() RETURNS SETOF items LANGUAGE sql AS 'SELECT * FROM items ORDER BY id';
    `);
    api = await startPostgrestTestServer({ database, key: 'test-key-fixed-0001' });
  });

  afterAll(async () => {
    await api?.close();
    await database?.stop();
  });

  it('reads with select, filters, order, limit and an exact count', async () => {
    const read = await call('/rest/v1/items?select=label:name&id=gte.2&order=id.desc&limit=1', {
      headers: { prefer: 'count=exact' },
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual([{ label: 'three' }]);
    expect(read.headers.get('content-range')).toBe('0-0/2');
    const head = await call('/rest/v1/items?select=*', { method: 'HEAD' });
    expect(head).toMatchObject({ status: 200, body: undefined });
  });

  it('inserts, calls functions, and answers errors as PostgREST does', async () => {
    const inserted = await call('/rest/v1/items?select=id', {
      method: 'POST',
      body: JSON.stringify({ id: 4, name: 'four' }),
      headers: { prefer: 'return=representation' },
    });
    expect(inserted).toMatchObject({ status: 201, body: [{ id: 4 }] });
    const duplicate = await call('/rest/v1/items', {
      method: 'POST',
      body: JSON.stringify({ id: 4, name: 'again' }),
    });
    expect(duplicate).toMatchObject({ status: 409, body: { code: '23505' } });
    expect(
      await call('/rest/v1/rpc/double', { method: 'POST', body: JSON.stringify({ n: 21 }) }),
    ).toMatchObject({ status: 200, body: 42 });
    expect(await call('/rest/v1/rpc/names', { method: 'POST' })).toMatchObject({
      status: 200,
      body: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }],
    });
    expect(await call('/rest/v1/rpc/nothing', { method: 'POST' })).toMatchObject({
      status: 404,
      body: { code: 'PGRST202' },
    });
    expect(await call('/rest/v1/missing')).toMatchObject({
      status: 404,
      body: { code: 'PGRST205' },
    });
    expect(await call('/rest/v1/items?select=a(b)')).toMatchObject({
      status: 400,
      body: { code: 'PGRST100' },
    });
    expect(
      await call('/rest/v1/items', { headers: { 'accept-profile': 'private' } }),
    ).toMatchObject({ status: 406, body: { code: 'PGRST106' } });
  });

  it('checks the key like the gateway, follows a rotation, and never records or shows it', async () => {
    expect((await call('/rest/v1/items', { key: null })).status).toBe(401);
    expect((await call('/rest/v1/items', { key: 'wrong' })).body).toMatchObject({
      message: 'Invalid API key',
    });
    expect(
      (await call('/rest/v1/items', { headers: { authorization: 'Bearer other' } })).body,
    ).toMatchObject({ code: 'PGRST301' });
    api.rotateKey('test-key-rotated-0002');
    try {
      expect((await call('/rest/v1/items', { key: 'test-key-fixed-0001' })).status).toBe(401);
      expect((await call('/rest/v1/items')).status).toBe(200);
    } finally {
      api.rotateKey('test-key-fixed-0001');
    }
    const rendered = [
      inspect(api, { depth: Infinity, showHidden: true }),
      JSON.stringify(api),
      JSON.stringify(api.requests()),
    ].join('\n');
    expect(rendered).not.toContain('test-key-fixed-0001');
    expect(rendered).not.toContain('test-key-rotated-0002');
  });

  it('injects 503, 504, no answer and a reset for the next requests only', async () => {
    api.injectFault('unavailable', { times: 2 });
    expect((await call('/rest/v1/items')).body).toMatchObject({ code: 'PGRST000' });
    expect((await call('/rest/v1/items')).status).toBe(503);
    expect((await call('/rest/v1/items')).status).toBe(200);

    api.injectFault('pool-timeout', { times: 1 });
    expect(await call('/rest/v1/items')).toMatchObject({ status: 504, body: { code: 'PGRST003' } });

    api.injectFault('reset', { times: 1 });
    const reset = await call('/rest/v1/items').catch((error: unknown) => error);
    expect(reset).toMatchObject({ cause: { code: 'ECONNRESET' } });

    api.injectFault('no-answer', { times: 1 });
    const before = api.requests().length;
    const controller = new AbortController();
    const held = call('/rest/v1/items', { signal: controller.signal }).catch((error) => error);
    await api.waitForRequests(before + 1, 2_000);
    expect(api.pendingRequests()).toBe(1);
    controller.abort(new Error('gave up'));
    expect(await held).toMatchObject({ message: 'gave up' });
    expect(
      api
        .requests()
        .slice(-4)
        .map((request) => request.outcome),
    ).toEqual([200, 504, 'reset', 'no-answer']);
    expect(() => api.injectFault('flood' as never)).toThrow(InvalidOptionError);
  });

  it('answers 504 PGRST003 when its own pool has no connection free in time', async () => {
    await using small = await startPostgrestTestServer({
      database,
      poolSize: 1,
      acquireTimeoutMs: 100,
    });
    await database.query(
      "CREATE OR REPLACE FUNCTION hold() RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(2)'",
    );
    const holding = fetch(`${small.url}/rest/v1/rpc/hold`, {
      method: 'POST',
      headers: { apikey: small.key },
    });
    // Wait until the held request is asleep on the only connection (no event announces it).
    const started = Date.now();
    while (
      (
        await database.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'",
          [POSTGREST_TEST_APPLICATION_NAME],
        )
      )[0]?.n !== 1
    ) {
      if (Date.now() - started > 5_000) throw new Error('the held request never reached pg_sleep');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const refused = await fetch(`${small.url}/rest/v1/items`, { headers: { apikey: small.key } });
    expect(refused.status).toBe(504);
    expect(await refused.json()).toMatchObject({ code: 'PGRST003' });
    expect((await holding).status).toBe(204);
  });

  it('refuses a missing database and bad options, naming the option', async () => {
    await expect(startPostgrestTestServer({ database: '' })).rejects.toThrow(InvalidOptionError);
    await expect(startPostgrestTestServer({ database, poolSize: 0 })).rejects.toMatchObject({
      option: 'poolSize',
    });
  });
});
