import type { Driver, DriverCallOptions, ErrorReason } from '@enhanced-pool/core';
import type { PgDriver } from '@enhanced-pool/driver-pg';
import type { ClientBase, PoolClient } from 'pg';

/** A pg client as the pool holds it. */
export type CompatClient = PoolClient & ClientBase;

/** What the pg-pool layer does when a connection opens and closes; the `Pool` implements it. */
export interface CompatDriverHooks {
  /**
   * A client connected: track it, run `onConnect` / `verify`, emit `connect`. Rejecting fails
   * the connect (the client is closed without a `remove` event, as pg-pool does).
   */
  opened(client: CompatClient, signal: AbortSignal): Promise<void>;
  /** A client the pool had adopted is closed: emit `remove`. */
  closed(client: CompatClient): void;
  /** A client that never joined the pool (its hooks failed) is closed. */
  abandoned(client: CompatClient): void;
}

/**
 * The pg driver with pg-pool's connection lifecycle around `connect()` and `close()`. Validation
 * and the broken-connection check are the pg driver's own functions, so they cost nothing extra.
 *
 * It has no `reset()`: with one, the pool would return every client asynchronously, while
 * pg-pool's `release()` puts the client back at once (`idleCount` counts it in the same tick).
 * The `Pool` calls the pg driver's `reset()` itself, only for a client released inside a
 * transaction or with a statement still running, which is what `reset()` is for.
 *
 * Errors of `onConnect` and `verify` that the pg driver cannot classify count as `query`
 * errors: the caller that needed the client fails at once with the hook's error, as in pg-pool,
 * instead of the pool retrying a hook that keeps failing.
 */
export function createCompatDriver(
  base: PgDriver<CompatClient>,
  hooks: CompatDriverHooks,
): Driver<CompatClient> {
  const hookErrors = new WeakSet<object>();
  const driver: Driver<CompatClient> = {
    specificationVersion: 'v1',
    name: base.name,
    async connect(options: DriverCallOptions): Promise<CompatClient> {
      const client = await base.connect(options);
      try {
        await hooks.opened(client, options.signal);
      } catch (error) {
        if (typeof error === 'object' && error !== null) hookErrors.add(error);
        await base.close(client);
        hooks.abandoned(client);
        throw error;
      }
      return client;
    },
    validate: base.validate,
    isBroken: base.isBroken,
    async close(client: CompatClient): Promise<void> {
      await base.close(client);
      hooks.closed(client);
    },
    classifyError(error: unknown): ErrorReason {
      const reason = base.classifyError(error);
      return reason === 'unknown' &&
        typeof error === 'object' &&
        error !== null &&
        hookErrors.has(error)
        ? 'query'
        : reason;
    },
    describe: base.describe,
  };
  return Object.freeze(driver);
}
