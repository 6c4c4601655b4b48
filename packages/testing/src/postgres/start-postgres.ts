import { InvalidOptionError, numberOption } from '@enhanced-pool/core';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { useExternalPostgres } from './external-postgres.js';
import { findPostgresBinaries } from './find-postgres-binaries.js';
import { startLocalPostgres } from './local-postgres.js';
import {
  type PostgresPreference,
  type PostgresServer,
  PostgresServerError,
  type StartPostgresOptions,
} from './postgres-server.js';

/** {@link StartPostgresOptions} with defaults applied and every value checked. */
export interface ResolvedStartPostgresOptions {
  readonly maxConnections: number;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly prefer: PostgresPreference;
}

const PREFERENCES: readonly PostgresPreference[] = ['auto', 'local', 'embedded'];
const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/i;

/** Merges defaults and validates once; throws `InvalidOptionError` naming the option. */
export function resolveStartPostgresOptions(
  options: StartPostgresOptions = {},
): ResolvedStartPostgresOptions {
  const maxConnections = numberOption('maxConnections', options.maxConnections, 100, {
    min: 1,
    max: 10_000,
    integer: true,
  });
  const prefer = options.prefer ?? 'auto';
  if (!PREFERENCES.includes(prefer)) {
    throw new InvalidOptionError('prefer', prefer, `one of ${PREFERENCES.join(', ')}`);
  }
  const settings = options.settings ?? {};
  if (typeof settings !== 'object' || settings === null) {
    throw new InvalidOptionError('settings', settings, 'an object of server settings');
  }
  for (const [name, value] of Object.entries(settings)) {
    if (!SETTING_NAME.test(name)) {
      throw new InvalidOptionError(`settings.${name}`, name, 'a PostgreSQL setting name');
    }
    if (
      !(typeof value === 'string' && !/[\r\n]/.test(value)) &&
      !(typeof value === 'number' && Number.isFinite(value))
    ) {
      throw new InvalidOptionError(
        `settings.${name}`,
        value,
        'a single-line string or a finite number',
      );
    }
  }
  return { maxConnections, settings: { ...settings }, prefer };
}

/**
 * A throwaway PostgreSQL for tests, from the best source available:
 * `DATABASE_URL` when set, else a server started from the local PostgreSQL binaries (initdb in a
 * temp dir, trust auth, `fsync=off`, a free loopback port; as root the server runs as the
 * `postgres` OS user), else an embedded pglite served over TCP. Local servers are stopped and
 * their data removed on `stop()`, and synchronously at process exit or SIGINT/SIGTERM even when a
 * test failed.
 *
 * @example
 * ```ts
 * await using server = await startPostgres();
 * const [row] = await server.query<{ one: number }>('SELECT 1 AS one');
 * ```
 */
export async function startPostgres(options?: StartPostgresOptions): Promise<PostgresServer> {
  const resolved = resolveStartPostgresOptions(options);
  if (resolved.prefer === 'embedded') return await startEmbeddedPostgres(resolved.maxConnections);

  const databaseUrl = process.env.DATABASE_URL;
  if (resolved.prefer === 'auto' && databaseUrl !== undefined && databaseUrl !== '') {
    return await useExternalPostgres(databaseUrl);
  }

  const binDir = findPostgresBinaries();
  if (binDir !== undefined) {
    return await startLocalPostgres({
      binDir,
      maxConnections: resolved.maxConnections,
      settings: resolved.settings,
    });
  }
  if (resolved.prefer === 'local') {
    throw new PostgresServerError(
      'POSTGRES_UNAVAILABLE',
      'prefer: "local" but no PostgreSQL server binaries were found in PG_BINDIR, ' +
        '/usr/lib/postgresql/*/bin or `pg_config --bindir`',
    );
  }
  console.warn(
    '[@enhanced-pool/testing] No DATABASE_URL and no PostgreSQL server binaries: using embedded ' +
      'pglite. Tests needing a real server (restart, terminate, concurrency, passwords) will be skipped.',
  );
  return await startEmbeddedPostgres(resolved.maxConnections);
}
