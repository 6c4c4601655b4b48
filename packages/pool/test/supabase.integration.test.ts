import { inspect } from 'node:util';
import type { ConnectionOf } from '@enhanced-pool/core';
import { createSupabaseDriver, type SupabaseDriver } from '@enhanced-pool/driver-supabase';
import {
  type PostgresServer,
  type PostgrestTestServer,
  startPostgres,
  startPostgrestTestServer,
} from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import type { Pool } from '../src/pool.js';
import type { PoolOptions } from '../src/pool-options.js';

/**
 * The pool over supabase-js: the breaker, fail-fast and recovery against the PostgREST test
 * server in front of a real PostgreSQL, with faults injected at the API (503, 504, a wrong key)
 * and the database itself killed behind it.
 */

/** The driver's connection: supabase-js's `SupabaseClient` (the pool does not depend on it). */
type SupabaseClient = ConnectionOf<SupabaseDriver>;

/**
 * What a borrower does: one query, its error thrown so the pool sees it. `.retry(false)`: a
 * pooled service fails fast and leaves retrying to the pool, rather than supabase-js waiting
 * 1 + 2 + 4 s on a 503.
 */
const query = (supabase: SupabaseClient): Promise<void> =>
  Promise.resolve(supabase.from('todos').select('id').limit(1).retry(false)).then((answer) => {
    if (answer.error !== null) throw answer;
  });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? 'unknown';
  }
}

