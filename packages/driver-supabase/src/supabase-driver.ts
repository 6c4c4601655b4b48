import {
  type Clock,
  type Driver,
  type DriverCallOptions,
  type DriverDescription,
  redactSecrets,
  redactValue,
  unrefTimer,
} from '@enhanced-pool/core';
import { createClient as createSupabaseClient, type SupabaseClient } from '@supabase/supabase-js';
import { CLIENT_CLOSED_MESSAGE, classifySupabaseError } from './classify-supabase-error.js';
import {
  type ResolvedSupabaseHealthCheck,
  resolveSupabaseDriverOptions,
  type SupabaseClientFactory,
  type SupabaseClientOptionsLike,
  type SupabaseDriverOptions,
} from './supabase-driver-options.js';
import { SupabaseRequestError } from './supabase-request-error.js';

/**
 * The Supabase adapter: a {@link Driver} whose connections are supabase-js clients, so
 * `lease.connection.from('todos').select()` is the API users already know. A "connection" is a
 * client with its own auth state and realtime socket; the HTTP requests it makes are separate,
 * so there is no `isBroken()`: nothing breaks between two requests.
 */
export interface SupabaseDriver<TClient = SupabaseClient> extends Driver<TClient> {
  readonly name: 'supabase';
  /**
   * Refuses (so the pool discards the client) a client a borrower left with a signed-in auth
   * session or subscribed realtime channels, so the next borrower never acts as someone else
   * or receives their events. No request is sent.
   */
  reset(connection: TClient, options: DriverCallOptions): Promise<void>;
}

/** What the driver uses of a supabase-js client; `SupabaseClient` fits. */
interface ClientShape {
  from(table: string): { select(columns: string, options: { head: boolean }): BuilderShape };
  rpc(name: string, args: Readonly<Record<string, unknown>>): BuilderShape;
  schema(name: string): Pick<ClientShape, 'from' | 'rpc'>;
  getChannels(): readonly unknown[];
  removeAllChannels(): Promise<unknown>;
  realtime: { disconnect(): Promise<unknown> | unknown };
  auth: {
    getSession(): Promise<{ data: { session: unknown } }>;
    stopAutoRefresh(): Promise<void> | void;
  };
}

interface BuilderShape extends PromiseLike<PostgrestAnswer> {
  limit?(count: number): BuilderShape;
  setHeader(name: string, value: string): BuilderShape;
  retry(enabled: boolean): BuilderShape;
  abortSignal(signal: AbortSignal): BuilderShape;
}

interface PostgrestAnswer {
  readonly error: {
    readonly message?: string;
    readonly code?: string;
    readonly details?: string | null;
    readonly hint?: string | null;
  } | null;
  readonly status: number;
  readonly statusText?: string;
}

/** What one health check saw of its request through the client's fetch. */
interface Probe {
  error: unknown;
  /** The HTTP status as it arrived: supabase-js turns a `HEAD` answered 404 into a success. */
  status: number | undefined;
}

/** What the driver remembers about each client, keyed by the client (not stored on it). */
interface ClientState {
  /** Aborted by close(): the client's requests still in flight end, and later ones fail at once. */
  readonly controller: AbortController;
  readonly probes: Map<string, Probe>;
  readonly usesAccessToken: boolean;
  closing: Promise<void> | undefined;
}

/** Removed from the request by the driver's fetch before it leaves the process. */
const PROBE_HEADER = 'x-enhanced-pool-probe';
const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/**
 * How long close() waits for realtime to say goodbye before it lets go. Phoenix polls for a
 * closing socket at 150, 300, 450 and 600 ms, so a socket caught mid-handshake takes about a
 * second; one that never closes is left to its own (finite) polling after this.
 */
const CLOSE_TIMEOUT_MS = 3_000;

let probeSequence = 0;
let transport: Promise<unknown> | undefined;

/**
 * Stands in for a WebSocket on Node.js without one (Node 20) when `ws` is not installed:
 * `createClient()` succeeds, and only a realtime subscription fails, with this explanation.
 */
class MissingWebSocket {
  constructor() {
    throw new Error(
      'Supabase Realtime needs a WebSocket implementation on Node.js before 22: install the "ws" ' +
        'package (the Supabase driver picks it up) or pass clientOptions.realtime.transport',
    );
  }
}

/** `ws` when Node has no native WebSocket, loaded once and only when a client is made. */
function realtimeTransport(): Promise<unknown> {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') {
    return Promise.resolve(undefined);
  }
  transport ??= import('ws').then(
    (module) => {
      const loaded = module as { default?: unknown; WebSocket?: unknown };
      return loaded.default ?? loaded.WebSocket ?? module;
    },
    () => MissingWebSocket,
  );
  return transport;
}

