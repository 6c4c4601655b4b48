import { inspect } from 'node:util';
import { InvalidOptionError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { Pool } from './pool.js';
import { resolvePoolConfig } from './resolve-pool-config.js';

function optionError(run: () => unknown): InvalidOptionError {
  try {
    run();
  } catch (error) {
    if (InvalidOptionError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('resolvePoolConfig', () => {
  it("applies pg-pool's defaults and maps them onto the enhanced pool", () => {
    const { poolOptions, publicOptions, maxLifetimeMs, endTimeoutMs } = resolvePoolConfig(
      undefined,
      undefined,
    );
    expect(poolOptions).toMatchObject({
      name: 'pg-compat',
      minSize: 0,
      maxSize: 10,
      idleTimeoutMs: 10_000,
      acquireTimeoutMs: 2_147_483_647,
      maxLifetimeMs: 0,
      maxLifetimeJitter: 0,
      sizingIntervalMs: 0,
      maxUses: Infinity,
    });
    expect(publicOptions).toMatchObject({
      max: 10,
      min: 0,
      idleTimeoutMillis: 10_000,
      maxUses: Infinity,
      allowExitOnIdle: false,
      maxLifetimeSeconds: 0,
    });
    expect([maxLifetimeMs, endTimeoutMs]).toEqual([Infinity, 30_000]);
  });

  it('reads 0 as "not set" where pg-pool does, and poolSize as the old name of max', () => {
    const resolved = resolvePoolConfig(
      { max: 0, maxUses: 0, connectionTimeoutMillis: 0, idleTimeoutMillis: null },
      undefined,
    );
    expect(resolved.poolOptions).toMatchObject({
      maxSize: 10,
      maxUses: Infinity,
      idleTimeoutMs: 0,
    });
    expect(resolvePoolConfig({ poolSize: 3 }, undefined).poolOptions.maxSize).toBe(3);
    expect(resolvePoolConfig({ idleTimeoutMillis: 0 }, undefined).poolOptions.idleTimeoutMs).toBe(
      0,
    );
  });

  it('maps the set options: seconds to milliseconds, timeouts, sizes', () => {
    const { poolOptions, maxLifetimeMs } = resolvePoolConfig(
      {
        max: 20,
        min: 2,
        idleTimeoutMillis: 1_000,
        connectionTimeoutMillis: 2_500,
        maxLifetimeSeconds: 60,
        maxUses: 7_500,
        enhanced: { maxLifetimeJitter: 0.1, sizingIntervalMs: 1_000, outageGraceMs: 0 },
      },
      undefined,
    );
    expect(poolOptions).toMatchObject({
      maxSize: 20,
      minSize: 2,
      idleTimeoutMs: 1_000,
      acquireTimeoutMs: 2_500,
      maxLifetimeMs: 60_000,
      maxLifetimeJitter: 0.1,
      sizingIntervalMs: 1_000,
      outageGraceMs: 0,
      maxUses: 7_500,
    });
    expect(maxLifetimeMs).toBe(60_000);
  });

  it('passes every connection field to the client config, the password included', () => {
    const { driverOptions, publicOptions } = resolvePoolConfig(
      { host: 'db', port: 5433, user: 'app', password: 's3cret', application_name: 'api', max: 4 },
      undefined,
    );
    expect(driverOptions.config).toMatchObject({
      host: 'db',
      port: 5433,
      user: 'app',
      password: 's3cret',
      application_name: 'api',
    });
    expect(Object.keys(publicOptions)).not.toContain('password');
    expect(publicOptions.password).toBe('s3cret');
  });

  it('refuses a bad value, naming the option, the value and the range', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ max: -1 }, 'max'],
      [{ max: 2.5 }, 'max'],
      [{ max: '10' }, 'max'],
      [{ min: 5, max: 2 }, 'min'],
      [{ idleTimeoutMillis: -1 }, 'idleTimeoutMillis'],
      [{ connectionTimeoutMillis: 'soon' }, 'connectionTimeoutMillis'],
      [{ maxLifetimeSeconds: -5 }, 'maxLifetimeSeconds'],
      [{ maxUses: 1.5 }, 'maxUses'],
      [{ allowExitOnIdle: 'yes' }, 'allowExitOnIdle'],
      [{ log: 'console' }, 'log'],
      [{ Client: {} }, 'Client'],
      [{ onConnect: true }, 'onConnect'],
      [{ enhanced: 'fast' }, 'enhanced'],
      [{ enhanced: { maxSize: 3 } }, 'enhanced.maxSize'],
      [{ enhanced: { endTimeoutMs: -1 } }, 'enhanced.endTimeoutMs'],
      [
        { enhanced: { driverOptions: { statementTimeoutMs: 5 } } },
        'enhanced.driverOptions.statementTimeoutMs',
      ],
    ];
    for (const [config, option] of cases) {
      const error = optionError(() => resolvePoolConfig(config as never, undefined));
      expect(error.option).toBe(option);
      expect(error.code).toBe('INVALID_OPTION');
    }
    expect(optionError(() => resolvePoolConfig({ min: 5, max: 2 }, undefined)).message).toContain(
      '≤ max (2)',
    );
    expect(
      optionError(() => resolvePoolConfig({ enhanced: { maxSize: 3 } } as never, undefined))
        .message,
    ).toContain('set "max" instead');
  });
});

describe('new Pool()', () => {
  it('refuses enhanced options the pool does not know, named enhanced.<option>', async () => {
    const unknown = optionError(() => new Pool({ enhanced: { outageGrace: 5 } as never }));
    expect(unknown.option).toBe('enhanced.outageGrace');
    const nested = optionError(
      () => new Pool({ enhanced: { circuitBreaker: { halfOpenPermits: 0 } } }),
    );
    expect(nested.option).toBe('enhanced.circuitBreaker.halfOpenPermits');
    const driver = optionError(
      () => new Pool({ enhanced: { driverOptions: { validationTimeoutMs: 0 } } }),
    );
    expect(driver.option).toBe('enhanced.driverOptions.validationTimeoutMs');
    const target = optionError(() => new Pool({ connectionString: 'postgres://a:b@[::1' }));
    expect(target.option).toBe('connectionString');
    expect(target.message).not.toContain(':b@');
  });

  it('keeps the password out of util.inspect of the pool and its options', async () => {
    const pool = new Pool({
      connectionString: 'postgres://app:hunter2secret@127.0.0.1:1/app',
      password: 'hunter2secret',
      ssl: { key: 'private-key-material' },
    });
    expect(inspect(pool, { depth: 10 })).not.toContain('hunter2secret');
    expect(inspect(pool.options, { depth: 10 })).not.toMatch(/hunter2secret|private-key-material/);
    expect(pool.options.connectionString).toContain('127.0.0.1:1');
    await pool.end();
  });
});
