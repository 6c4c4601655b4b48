import { inspect } from 'node:util';
import { type SkippableContext, skipWithReason } from '@enhanced-pool/testing/conformance';
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupabaseDriver, type SupabaseDriver } from '../src/index.js';

/**
 * The driver against a real Supabase project, only when one is named:
 * - `ENHANCED_POOL_SUPABASE_URL`: the project URL (`https://<project-ref>.supabase.co`);
 * - `ENHANCED_POOL_SUPABASE_KEY`: an API key of the project (anon / publishable is enough);
 * - `ENHANCED_POOL_SUPABASE_TABLE` (optional): a table that key may read, for the table check.
 * The `ENHANCED_POOL_` prefix is what turbo passes through to the tests. Without the first two,
 * every test here is skipped with that reason printed.
 */
const url = process.env.ENHANCED_POOL_SUPABASE_URL;
const key = process.env.ENHANCED_POOL_SUPABASE_KEY;
const table = process.env.ENHANCED_POOL_SUPABASE_TABLE;

function requireProject(context: SkippableContext): { url: string; key: string } {
  if (url === undefined || url === '' || key === undefined || key === '') {
    skipWithReason(
      context,
      'no real Supabase project: set ENHANCED_POOL_SUPABASE_URL and ENHANCED_POOL_SUPABASE_KEY (and optionally ENHANCED_POOL_SUPABASE_TABLE) to run it',
    );
  }
  return { url, key };
}

const signal = () => new AbortController().signal;

describe('driver-supabase against a real Supabase project', () => {
  const opened: { driver: SupabaseDriver; client: SupabaseClient }[] = [];

  afterEach(async () => {
    await Promise.all(opened.splice(0).map(({ driver, client }) => driver.close(client)));
  });

  it('connects and validates with the default health check (pg_graphql)', async (context) => {
    const project = requireProject(context);
    const driver = createSupabaseDriver(project);
    const client = await driver.connect({ signal: signal() });
    opened.push({ driver, client });
    await driver.validate(client, { signal: signal() });
    expect(driver.describe()['server.address']).toBe(new URL(project.url).hostname);
  });

  it('validates with a HEAD on ENHANCED_POOL_SUPABASE_TABLE', async (context) => {
    const project = requireProject(context);
    if (table === undefined || table === '') {
      skipWithReason(context, 'ENHANCED_POOL_SUPABASE_TABLE is not set');
    }
    const driver = createSupabaseDriver({ ...project, healthCheck: { table } });
    const client = await driver.connect({ signal: signal() });
    opened.push({ driver, client });
    await driver.validate(client, { signal: signal() });
  });

  it('classifies a wrong key as "authentication" and shows neither key', async (context) => {
    const project = requireProject(context);
    const wrongKey = 'wrong-key-5d0c2b9e41';
    const driver = createSupabaseDriver({ url: project.url, key: wrongKey });
    const error = await driver.connect({ signal: signal() }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(driver.classifyError(error)).toBe('authentication');
    for (const rendered of [String(error), inspect(error, { depth: 6 })]) {
      expect(rendered).not.toContain(wrongKey);
      expect(rendered).not.toContain(project.key);
    }
  });

  it('times a check out at healthCheck.timeoutMs, classified "timeout"', async (context) => {
    const project = requireProject(context);
    const driver = createSupabaseDriver({ ...project, healthCheck: { timeoutMs: 1 } });
    const error = await driver.connect({ signal: signal() }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(driver.classifyError(error)).toBe('timeout');
  });
});
