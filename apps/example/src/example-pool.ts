import { InvalidOptionError } from '@enhanced-pool/core';
import { createPgDriver } from '@enhanced-pool/driver-pg';
import { createPool, type PoolOptions } from '@enhanced-pool/pool';
import pg from 'pg';
import type { MoleculesPool } from './molecules.js';

/**
 * What the service sets on top of the pool's defaults: short intervals so that health checks,
 * resizing and recovery happen while you watch, not over minutes.
 */
export const RESILIENCE_OPTIONS = Object.freeze({
  /** A health check every 2 s: idle connections killed on the server are replaced within it. */
  healthCheckIntervalMs: 2_000,
  /** Idle connections are validated by a check when not validated for 5 s. */
  validationIntervalMs: 5_000,
  /** Idle connections silent for 10 s get a keepalive ping. */
  keepaliveMs: 10_000,
  /** The adaptive sizer samples twice a second. */
  sizingIntervalMs: 500,
  targetUtilization: 0.7,
  /** Shrink after 5 s of low use instead of 30 s, so the pool visibly settles back. */
  adaptiveSizing: { shrinkCooldownMs: 5_000, shrinkHalfLifeMs: 2_000 },
});

/** Options of {@link createExamplePool}. */
export interface ExamplePoolOptions {
  /** Where the pool connects: the fault proxy in front of the database. */
  readonly connectionString: string;
  /** `application_name` of every connection, which the `terminate-*` faults select on. */
  readonly applicationName: string;
  /**
   * Pool options to use instead of the service's (for tests).
   * @default {}
   */
  readonly overrides?: Readonly<Record<string, unknown>>;
}

/** The pool and which of the service's options this pool build did not know. */
export interface ExamplePool {
  readonly pool: MoleculesPool;
  /**
   * Options of {@link RESILIENCE_OPTIONS} the pool refused as unknown, so the service runs
   * without them (a pool build from before health checks and sizing landed). Empty normally.
   */
  readonly unsupportedOptions: readonly string[];
}

/**
 * The service's pool: `minSize` 2, `maxSize` 10, a 5 s acquire deadline, and health checks and
 * adaptive sizing on short intervals. An option this pool build does not know is dropped (and
 * named in `unsupportedOptions`) instead of failing the start; any other bad option throws.
 */
export function createExamplePool(options: ExamplePoolOptions): ExamplePool {
  const driver = createPgDriver({
    // A connect that hangs (a blackhole) fails after 2 s instead of waiting for the OS.
    config: { connectionString: options.connectionString, connectionTimeoutMillis: 2_000 },
    Client: pg.Client,
    applicationName: options.applicationName,
    statementTimeoutMs: 5_000,
  });
  const base = {
    driver,
    name: 'example',
    minSize: 2,
    maxSize: 10,
    acquireTimeoutMs: 5_000,
    idleTimeoutMs: 30_000,
  };
  let extra: Record<string, unknown> = { ...RESILIENCE_OPTIONS, ...options.overrides };
  const unsupportedOptions: string[] = [];
  for (;;) {
    const poolOptions = { ...base, ...extra } as PoolOptions<pg.Client>;
    try {
      return { pool: createPool(poolOptions), unsupportedOptions };
    } catch (error) {
      const unknown =
        InvalidOptionError.isInstance(error) &&
        error.allowed.startsWith('no such option') &&
        error.option in extra;
      if (!unknown) throw error;
      unsupportedOptions.push(error.option);
      const { [error.option]: _dropped, ...rest } = extra;
      extra = rest;
    }
  }
}
