import type { PgDriverOptions } from '@enhanced-pool/driver-pg';
import type { PoolOptions } from '@enhanced-pool/pool';
import type { PoolConfig as PgPoolConfig, PoolClient } from 'pg';

/**
 * The enhanced pool's options that have a pg-pool name already: set those through the pg-pool
 * option instead (`max`, not `enhanced.maxSize`), so each setting has one place.
 */
export type MappedPoolOption =
  | 'driver'
  | 'minSize'
  | 'maxSize'
  | 'idleTimeoutMs'
  | 'acquireTimeoutMs'
  | 'maxLifetimeMs'
  | 'maxUses';

/** The pg driver's own settings that pg's client config has no field for. */
export type EnhancedDriverOptions = Pick<
  PgDriverOptions,
  'validationQuery' | 'validationTimeoutMs' | 'closeTimeoutMs' | 'applicationName'
>;

/**
 * The `enhanced` key of {@link PoolConfig}: every option of `createPool()` from
 * `@enhanced-pool/pool` that pg-pool has no name for (breaker, outage grace, validation, health
 * checks, adaptive sizing, metrics, leak detection, clock, …), with the pool's defaults except
 * where noted, plus two of this package's own. An option the pool does not know is refused with
 * an `InvalidOptionError` naming `enhanced.<option>`.
 */
export interface EnhancedOptions extends Omit<PoolOptions<PoolClient>, MappedPoolOption> {
  /**
   * How long `end()` waits for checked-out clients to be released and queued `connect()`s to
   * be served before it closes everything anyway, so `end()` always finishes.
   * @default 30_000
   */
  readonly endTimeoutMs?: number;
  /**
   * Settings of the pg driver under the pool: the validation statement and its deadline, the
   * deadline of a client's goodbye on close, and the `fallback_application_name` its
   * connections carry (an `application_name` in the config or connection string wins).
   * @default { validationQuery: 'SELECT 1', validationTimeoutMs: 5000, closeTimeoutMs: 1000, applicationName: 'enhanced-pool' }
   */
  readonly driverOptions?: EnhancedDriverOptions;
  /**
   * How long a connection lives is `maxLifetimeSeconds`; by default exactly that, as in
   * pg-pool. A value above 0 retires each connection up to that fraction earlier, so
   * connections opened together don't all reconnect together.
   * @default 0
   */
  readonly maxLifetimeJitter?: number;
  /**
   * The adaptive sizer's sampling interval. Off by default, so the pool's size follows pg-pool's
   * rules (`idleTimeoutMillis` closes idle clients above `min`); set e.g. `1000` to let the
   * sizer pre-open connections under rising load and retire the surplus after its cooldown.
   * @default 0
   */
  readonly sizingIntervalMs?: number;
  /**
   * Names the pool in errors, logs and metrics.
   * @default 'pg-compat'
   */
  readonly name?: string;
}

/**
 * What `new Pool(config)` accepts: pg-pool's configuration (`@types/pg`'s `PoolConfig`, every
 * connection field of `pg.Client` included, passed to each client as pg-pool passes it) and one
 * `enhanced` key for the enhanced pool's own options.
 *
 * The pool options mean what they mean in pg-pool: `max` (default 10), `min` (default 0; kept
 * open, and opened at construction), `idleTimeoutMillis` (default 10 000; `0` or `null` never
 * closes idle clients), `connectionTimeoutMillis` (default 0, wait forever; otherwise the one
 * deadline of a `connect()`), `maxLifetimeSeconds` (default 0, forever), `maxUses` (default
 * unlimited), `allowExitOnIdle`, `Client`, `log`, `Promise`, `onConnect` and `verify`.
 */
export interface PoolConfig extends PgPoolConfig {
  /** pg-pool's legacy name for `max`, read when `max` is not set. */
  readonly poolSize?: number | undefined;
  /** The enhanced pool's own options; see {@link EnhancedOptions}. */
  readonly enhanced?: EnhancedOptions | undefined;
}
