import { inspect } from 'node:util';
import { type Driver, InvalidOptionError } from '@enhanced-pool/core';
import { createFakeDriver } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { driverForConnectionType, type PackageLoader } from './connection-type.js';
import { resolvePoolOptions } from './resolve-pool-options.js';

/** A loader that records what was asked for and hands out factories recording their options. */
function recordingLoader(): { load: PackageLoader; loaded: string[]; options: object[] } {
  const loaded: string[] = [];
  const options: object[] = [];
  const factory = (given: object): Driver<unknown> => {
    options.push(given);
    return createFakeDriver() as unknown as Driver<unknown>;
  };
  return {
    loaded,
    options,
    load: (name) => {
      loaded.push(name);
      return { createPgDriver: factory, createSupabaseDriver: factory };
    },
  };
}

/** A loader playing a machine where `missing` is not installed. */
function missingLoader(missing: string): PackageLoader {
  return () => {
    throw Object.assign(new Error(`Cannot find module '${missing}'\nRequire stack:\n- x.js`), {
      code: 'MODULE_NOT_FOUND',
    });
  };
}

function invalid(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (InvalidOptionError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

const direct = { host: 'db.internal', port: 5432, database: 'mydb', user: 'me', password: 'pw-1' };

describe('driverForConnectionType', () => {
  it('builds the pg driver from the fields, loading only driver-pg', () => {
    const loader = recordingLoader();
    driverForConnectionType('direct', { ...direct, ssl: true }, loader.load);
    expect(loader.loaded).toEqual(['@enhanced-pool/driver-pg']);
    expect(loader.options).toEqual([{ config: { ...direct, ssl: true } }]);
  });

  it('passes a connection string with the other client settings', () => {
    const loader = recordingLoader();
    const connectionString = 'postgresql://me:pw-1@db.internal/mydb';
    driverForConnectionType('direct', { connectionString, ssl: true }, loader.load);
    expect(loader.options).toEqual([{ config: { connectionString, ssl: true } }]);
  });

  it('builds the Supabase driver, loading only driver-supabase', () => {
    const loader = recordingLoader();
    const params = { url: 'https://x.supabase.co', key: 'k-1', healthCheck: { table: 'notes' } };
    driverForConnectionType('supabase', params, loader.load);
    expect(loader.loaded).toEqual(['@enhanced-pool/driver-supabase']);
    expect(loader.options).toEqual([params]);
  });

  it('refuses an unknown connection type and missing params, naming the option', () => {
    const loader = recordingLoader();
    expect(invalid(() => driverForConnectionType('mysql', {}, loader.load))).toMatchObject({
      option: 'connectionType',
      value: 'mysql',
      allowed: '"direct" or "supabase"',
    });
    expect(invalid(() => driverForConnectionType('direct', undefined, loader.load)).option).toBe(
      'connectionParams',
    );
    expect(loader.loaded).toEqual([]);
  });

  it.each([
    ['direct', { ...direct, host: undefined }, 'connectionParams.host'],
    ['direct', { ...direct, database: '' }, 'connectionParams.database'],
    ['direct', { ...direct, user: 7 }, 'connectionParams.user'],
    ['direct', { ...direct, port: 70_000 }, 'connectionParams.port'],
    ['direct', { ...direct, port: '5432' }, 'connectionParams.port'],
    ['direct', { connectionString: 'postgresql://h/d', host: 'h' }, 'connectionParams.host'],
    ['supabase', { key: 'k' }, 'connectionParams.url'],
    ['supabase', { url: 'https://x.supabase.co' }, 'connectionParams.key'],
    [
      'supabase',
      { url: 'https://x.supabase.co', key: 'k', apiKey: 'k' },
      'connectionParams.apiKey',
    ],
    [
      'supabase',
      { url: 'https://x.supabase.co', key: 'k', healthCheck: 'notes' },
      'connectionParams.healthCheck',
    ],
    [
      'supabase',
      { url: 'https://x.supabase.co', key: 'k', clientOptions: [] },
      'connectionParams.clientOptions',
    ],
  ])('%s with a bad field names it: %j', (type, params, option) => {
    const loader = recordingLoader();
    expect(invalid(() => driverForConnectionType(type, params, loader.load)).option).toBe(option);
    expect(loader.loaded).toEqual([]);
  });

  it('never shows a secret that was given in the wrong shape', () => {
    const loader = recordingLoader();
    const error = invalid(() =>
      driverForConnectionType(
        'direct',
        { connectionString: 'postgresql://me:hunter2@h/d', user: 'me' },
        loader.load,
      ),
    );
    expect(error.option).toBe('connectionParams.user');
    const key = invalid(() =>
      driverForConnectionType(
        'supabase',
        { url: 'https://x.supabase.co', key: 'sb-secret-key', extra: 1 },
        loader.load,
      ),
    );
    for (const shown of [error, key]) {
      expect(`${shown.message} ${inspect(shown)}`).not.toMatch(/hunter2|sb-secret-key/);
    }
  });

  it("renames a driver's own option errors to connectionParams and hides secrets", () => {
    const throwing: PackageLoader = () => ({
      createSupabaseDriver: () => {
        throw new InvalidOptionError('key', 'sb-secret-key', 'a JWT');
      },
    });
    const error = invalid(() =>
      driverForConnectionType('supabase', { url: 'https://x.supabase.co', key: 'k' }, throwing),
    );
    expect(error).toMatchObject({ option: 'connectionParams.key', value: '[redacted]' });
    expect(error.message).not.toContain('sb-secret-key');
  });

  it.each([
    ['direct', '@enhanced-pool/driver-pg', 'npm install @enhanced-pool/driver-pg pg'],
    ['direct', 'pg', 'npm install @enhanced-pool/driver-pg pg'],
    [
      'supabase',
      '@supabase/supabase-js',
      'npm install @enhanced-pool/driver-supabase @supabase/supabase-js',
    ],
  ])('%s without %s installed says which package to install', (type, missing, install) => {
    const params = type === 'direct' ? direct : { url: 'https://x.supabase.co', key: 'k' };
    const error = invalid(() => driverForConnectionType(type, params, missingLoader(missing)));
    expect(error.option).toBe('connectionType');
    expect(error.allowed).toContain(`"${missing}" is missing`);
    expect(error.allowed).toContain(install);
  });

  it('passes on a load failure that is not a missing package', () => {
    const broken: PackageLoader = () => {
      throw new SyntaxError('Unexpected token');
    };
    expect(() => driverForConnectionType('direct', direct, broken)).toThrow(SyntaxError);
  });
});

describe('resolvePoolOptions with connectionType', () => {
  it('builds a working pg driver from the seed shape (driver-pg is installed here)', () => {
    const resolved = resolvePoolOptions({ connectionType: 'direct', connectionParams: direct });
    expect(resolved.driver.name).toBe('pg');
    expect(inspect(resolved.driver, { depth: 5, showHidden: true })).not.toContain('pw-1');
  });

  it('refuses driver together with connectionType', () => {
    const error = invalid(() =>
      resolvePoolOptions({
        driver: createFakeDriver(),
        connectionType: 'direct',
        connectionParams: direct,
      } as never),
    );
    expect(error.option).toBe('connectionType');
  });

  it('refuses connectionParams without connectionType', () => {
    expect(invalid(() => resolvePoolOptions({ connectionParams: direct } as never)).option).toBe(
      'connectionType',
    );
  });

  it("points the seed's snake_case names at ours", () => {
    expect(invalid(() => resolvePoolOptions({ connection_type: 'direct' } as never)).allowed).toBe(
      'no such option; did you mean "connectionType"?',
    );
  });

  it.each([
    ['timeout', 30, 'acquireTimeoutMs: 30000'],
    ['max_lifetime', 3600, 'maxLifetimeMs: 3600000'],
    ['validation_interval', 300, 'validationIntervalMs: 300000'],
    ['health_check_interval', 60, 'healthCheckIntervalMs: 60000'],
    ['maxLifetimeSeconds', 1.5, 'maxLifetimeMs: 1500'],
  ])("the seed's %s hint says ours is in milliseconds", (key, seconds, figure) => {
    const { allowed } = invalid(() =>
      resolvePoolOptions({ driver: createFakeDriver(), [key]: seconds } as never),
    );
    expect(allowed).toContain('in milliseconds, not seconds');
    expect(allowed).toContain(`${seconds} s is ${figure}`);
  });
});
