import { createRequire } from 'node:module';
import { type Driver, InvalidOptionError } from '@enhanced-pool/core';
import type { PoolOptions } from './pool-options.js';

/**
 * Where a `connectionType: 'direct'` pool connects: PostgreSQL over `pg`, either as fields or
 * as one connection string (not both). Any other field is passed to `pg`'s client as is.
 */
export interface DirectConnectionParams {
  readonly host?: string;
  readonly port?: number;
  readonly database?: string;
  readonly user?: string;
  /** Never shown in errors, logs or `util.inspect` output. */
  readonly password?: string;
  /** A `postgresql://` URL instead of the fields above; its password is never shown either. */
  readonly connectionString?: string;
  /** `pg`'s TLS setting (`true`, or `tls.connect` options). */
  readonly ssl?: boolean | object;
  readonly [clientSetting: string]: unknown;
}

/**
 * What a Supabase health check runs: a `HEAD` select on a table, or a function call, each
 * bounded by `timeoutMs`. The Supabase driver documents the defaults and checks the fields.
 */
export type SupabaseHealthCheckParams = (
  | { readonly table: string }
  | { readonly rpc: string; readonly args?: Readonly<Record<string, unknown>> }
) & { readonly schema?: string; readonly timeoutMs?: number };

/** Where a `connectionType: 'supabase'` pool connects: a project's API through supabase-js. */
export interface SupabaseConnectionParams {
  /** The project URL, e.g. `https://abcd.supabase.co`. */
  readonly url: string;
  /** The anon or service-role key. Never shown in errors, logs, metrics or `inspect` output. */
  readonly key: string;
  /** What `validate()` runs; the Supabase driver's default when omitted. */
  readonly healthCheck?: SupabaseHealthCheckParams;
  /** Passed to supabase-js's `createClient` as its options. */
  readonly clientOptions?: object;
}

/** The two connection types of {@link ConnectionTypeOptions}. */
export type ConnectionType = 'direct' | 'supabase';

/**
 * The configuration shape of `connectionType` + `connectionParams`, instead of `driver`: the
 * pool builds the driver itself (`@enhanced-pool/driver-pg` for `direct`,
 * `@enhanced-pool/driver-supabase` for `supabase`), loading only the one it uses.
 */
export type ConnectionTypeOptions =
  | { readonly connectionType: 'direct'; readonly connectionParams: DirectConnectionParams }
  | { readonly connectionType: 'supabase'; readonly connectionParams: SupabaseConnectionParams };

/**
 * Pool options with `connectionType` + `connectionParams` in place of `driver`.
 *
 * @typeParam TConnection - what leases hold: `pg.Client` for `direct`, `SupabaseClient` for
 * `supabase`. The pool can't know it from a string, so name it: `createPool<pg.Client>({ … })`.
 */
export type ConnectionTypePoolOptions<TConnection = unknown> = Omit<
  PoolOptions<TConnection>,
  'driver'
> &
  ConnectionTypeOptions & { readonly driver?: undefined };

/** Loads a package by name; swapped in tests to play a machine without it. */
export type PackageLoader = (name: string) => unknown;

/** What each connection type needs installed, in the order a user would install them. */
const PACKAGES: Readonly<Record<ConnectionType, readonly string[]>> = {
  direct: ['@enhanced-pool/driver-pg', 'pg'],
  supabase: ['@enhanced-pool/driver-supabase', '@supabase/supabase-js'],
};

const DIRECT_FIELDS = {
  host: 'string',
  database: 'string',
  user: 'string',
  password: 'string',
  connectionString: 'string',
} as const;

const SUPABASE_KEYS: ReadonlySet<string> = new Set(['url', 'key', 'healthCheck', 'clientOptions']);
/** Fields whose value is a secret: an error names the field but never shows what was given. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['password', 'connectionString', 'key']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(field: string, value: unknown, allowed: string): InvalidOptionError {
  const shown = SECRET_FIELDS.has(field) && typeof value === 'string' ? '[redacted]' : value;
  return new InvalidOptionError(`connectionParams.${field}`, shown, allowed);
}

const defaultLoader: PackageLoader = (() => {
  const load = createRequire(import.meta.url);
  return (name: string) => load(name);
})();

/**
 * The package a failed `require` was missing, when it was missing one: the driver itself or
 * the client library the driver loads.
 */
function missingPackage(error: unknown): string | undefined {
  if (!isObject(error) || error.code !== 'MODULE_NOT_FOUND') return undefined;
  const message = typeof error.message === 'string' ? error.message : '';
  const match = /Cannot find (?:module|package) '([^']+)'/.exec(message);
  return match?.[1];
}