/**
 * Creates the Supabase driver for a pool (or for standalone use).
 *
 * Each connection is a supabase-js client made with `createClient(url, key, clientOptions)`
 * plus the driver's defaults (no session persistence or refresh timers, `ws` as the realtime
 * transport on Node 20). `connect()` and `validate()` send the health check once, bounded by
 * `healthCheck.timeoutMs` and the caller's signal, with supabase-js's retries off.
 * `close()` removes the client's realtime channels, stops its auth timers and aborts its
 * requests still in flight, so nothing keeps the process alive.
 *
 * The options are checked at once: a missing or malformed field throws `InvalidOptionError`
 * naming it (`url`, `key`, `healthCheck.table`, …). The key stays in the driver's closure and
 * the clients: it is not a property of the driver, never part of `describe()`, hidden from
 * `util.inspect` and `JSON.stringify` of the clients the driver makes, and removed from every
 * error the driver rejects with.
 *
 * @example
 * import { createPool } from '@enhanced-pool/pool';
 * import { createSupabaseDriver } from '@enhanced-pool/driver-supabase';
 *
 * const driver = createSupabaseDriver({
 *   url: process.env.SUPABASE_URL,
 *   key: process.env.SUPABASE_SERVICE_ROLE_KEY,
 *   healthCheck: { table: 'todos' },
 * });
 * const pool = createPool({ driver, maxSize: 10 });
 * const { data } = await pool.withConnection((supabase) => supabase.from('todos').select('*'));
 */
export function createSupabaseDriver<TClient = SupabaseClient>(
  options: SupabaseDriverOptions<TClient>,
): SupabaseDriver<TClient> {
  const resolved = resolveSupabaseDriverOptions(options);
  const { key, healthCheck, clock } = resolved;
  const url = resolved.url.toString().replace(/\/$/, '');
  const factory =
    resolved.createClient ?? (createSupabaseClient as unknown as SupabaseClientFactory<TClient>);
  const clientOptions = resolved.clientOptions;
  const dbOptions = clientOptions.db as { schema?: unknown } | undefined;
  const clientSchema = typeof dbOptions?.schema === 'string' ? dbOptions.schema : 'public';
  const description: DriverDescription = Object.freeze({
    'db.system.name': 'postgresql',
    'server.address': resolved.url.hostname,
    'server.port':
      resolved.url.port === ''
        ? resolved.url.protocol === 'https:'
          ? 443
          : 80
        : Number(resolved.url.port),
    'db.namespace': clientSchema,
  });
  const states = new WeakMap<object, ClientState>();

  const scrub = (error: unknown): unknown => scrubSecrets(error, key);

  const stateOf = (client: TClient): ClientState => {
    let state = states.get(client as object);
    if (state === undefined) {
      state = newState(clientOptions.accessToken !== undefined);
      states.set(client as object, state);
    }
    return state;
  };

  const close = (client: TClient): Promise<void> => {
    const state = stateOf(client);
    state.closing ??= closeClient(client as unknown as ClientShape, state, clock);
    return state.closing;
  };

  const check = (client: TClient, signal: AbortSignal): Promise<void> =>
    runHealthCheck(
      client as unknown as ClientShape,
      stateOf(client),
      healthCheck,
      signal,
      clock,
    ).catch((error: unknown) => {
      throw scrub(error);
    });

  const driver: SupabaseDriver<TClient> = {
    specificationVersion: 'v1',
    name: 'supabase',

    async connect({ signal }: DriverCallOptions): Promise<TClient> {
      signal.throwIfAborted();
      const webSocket = await realtimeTransport();
      signal.throwIfAborted();
      const state = newState(clientOptions.accessToken !== undefined);
      let client: TClient;
      try {
        client = factory(url, key, withDriverDefaults(clientOptions, state, webSocket));
      } catch (error) {
        throw scrub(error);
      }
      states.set(client as object, state);
      hideKey(client as object, url);
      releaseRealtimeDisconnectTimer(client as object);
      try {
        await check(client, signal);
      } catch (error) {
        await close(client);
        throw error;
      }
      return client;
    },

    async validate(client: TClient, { signal }: DriverCallOptions): Promise<void> {
      signal.throwIfAborted();
      if (stateOf(client).closing !== undefined) throw scrub(clientClosedError());
      await check(client, signal);
    },

    async reset(client: TClient, { signal }: DriverCallOptions): Promise<void> {
      signal.throwIfAborted();
      const state = stateOf(client);
      if (state.closing !== undefined) throw clientClosedError();
      const shape = client as unknown as ClientShape;
      const channels = shape.getChannels().length;
      if (channels > 0) {
        throw clientStateError(`${channels} realtime channel(s) still subscribed`);
      }
      // With the accessToken option the caller owns auth, and supabase.auth throws on access.
      if (state.usesAccessToken) return;
      const { data } = await settleBy(shape.auth.getSession(), signal);
      if (data.session !== null && data.session !== undefined) {
        throw clientStateError('an auth session is still signed in');
      }
    },

    close,
    classifyError: classifySupabaseError,
    describe: () => description,
  };
  return Object.freeze(driver);
}