describe('the pool with the Supabase driver', () => {
  let database: PostgresServer;
  let api: PostgrestTestServer;
  const pools: Pool<SupabaseClient>[] = [];
  const logLines: string[] = [];
  const logger = {
    debug: (...args: unknown[]) => logLines.push(inspect(args, { depth: 6 })),
    info: (...args: unknown[]) => logLines.push(inspect(args, { depth: 6 })),
    warn: (...args: unknown[]) => logLines.push(inspect(args, { depth: 6 })),
    error: (...args: unknown[]) => logLines.push(inspect(args, { depth: 6 })),
  };

  const createTestPool = (
    options: Partial<PoolOptions<SupabaseClient>> = {},
    key = api.key,
  ): Pool<SupabaseClient> => {
    const pool = createPool({
      driver: createSupabaseDriver<SupabaseClient>({
        url: api.url,
        key,
        healthCheck: { table: 'todos', timeoutMs: 2_000 },
      }),
      maxSize: 4,
      acquireTimeoutMs: 2_000,
      outageGraceMs: 0,
      circuitBreaker: { window: { kind: 'consecutive', failures: 3 }, openDurationMs: 200 },
      connectBackoff: { baseMs: 5, capMs: 20 },
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 0,
      logger,
      ...options,
    });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    database = await startPostgres();
    await database.query(
      'CREATE TABLE IF NOT EXISTS public.todos (id serial PRIMARY KEY, title text UNIQUE NOT NULL)',
    );
    api = await startPostgrestTestServer({ database });
  });

  afterEach(async () => {
    api.clearFault();
    await Promise.all(pools.splice(0).map((pool) => pool.close({ timeoutMs: 1_000 })));
  });

  afterAll(async () => {
    await api?.close();
    await database?.stop();
  });

  it('serves supabase-js clients through withConnection()', async () => {
    const pool = createTestPool({ minSize: 2 });
    await pool.ready();
    const { data, error } = await pool.withConnection((supabase) =>
      supabase.from('todos').insert({ title: 'through the pool' }).select('title'),
    );
    expect(error).toBeNull();
    expect(data).toEqual([{ title: 'through the pool' }]);
    expect(pool.getStats().poolSize).toBe(2);
  });

  it('opens the breaker on 503s from the API, fails fast while open, and closes again once it answers', async () => {
    const pool = createTestPool();
    await pool.withConnection(query);
    const breaker = pool.connCircuitBreaker!;
    const states: string[] = [];
    breaker.on('stateChange', (event) => states.push(event.to));

    api.injectFault('unavailable');
    const before = api.requests().length;
    const codes: string[] = [];
    while (breaker.state !== 'open') {
      codes.push(await codeOf(pool.withConnection(query)));
      if (codes.length > 20) throw new Error(`the breaker did not open: ${codes.join(', ')}`);
    }
    // While open, callers fail at once and no request reaches the API.
    const whileOpen = api.requests().length;
    const started = performance.now();
    const fast = await codeOf(pool.withConnection(query));
    const failMs = performance.now() - started;
    expect(fast).toBe('CIRCUIT_OPEN');
    expect(api.requests().length).toBe(whileOpen);
    expect(failMs).toBeLessThan(50);
    // One request per attempt: the health check is never retried by supabase-js.
    const duringOutage = api.requests().slice(before);
    expect(duringOutage.every((request) => request.retryCount === 0)).toBe(true);
    expect(pool.getStats().connectErrorsByReason?.connection ?? 0).toBeGreaterThan(0);

    api.clearFault();
    const recovered = performance.now();
    let code = 'CIRCUIT_OPEN';
    while (code !== 'ok') {
      code = await codeOf(pool.withConnection(query));
      if (performance.now() - recovered > 5_000) throw new Error(`no recovery: last ${code}`);
      if (code !== 'ok') await sleep(20);
    }
    expect(breaker.state).toBe('closed');
    expect(states).toContain('open');
    expect(states.at(-1)).toBe('closed');
    console.log(
      '[supabase] breaker opened after %d failed acquires (%d API requests, none retried); fail-fast while open %d ms; served again %d ms after the API answered',
      codes.length,
      duringOutage.length,
      Math.round(failMs * 10) / 10,
      Math.round(performance.now() - recovered),
    );
  });

  it('counts 504 (the API pool exhausted) toward the breaker as "resource-exhausted"', async () => {
    const pool = createTestPool();
    api.injectFault('pool-timeout');
    const breaker = pool.connCircuitBreaker!;
    for (let attempt = 0; attempt < 10 && breaker.state !== 'open'; attempt++) {
      await codeOf(pool.withConnection(query));
    }
    expect(breaker.state).toBe('open');
    expect(pool.getStats().connectErrorsByReason?.['resource-exhausted']).toBeGreaterThan(0);
  });

  it('holds connects after a wrong key without opening the breaker, and never shows the key', async () => {
    const wrongKey = 'wrong-key-91c3e0d7aa';
    const pool = createTestPool({}, wrongKey);
    const errors: unknown[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        await pool.withConnection(query);
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatchObject({ code: 'CONNECT_FAILED', reason: 'authentication' });
    expect(pool.connCircuitBreaker?.state).not.toBe('open');
    // Retrying a wrong key only hammers the API: one attempt, then the fatal hold.
    expect(api.requests().filter((request) => request.outcome === 401).length).toBe(1);
    const rendered = [
      ...errors.map((error) => inspect(error, { depth: 8, showHidden: true })),
      ...errors.map((error) => String((error as Error).stack)),
      JSON.stringify(pool.getStats()),
      inspect(pool, { depth: 4 }),
      ...logLines,
    ].join('\n');
    expect(rendered).not.toContain(wrongKey);
    expect(rendered).not.toContain(api.key);
  });

  it('opens the breaker while the database behind the API is down, and recovers when it is back', async (context) => {
    requireCapability(context, database, 'restart');
    const pool = createTestPool({ minSize: 1 });
    await pool.ready();
    const breaker = pool.connCircuitBreaker!;
    await database.kill();
    try {
      for (let attempt = 0; attempt < 20 && breaker.state !== 'open'; attempt++) {
        await codeOf(pool.withConnection(query));
      }
      expect(breaker.state).toBe('open');
      expect(await codeOf(pool.withConnection(query))).toBe('CIRCUIT_OPEN');
    } finally {
      await database.start();
    }
    const back = performance.now();
    let code = 'CIRCUIT_OPEN';
    while (code !== 'ok') {
      code = await codeOf(
        pool.withConnection((supabase) =>
          Promise.resolve(supabase.from('todos').select('id').limit(1)).then((answer) => {
            if (answer.error !== null) throw Object.assign(new Error('query failed'), answer.error);
          }),
        ),
      );
      if (performance.now() - back > 10_000) throw new Error(`no recovery: last ${code}`);
      if (code !== 'ok') await sleep(20);
    }
    console.log(
      '[supabase] served again %d ms after the database restarted',
      Math.round(performance.now() - back),
    );
  });
});
