import { InvalidOptionError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { createSupabaseDriver } from './supabase-driver.js';
import { resolveSupabaseDriverOptions } from './supabase-driver-options.js';

const valid = { url: 'https://abcdefghijklmnopqrst.supabase.co', key: 'service-key-1234' };

function optionOf(build: () => unknown): string | undefined {
  try {
    build();
  } catch (error) {
    expect(InvalidOptionError.isInstance(error), String(error)).toBe(true);
    return (error as InvalidOptionError).option;
  }
  return undefined;
}

describe('resolveSupabaseDriverOptions / createSupabaseDriver', () => {
  it.each([
    ['url', { key: 'k' }],
    ['url', { url: 'not a url', key: 'k' }],
    ['url', { url: 'ftp://example.com', key: 'k' }],
    ['url', { url: 'https://user:secret@example.com', key: 'k' }],
    ['key', { url: valid.url }],
    ['key', { url: valid.url, key: '' }],
    ['key', { url: valid.url, key: 42 }],
    ['clientOptions', { ...valid, clientOptions: 'x' }],
    ['clientOptions.auth', { ...valid, clientOptions: { auth: true } }],
    ['clientOptions.global.fetch', { ...valid, clientOptions: { global: { fetch: 'x' } } }],
    ['healthCheck', { ...valid, healthCheck: 'todos' }],
    ['healthCheck.table', { ...valid, healthCheck: { table: '' } }],
    ['healthCheck.rpc', { ...valid, healthCheck: { rpc: 7 } }],
    ['healthCheck.rpc', { ...valid, healthCheck: { table: 'a', rpc: 'b' } }],
    ['healthCheck.args', { ...valid, healthCheck: { table: 'a', args: {} } }],
    ['healthCheck.args', { ...valid, healthCheck: { rpc: 'a', args: [1] } }],
    ['healthCheck.schema', { ...valid, healthCheck: { table: 'a', schema: '' } }],
    ['healthCheck.timeoutMs', { ...valid, healthCheck: { timeoutMs: 0 } }],
    ['healthCheck.timeoutMs', { ...valid, healthCheck: { timeoutMs: 1.5 } }],
    ['healthCheck.tabel', { ...valid, healthCheck: { tabel: 'todos' } }],
    ['createClient', { ...valid, createClient: {} }],
    ['clock', { ...valid, clock: {} }],
    ['connectionString', { ...valid, connectionString: 'postgres://x' }],
  ])('names "%s" for %j', (option, options) => {
    expect(optionOf(() => createSupabaseDriver(options as never))).toBe(option);
  });

  it('never shows the key, or credentials in the URL, in the error', () => {
    for (const options of [
      { url: 'https://user:hunter2-secret@example.com', key: 'k' },
      { url: 'not a url hunter2-secret', key: 'k' },
    ]) {
      try {
        createSupabaseDriver(options);
        throw new Error('expected an error');
      } catch (error) {
        expect(String(error)).not.toContain('hunter2-secret');
        expect(JSON.stringify((error as InvalidOptionError).value)).not.toContain('hunter2');
      }
    }
  });

  it('defaults the health check to pg_graphql with a 5 s deadline', () => {
    expect(resolveSupabaseDriverOptions(valid).healthCheck).toEqual({
      kind: 'rpc',
      rpc: 'graphql',
      args: { query: '{__typename}' },
      schema: 'graphql_public',
      timeoutMs: 5_000,
    });
    expect(
      resolveSupabaseDriverOptions({ ...valid, healthCheck: { table: 'todos', timeoutMs: 900 } })
        .healthCheck,
    ).toEqual({ kind: 'table', table: 'todos', schema: undefined, timeoutMs: 900 });
  });

  it('describes the project without the key', () => {
    const driver = createSupabaseDriver({ ...valid, clientOptions: { db: { schema: 'api' } } });
    expect(driver.describe()).toEqual({
      'db.system.name': 'postgresql',
      'server.address': 'abcdefghijklmnopqrst.supabase.co',
      'server.port': 443,
      'db.namespace': 'api',
    });
    expect(driver.name).toBe('supabase');
    expect(JSON.stringify(driver)).not.toContain(valid.key);
  });
});