function newState(usesAccessToken: boolean): ClientState {
  return {
    controller: new AbortController(),
    probes: new Map(),
    usesAccessToken,
    closing: undefined,
  };
}

/**
 * The user's client options with the driver's defaults and its fetch. An option the user set
 * wins, except `global.fetch`, which the driver wraps rather than replaces.
 */
function withDriverDefaults(
  clientOptions: SupabaseClientOptionsLike,
  state: ClientState,
  webSocket: unknown,
): SupabaseClientOptionsLike {
  const auth = (clientOptions.auth ?? {}) as Record<string, unknown>;
  const realtime = (clientOptions.realtime ?? {}) as Record<string, unknown>;
  const global = (clientOptions.global ?? {}) as Record<string, unknown>;
  const userFetch = (global.fetch as typeof fetch | undefined) ?? undefined;
  return {
    ...clientOptions,
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, ...auth },
    realtime:
      realtime.transport === undefined && webSocket !== undefined
        ? { ...realtime, transport: webSocket }
        : realtime,
    global: { ...global, fetch: driverFetch(state, userFetch) },
  };
}

/**
 * The fetch every client of the driver uses: the user's (or Node's), with the client's close
 * signal added, and the health check's outcome recorded so `validate()` can reject with the
 * original network error rather than supabase-js's text summary of it.
 */
function driverFetch(state: ClientState, userFetch: typeof fetch | undefined): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    const probeId = headers.get(PROBE_HEADER);
    if (probeId !== null) headers.delete(PROBE_HEADER);
    const probe = probeId === null ? undefined : state.probes.get(probeId);
    const closed = state.controller.signal;
    // A fetch of the user's may ignore an aborted signal: refuse here, before sending.
    closed.throwIfAborted();
    const signal =
      init?.signal === undefined || init.signal === null
        ? closed
        : AbortSignal.any([closed, init.signal]);
    try {
      const response = await (userFetch ?? fetch)(input, { ...init, headers, signal });
      if (probe !== undefined) probe.status = response.status;
      return response;
    } catch (error) {
      if (probe !== undefined) probe.error = error;
      throw error;
    }
  };
}

/** Sends the health check once and rejects unless it was answered with success. */
async function runHealthCheck(
  client: ClientShape,
  state: ClientState,
  healthCheck: ResolvedSupabaseHealthCheck,
  signal: AbortSignal,
  clock: Clock,
): Promise<void> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = clock.setTimeout(
    () =>
      controller.abort(
        new DOMException(
          `The Supabase health check did not answer within ${healthCheck.timeoutMs} ms`,
          'TimeoutError',
        ),
      ),
    healthCheck.timeoutMs,
  );
  unrefTimer(timer);
  probeSequence += 1;
  const probeId = String(probeSequence);
  const probe: Probe = { error: undefined, status: undefined };
  state.probes.set(probeId, probe);
  const schema = healthCheck.schema;
  const target = schema === undefined ? client : client.schema(schema);
  const operation =
    healthCheck.kind === 'table'
      ? `HEAD /rest/v1/${healthCheck.table}`
      : `POST /rest/v1/rpc/${healthCheck.rpc}`;
  try {
    if (signal.aborted) onAbort();
    controller.signal.throwIfAborted();
    let builder =
      healthCheck.kind === 'table'
        ? target.from(healthCheck.table).select('*', { head: true })
        : target.rpc(healthCheck.rpc, healthCheck.args);
    if (healthCheck.kind === 'table' && builder.limit !== undefined) builder = builder.limit(0);
    builder = builder.setHeader(PROBE_HEADER, probeId).retry(false).abortSignal(controller.signal);
    const answer = await settleBy(Promise.resolve(builder), controller.signal);
    const status = probe.status ?? answer.status;
    if (answer.error === null && status < 400) return;
    if (probe.error !== undefined) throw probe.error;
    const error = answer.error ?? {};
    throw new SupabaseRequestError({
      status,
      code: error.code ?? '',
      message: error.message || answer.statusText || statusText(status),
      details: error.details ?? null,
      hint: error.hint ?? null,
      operation,
    });
  } finally {
    clock.clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    state.probes.delete(probeId);
  }
}

