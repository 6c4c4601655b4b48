import {
  type Clock,
  clockOption,
  InvalidOptionError,
  numberOption,
  stringOption,
} from '@enhanced-pool/core';

/**
 * The request `validate()` (and `connect()`) sends to prove the project answers: either a
 * `HEAD` select on a table (`{ table }`) or a call of a function (`{ rpc }`). Both reach the
 * database through PostgREST, so an outage of the database, not only of the API, fails them.
 */
export interface SupabaseHealthCheckOptions {
  /**
   * A table (or view) the key may read: the check is `HEAD /rest/v1/<table>?select=*&limit=0`,
   * one indexed-nothing query that returns no rows. Give `table` or `rpc`, not both.
   * @default undefined
   */
  readonly table?: string;
  /**
   * A function the key may execute: the check is `POST /rest/v1/rpc/<rpc>` with `args`.
   * Give `table` or `rpc`, not both.
   * @default 'graphql' in schema 'graphql_public' with `{ query: '{__typename}' }`, when neither
   * `table` nor `rpc` is given (pg_graphql's entry point, which every Supabase project exposes)
   */
  readonly rpc?: string;
  /**
   * Arguments of the `rpc` call, sent as its JSON body.
   * @default {}
   */
  readonly args?: Readonly<Record<string, unknown>>;
  /**
   * The schema of `table` or `rpc` (sent as `Accept-Profile` / `Content-Profile`).
   * @default the client's schema (`clientOptions.db.schema`, else `public`)
   */
  readonly schema?: string;
  /**
   * Deadline of one check, in milliseconds. The check is sent once: supabase-js's own retries
   * (a `HEAD` answered 503 would be sent four times over seven seconds) are off for it, so an
   * outage costs the project one request per check.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

/**
 * What `createClient(url, key, options)` is called with: supabase-js's own client options,
 * passed through with the driver's defaults added (see {@link SupabaseDriverOptions.clientOptions}).
 * Declared loosely so that a supabase-js upgrade does not break this package's types.
 */
export type SupabaseClientOptionsLike = Readonly<Record<string, unknown>>;

/**
 * Creates one client. supabase-js's `createClient` fits; tests and typed databases pass their
 * own (`(url, key, options) => createClient<Database>(url, key, options)`).
 */
export type SupabaseClientFactory<TClient> = (
  url: string,
  key: string,
  options: SupabaseClientOptionsLike,
) => TClient;

/** Options of `createSupabaseDriver()`. */
export interface SupabaseDriverOptions<TClient> {
  /**
   * The project URL, `https://<project-ref>.supabase.co` (or a self-hosted or local URL). An
   * `http:` or `https:` URL with no credentials in it.
   */
  readonly url: string;
  /**
   * The project's API key: the anon / publishable key, or the service-role / secret key on a
   * server. Kept in the driver's closure; never in errors, logs, metrics, `describe()` or
   * `util.inspect` of the driver or its clients.
   */
  readonly key: string;
  /**
   * supabase-js client options, passed to `createClient()` for every client. The driver adds:
   * `auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false }` unless
   * you set them (a server-side pool has no browser session to keep or refresh);
   * `realtime.transport` when Node has no native WebSocket (Node 20): the `ws` package if
   * installed, else a stand-in that throws a clear error only if realtime is used, so
   * `createClient()` never fails with "native WebSocket not found"; and a `global.fetch` around
   * yours (or Node's) that `close()` uses to abort the client's requests still in flight.
   * @default {}
   */
  readonly clientOptions?: SupabaseClientOptionsLike;
  /**
   * What `connect()` and `validate()` send. See {@link SupabaseHealthCheckOptions}.
   * @default { rpc: 'graphql', schema: 'graphql_public', args: { query: '{__typename}' }, timeoutMs: 5000 }
   */
  readonly healthCheck?: SupabaseHealthCheckOptions;
  /**
   * Creates the clients.
   * @default `createClient` from `@supabase/supabase-js`
   */
  readonly createClient?: SupabaseClientFactory<TClient>;
  /**
   * Times the health-check deadline (inject a fake clock in tests).
   * @default systemClock
   */
  readonly clock?: Clock;
}

/** The health check with defaults applied. */
export type ResolvedSupabaseHealthCheck =
  | {
      readonly kind: 'table';
      readonly table: string;
      readonly schema: string | undefined;
      readonly timeoutMs: number;
    }
  | {
      readonly kind: 'rpc';
      readonly rpc: string;
      readonly args: Readonly<Record<string, unknown>>;
      readonly schema: string | undefined;
      readonly timeoutMs: number;
    };

/** {@link SupabaseDriverOptions} with defaults applied. */
export interface ResolvedSupabaseDriverOptions<TClient> {
  readonly url: URL;
  readonly key: string;
  readonly clientOptions: SupabaseClientOptionsLike;
  readonly healthCheck: ResolvedSupabaseHealthCheck;
  readonly createClient: SupabaseClientFactory<TClient> | undefined;
  readonly clock: Clock;
}

const KNOWN_OPTIONS = new Set([
  'url',
  'key',
  'clientOptions',
  'healthCheck',
  'createClient',
  'clock',
]);
const KNOWN_HEALTH_CHECK = new Set(['table', 'rpc', 'args', 'schema', 'timeoutMs']);

/** pg_graphql's entry point: present and exposed in every Supabase project. */
export const DEFAULT_HEALTH_CHECK_RPC = {
  rpc: 'graphql',
  schema: 'graphql_public',
  args: Object.freeze({ query: '{__typename}' }),
} as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates {@link SupabaseDriverOptions} once and merges the defaults. Throws
 * `InvalidOptionError` naming the field (`url`, `key`, `healthCheck.table`, …); the key is never
 * shown as the value.
 */
export function resolveSupabaseDriverOptions<TClient>(
  options: SupabaseDriverOptions<TClient>,
): ResolvedSupabaseDriverOptions<TClient> {
  if (!isPlainObject(options)) {
    throw new InvalidOptionError('options', options, 'an object with url and key');
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      throw new InvalidOptionError(
        name,
        '[unknown option]',
        `one of ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }

  const url = resolveUrl(options.url);
  if (typeof options.key !== 'string' || options.key.trim() === '') {
    throw new InvalidOptionError(
      'key',
      typeof options.key === 'string'
        ? '[empty]'
        : options.key === undefined
          ? undefined
          : typeof options.key,
      "the project's API key, a non-empty string",
    );
  }

  const clientOptions = options.clientOptions ?? {};
  if (!isPlainObject(clientOptions)) {
    throw new InvalidOptionError(
      'clientOptions',
      clientOptions,
      'an object of supabase-js client options',
    );
  }
  for (const section of ['auth', 'realtime', 'global', 'db'] as const) {
    const value = clientOptions[section];
    if (value !== undefined && !isPlainObject(value)) {
      throw new InvalidOptionError(`clientOptions.${section}`, value, 'an object');
    }
  }
  const globalOptions = clientOptions.global as Record<string, unknown> | undefined;
  if (globalOptions?.fetch !== undefined && typeof globalOptions.fetch !== 'function') {
    throw new InvalidOptionError(
      'clientOptions.global.fetch',
      globalOptions.fetch,
      'a fetch function',
    );
  }

  if (options.createClient !== undefined && typeof options.createClient !== 'function') {
    throw new InvalidOptionError(
      'createClient',
      options.createClient,
      'a function (url, key, options) => SupabaseClient',
    );
  }

  return {
    url,
    key: options.key,
    clientOptions,
    healthCheck: resolveHealthCheck(options.healthCheck),
    createClient: options.createClient,
    clock: clockOption('clock', options.clock),
  };
}

function resolveUrl(value: unknown): URL {
  const allowed = 'the project URL, an http(s) URL such as https://<project-ref>.supabase.co';
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidOptionError('url', value, allowed);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError('url', '[not a URL]', allowed);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('url', url.protocol, allowed);
  }
  if (url.username !== '' || url.password !== '') {
    // Never echo it: the credentials are the point.
    throw new InvalidOptionError(
      'url',
      '[URL with credentials]',
      `${allowed}, without user:password@`,
    );
  }
  return url;
}

function resolveHealthCheck(value: unknown): ResolvedSupabaseHealthCheck {
  if (value !== undefined && !isPlainObject(value)) {
    throw new InvalidOptionError('healthCheck', value, 'an object: { table } or { rpc, args }');
  }
  const check = (value ?? {}) as SupabaseHealthCheckOptions & Record<string, unknown>;
  for (const name of Object.keys(check)) {
    if (!KNOWN_HEALTH_CHECK.has(name)) {
      throw new InvalidOptionError(
        `healthCheck.${name}`,
        '[unknown option]',
        `one of ${[...KNOWN_HEALTH_CHECK].join(', ')}`,
      );
    }
  }
  const timeoutMs = numberOption('healthCheck.timeoutMs', check.timeoutMs, 5_000, {
    integer: true,
    min: 1,
    max: 2_147_483_647,
  });
  const schema =
    check.schema === undefined
      ? undefined
      : stringOption('healthCheck.schema', check.schema, 'public');

  if (check.table !== undefined && check.rpc !== undefined) {
    throw new InvalidOptionError('healthCheck.rpc', check.rpc, 'not both table and rpc: give one');
  }
  if (check.table !== undefined) {
    if (check.args !== undefined) {
      throw new InvalidOptionError('healthCheck.args', '[object]', 'only with healthCheck.rpc');
    }
    return {
      kind: 'table',
      table: stringOption('healthCheck.table', check.table, ''),
      schema,
      timeoutMs,
    };
  }
  if (check.args !== undefined && !isPlainObject(check.args)) {
    throw new InvalidOptionError('healthCheck.args', check.args, 'an object of function arguments');
  }
  if (check.rpc !== undefined) {
    return {
      kind: 'rpc',
      rpc: stringOption('healthCheck.rpc', check.rpc, ''),
      args: check.args ?? {},
      schema,
      timeoutMs,
    };
  }
  return {
    kind: 'rpc',
    rpc: DEFAULT_HEALTH_CHECK_RPC.rpc,
    args: check.args ?? DEFAULT_HEALTH_CHECK_RPC.args,
    schema: schema ?? DEFAULT_HEALTH_CHECK_RPC.schema,
    timeoutMs,
  };
}