function loadDriverPackage(type: ConnectionType, load: PackageLoader): Record<string, unknown> {
  const [driverPackage] = PACKAGES[type];
  try {
    const loaded = load(driverPackage as string);
    if (!isObject(loaded)) throw new Error(`${driverPackage} did not load as a module`);
    return loaded;
  } catch (error) {
    const missing = missingPackage(error);
    if (missing === undefined) throw error;
    // A path, not a name: the package is there but its files are not (an unbuilt checkout).
    const what = /^[./]/.test(missing)
      ? `"${driverPackage}" is incomplete (${missing} is missing)`
      : `"${missing}" is missing`;
    throw new InvalidOptionError(
      'connectionType',
      type,
      `a connection type whose driver is installed: ${what}; ` +
        `install it with \`npm install ${PACKAGES[type].join(' ')}\``,
    );
  }
}

function directDriverOptions(params: Record<string, unknown>): Record<string, unknown> {
  for (const [field, type] of Object.entries(DIRECT_FIELDS)) {
    const value = params[field];
    if (value !== undefined && (typeof value !== type || value === '')) {
      throw invalid(field, value, `a non-empty ${type}`);
    }
  }
  const port = params.port;
  if (
    port !== undefined &&
    (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
  ) {
    throw invalid('port', port, 'an integer ≥ 1 and ≤ 65535');
  }
  const { connectionString, ...fields } = params;
  if (connectionString !== undefined) {
    const target = Object.keys(fields).find((field) => field in DIRECT_FIELDS || field === 'port');
    if (target !== undefined) {
      throw invalid(
        target,
        fields[target],
        'absent when connectionString is given (give the fields or the connection string, not both)',
      );
    }
    // Other client settings (ssl, …) travel with the URL; pg reads both from one config.
    return { config: { connectionString, ...fields } };
  }
  for (const field of ['host', 'database', 'user'] as const) {
    if (params[field] === undefined) {
      throw invalid(field, undefined, 'a non-empty string (or give connectionString instead)');
    }
  }
  return { config: fields };
}

/**
 * Runs a driver's factory, naming `connectionParams` in its option errors: the user wrote
 * `connectionParams.url`, not the driver's `url`.
 */
function createDriver(create: unknown, options: object, packageName: string): Driver<unknown> {
  if (typeof create !== 'function') {
    throw new InvalidOptionError(
      'connectionType',
      packageName,
      `a driver package exporting its factory; reinstall ${packageName}`,
    );
  }
  try {
    return (create as (options: object) => Driver<unknown>)(options);
  } catch (error) {
    if (!InvalidOptionError.isInstance(error)) throw error;
    const option = error.option.replace(/^config\./, '');
    const value =
      SECRET_FIELDS.has(option) && typeof error.value === 'string' ? '[redacted]' : error.value;
    throw new InvalidOptionError(`connectionParams.${option}`, value, error.allowed);
  }
}

function supabaseDriverOptions(params: Record<string, unknown>): Record<string, unknown> {
  for (const field of Object.keys(params)) {
    if (!SUPABASE_KEYS.has(field)) {
      throw invalid(field, params[field], 'no such field (url, key, healthCheck, clientOptions)');
    }
  }
  for (const field of ['url', 'key'] as const) {
    const value = params[field];
    if (typeof value !== 'string' || value.length === 0) {
      throw invalid(field, value, 'a non-empty string');
    }
  }
  const { healthCheck, clientOptions } = params;
  // Their fields are the driver's to check (it names them as connectionParams.healthCheck.…).
  if (healthCheck !== undefined && !isObject(healthCheck)) {
    throw invalid(
      'healthCheck',
      healthCheck,
      "an object, { table: 'name' } or { rpc: 'function' }",
    );
  }
  if (clientOptions !== undefined && !isObject(clientOptions)) {
    throw invalid('clientOptions', clientOptions, 'an object (supabase-js createClient options)');
  }
  return { ...params };
}

/**
 * Builds the driver a `connectionType` + `connectionParams` configuration asks for. Fields are
 * checked here, before the driver's package is loaded, so a typo is reported the same way
 * whether or not the package is installed; the driver then checks what it knows best.
 */
export function driverForConnectionType(
  connectionType: unknown,
  connectionParams: unknown,
  load: PackageLoader = defaultLoader,
): Driver<unknown> {
  if (connectionType !== 'direct' && connectionType !== 'supabase') {
    throw new InvalidOptionError('connectionType', connectionType, '"direct" or "supabase"');
  }
  if (!isObject(connectionParams)) {
    throw new InvalidOptionError(
      'connectionParams',
      connectionParams,
      connectionType === 'direct'
        ? 'an object { host, port, database, user, password } or { connectionString }'
        : 'an object { url, key, healthCheck? }',
    );
  }
  if (connectionType === 'direct') {
    const options = directDriverOptions(connectionParams);
    const loaded = loadDriverPackage('direct', load);
    return createDriver(loaded.createPgDriver, options, '@enhanced-pool/driver-pg');
  }
  const options = supabaseDriverOptions(connectionParams);
  const loaded = loadDriverPackage('supabase', load);
  return createDriver(loaded.createSupabaseDriver, options, '@enhanced-pool/driver-supabase');
}