/** Words for a status when supabase-js reports none (a `HEAD` answer has no body). */
function statusText(status: number): string {
  const known: Record<number, string> = {
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return known[status] ?? 'request failed';
}

/** Settles with `work`, or rejects with the signal's reason as soon as it aborts. */
function settleBy<T>(work: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(work).then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Ends everything of the client that could keep the process alive or keep working after
 * close: its requests in flight, realtime channels and socket, the auth refresh timer. Never
 * rejects; a client whose realtime does not answer is let go after {@link CLOSE_TIMEOUT_MS}.
 */
async function closeClient(client: ClientShape, state: ClientState, clock: Clock): Promise<void> {
  state.controller.abort(clientClosedError());
  const steps = (async () => {
    // The socket first: a channel of a disconnected socket leaves at once, while one of a
    // connected socket waits for the server's reply (10 s, with a timer, when it never comes).
    try {
      await client.realtime.disconnect();
    } catch {
      // Already disconnected.
    }
    try {
      if (client.getChannels().length > 0) await client.removeAllChannels();
    } catch {
      // Nothing left to remove.
    }
    if (!state.usesAccessToken) {
      try {
        await client.auth.stopAutoRefresh();
      } catch {
        // Not started.
      }
    }
  })();
  await new Promise<void>((resolve) => {
    const timer = clock.setTimeout(resolve, CLOSE_TIMEOUT_MS);
    unrefTimer(timer);
    steps.then(() => {
      clock.clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The error for using a client after close. Named `AbortError` so supabase-js does not retry a
 * request that fails with it; its code classifies as `connection`.
 */
function clientClosedError(): Error {
  return Object.assign(new Error(CLIENT_CLOSED_MESSAGE), {
    name: 'AbortError',
    code: 'ERR_SUPABASE_CLIENT_CLOSED',
  });
}

function clientStateError(what: string): Error {
  return Object.assign(new Error(`The Supabase client can't be reused: ${what}`), {
    name: 'SupabaseClientStateError',
  });
}

/**
 * realtime-js 2.109's `disconnect()` races the socket's goodbye against a 10 s `setTimeout` it
 * never clears, so every disconnect (ours in `close()`, and the one it makes itself when the last
 * channel is removed) keeps the process alive for 10 s. This replaces that method on the
 * client's own adapter with the same race whose timer is cleared when the goodbye comes and
 * unref'd otherwise. A realtime-js without that shape is left alone.
 */
function releaseRealtimeDisconnectTimer(client: object): void {
  type Disconnect = (
    callback: () => void,
    code?: number,
    reason?: string,
    timeout?: number,
  ) => Promise<string>;
  let adapter: { disconnect?: Disconnect; socket?: { disconnect?: unknown } } | undefined;
  try {
    adapter = (client as { realtime?: { socketAdapter?: typeof adapter } }).realtime?.socketAdapter;
  } catch {
    return;
  }
  const socket = adapter?.socket;
  if (adapter === undefined || typeof adapter.disconnect !== 'function') return;
  if (socket === undefined || typeof socket.disconnect !== 'function') return;
  const socketDisconnect = socket.disconnect.bind(socket) as (
    callback: () => void,
    code?: number,
    reason?: string,
  ) => void;
  adapter.disconnect = (callback, code, reason, timeout = 10_000) =>
    new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), timeout);
      unrefTimer(timer);
      socketDisconnect(
        () => {
          clearTimeout(timer);
          callback();
          resolve('ok');
        },
        code,
        reason,
      );
    });
}

/**
 * Shows `SupabaseClient { url, key: '[redacted]' }` for the client and the parts of it that
 * hold the key (auth headers, realtime params, storage headers) in `util.inspect` and
 * `JSON.stringify`, so logging a client or a lease never prints the key.
 */
function hideKey(client: object, url: string): void {
  const summary = Object.freeze({ url, key: '[redacted]' });
  const render = (label: string) => () => `${label} { url: '${url}', key: '[redacted]' }`;
  const cover = (target: unknown, label: string): void => {
    if (typeof target !== 'object' || target === null || Object.isFrozen(target)) return;
    try {
      Object.defineProperty(target, INSPECT, { value: render(label), configurable: true });
      Object.defineProperty(target, 'toJSON', { value: () => summary, configurable: true });
    } catch {
      // A Proxy (supabase.auth with the accessToken option) refuses; it holds no key.
    }
  };
  cover(client, 'SupabaseClient');
  const parts = client as Record<string, unknown>;
  for (const part of ['auth', 'realtime', 'storage', 'rest']) {
    let value: unknown;
    try {
      value = parts[part];
    } catch {
      continue;
    }
    cover(value, `SupabaseClient.${part}`);
  }
}

/**
 * Removes the key (and anything that looks like a credential) from an error's message, stack,
 * details and hint before it leaves the driver.
 */
function scrubSecrets(error: unknown, key: string): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const record = error as Record<string, unknown>;
  for (const field of ['message', 'stack', 'details', 'hint']) {
    const text = record[field];
    if (typeof text !== 'string') continue;
    const clean = redactValue(redactSecrets(text), key);
    if (clean === text) continue;
    try {
      record[field] = clean;
    } catch {
      // A frozen error can't be cleaned.
    }
  }
  return error;
}
