import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { InvalidOptionError, numberOption, stringOption } from '@enhanced-pool/core';
import { LOOPBACK } from '../postgres/free-port.js';
import {
  answerForQueryError,
  databaseUnreachable,
  errorAnswer,
  type PostgrestErrorAnswer,
  poolTimeout,
} from './postgrest-errors.js';
import { type PostgrestPlan, planRequest, quoteIdentifier } from './postgrest-request.js';

/**
 * A fault the test server injects instead of answering normally:
 * - `unavailable`: `503` with `PGRST000`, what PostgREST answers while it can't reach the database;
 * - `pool-timeout`: `504` with `PGRST003`, PostgREST's own connection pool exhausted;
 * - `no-answer`: the request is read and never answered (until the client gives up or the server
 *   closes);
 * - `reset`: the socket is reset (TCP RST) without an answer, so the client sees `ECONNRESET`.
 */
export type PostgrestTestFault = 'unavailable' | 'pool-timeout' | 'no-answer' | 'reset';

/** Options of {@link PostgrestTestServer.injectFault}. */
export interface InjectFaultOptions {
  /**
   * How many requests get the fault; later ones are served normally again.
   * @default Infinity (until `clearFault()`)
   */
  readonly times?: number;
}

/** One request as the test server saw it. Headers are never recorded: they carry the key. */
export interface PostgrestTestRequest {
  readonly method: string;
  /** Path and query string, e.g. `/rest/v1/todos?select=*`. */
  readonly path: string;
  /** The status answered, or the fault that replaced the answer. */
  readonly outcome: number | 'no-answer' | 'reset';
  /** supabase-js's `X-Retry-Count` header: `0` for a first attempt. */
  readonly retryCount: number;
}

/** Options of {@link startPostgrestTestServer}. */
export interface PostgrestTestServerOptions {
  /**
   * The PostgreSQL the server runs requests on: a connection string, or anything with a
   * `connectionString` (the `PostgresServer` from `startPostgres()`).
   */
  readonly database: string | { readonly connectionString: string };
  /**
   * The API key clients must send (`apikey` header, and `Authorization: Bearer` when present).
   * @default a random `test-key-…`
   */
  readonly key?: string;
  /**
   * Schemas clients may name in `Accept-Profile` / `Content-Profile`; the first is the default.
   * @default ['public', 'graphql_public']
   */
  readonly schemas?: readonly string[];
  /**
   * Connections the server's own pool keeps to PostgreSQL (PostgREST's `db-pool`).
   * @default 4
   */
  readonly poolSize?: number;
  /**
   * How long a request waits for a pooled connection before `504 PGRST003`
   * (PostgREST's `db-pool-acquisition-timeout`), in milliseconds.
   * @default 10000
   */
  readonly acquireTimeoutMs?: number;
}

/**
 * A PostgREST-compatible HTTP server for tests, backed by a real PostgreSQL, with fault
 * injection. It answers what supabase-js and postgrest-js send for tables (`GET`/`HEAD` with
 * `select`, filters, `order`, `limit`, `offset`, `Prefer: count=exact`; `POST` inserts) and
 * functions (`POST` or `GET /rest/v1/rpc/<fn>`), and checks the `apikey` the way Supabase's
 * gateway does. It is a test server, not PostgREST: no JWT roles or row-level security, no
 * embedding. Binds 127.0.0.1 only.
 */
export interface PostgrestTestServer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`: the project URL to give `createClient()`. */
  readonly url: string;
  readonly port: number;
  /** The key clients must send. Kept out of `util.inspect` and JSON output. */
  readonly key: string;
  /** Every request received so far, oldest first. */
  requests(): readonly PostgrestTestRequest[];
  /** Sockets open to the server right now. */
  openSockets(): number;
  /** Requests received and not answered yet (including those held by `no-answer`). */
  pendingRequests(): number;
  /** Resolves once `count` requests in total have arrived; rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs: number): Promise<void>;
  /** Replaces the answer of the next requests (all of them by default) with `fault`. */
  injectFault(fault: PostgrestTestFault, options?: InjectFaultOptions): void;
  /** Serves normally again. Requests already held by `no-answer` stay held. */
  clearFault(): void;
  /** Changes the key clients must send, as a key rotation would. */
  rotateKey(key: string): void;
  /** Stops the server: every socket is destroyed and the pool to PostgreSQL ended. Idempotent. */
  close(): Promise<void>;
}

/** The `pg` members the server's pool uses (pg is an optional peer dependency of this kit). */
interface PoolClientLike {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  release(destroy?: boolean | Error): void;
}
interface PoolLike {
  connect(): Promise<PoolClientLike>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
type PoolConstructor = new (config: {
  connectionString: string;
  max: number;
  connectionTimeoutMillis: number;
  application_name: string;
  idleTimeoutMillis: number;
}) => PoolLike;

/** `application_name` of the server's pooled connections, so tests can count or end them. */
export const POSTGREST_TEST_APPLICATION_NAME = 'enhanced-pool-postgrest-test-server';

async function loadPool(): Promise<PoolConstructor> {
  try {
    const module = (await import('pg')) as { default?: unknown };
    return ((module.default ?? module) as { Pool: PoolConstructor }).Pool;
  } catch (error) {
    throw new Error(
      'startPostgrestTestServer() needs the "pg" package: install pg@^8 as a dev dependency',
      { cause: error },
    );
  }
}

/** pg-pool's message when no client became free within `connectionTimeoutMillis`. */
const POOL_WAIT_TIMEOUT = 'timeout exceeded when trying to connect';
const MAX_BODY_BYTES = 1_000_000;

/**
 * Starts a {@link PostgrestTestServer} on a free loopback port.
 *
 * @example
 * ```ts
 * await using database = await startPostgres();
 * await using api = await startPostgrestTestServer({ database });
 * const supabase = createClient(api.url, api.key, { realtime: { transport: ws } });
 * await supabase.from('todos').select('*');
 * api.injectFault('unavailable', { times: 1 }); // the next request gets 503 PGRST000
 * ```
 */
export async function startPostgrestTestServer(
  options: PostgrestTestServerOptions,
): Promise<PostgrestTestServer> {
  const connectionString =
    typeof options.database === 'string'
      ? options.database
      : (options.database as { connectionString?: unknown } | undefined)?.connectionString;
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new InvalidOptionError(
      'database',
      '[not shown]',
      'a connection string or an object with a connectionString (a PostgresServer)',
    );
  }
  let key = stringOption('key', options.key, `test-key-${randomBytes(16).toString('hex')}`);
  const schemas = options.schemas ?? ['public', 'graphql_public'];
  if (
    !Array.isArray(schemas) ||
    schemas.length === 0 ||
    schemas.some((schema) => typeof schema !== 'string' || schema === '')
  ) {
    throw new InvalidOptionError('schemas', schemas, 'a non-empty array of schema names');
  }
  const poolSize = numberOption('poolSize', options.poolSize, 4, {
    integer: true,
    min: 1,
    max: 100,
  });
  const acquireTimeoutMs = numberOption('acquireTimeoutMs', options.acquireTimeoutMs, 10_000, {
    integer: true,
    min: 1,
    max: 600_000,
  });

  const Pool = await loadPool();
  const pool = new Pool({
    connectionString,
    max: poolSize,
    connectionTimeoutMillis: acquireTimeoutMs,
    application_name: POSTGREST_TEST_APPLICATION_NAME,
    idleTimeoutMillis: 10_000,
  });
  // An idle pooled connection whose server went away must not crash the test process.
  pool.on('error', () => {});

  const log: PostgrestTestRequest[] = [];
  const sockets = new Set<Socket>();
  const held = new Set<ServerResponse>();
  const arrivalListeners = new Set<() => void>();
  let pending = 0;
  let fault: { kind: PostgrestTestFault; remaining: number } | undefined;
  let closing: Promise<void> | undefined;

  const record = (request: IncomingMessage, outcome: PostgrestTestRequest['outcome']): void => {
    const retry = Number(request.headers['x-retry-count'] ?? 0);
    log.push({
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      outcome,
      retryCount: Number.isFinite(retry) ? retry : 0,
    });
    for (const listener of arrivalListeners) listener();
  };

  const send = (
    response: ServerResponse,
    status: number,
    body: unknown,
    head: boolean,
    headers: Record<string, string> = {},
  ): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    response.end(head ? undefined : text);
  };

  const sendError = (response: ServerResponse, answer: PostgrestErrorAnswer, head: boolean) =>
    send(response, answer.status, answer.body, head);

  const takeFault = (): PostgrestTestFault | undefined => {
    if (fault === undefined) return undefined;
    const { kind } = fault;
    fault.remaining -= 1;
    if (fault.remaining <= 0) fault = undefined;
    return kind;
  };

  /** Runs a plan on a pooled connection inside one transaction, as PostgREST does. */
  const execute = async (
    plan: PostgrestPlan,
    response: ServerResponse,
    head: boolean,
  ): Promise<void> => {
    let client: PoolClientLike;
    try {
      client = await pool.connect();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      sendError(
        response,
        message.startsWith(POOL_WAIT_TIMEOUT) ? poolTimeout() : databaseUnreachable(message),
        head,
      );
      return;
    }
    let broken: Error | undefined;
    const readOnly = plan.kind === 'read' || (plan.kind === 'rpc' && plan.readOnly);
    try {
      await client.query(readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      const answer = await runPlan(client, plan);
      await client.query('COMMIT');
      if ('error' in answer) sendError(response, answer.error, head);
      else send(response, answer.status, answer.body, head, answer.headers);
    } catch (error) {
      const answer = answerForQueryError(error);
      if (answer.body.code === 'PGRST001') broken = error as Error;
      else await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
      sendError(response, answer, head);
    } finally {
      client.release(broken ?? false);
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://test-server');
    const head = request.method === 'HEAD';
    const apikey = headerValue(request, 'apikey');
    const authorization = headerValue(request, 'authorization');

    const injected = takeFault();
    if (injected === 'no-answer') {
      record(request, 'no-answer');
      held.add(response);
      response.on('close', () => held.delete(response));
      return;
    }
    if (injected === 'reset') {
      record(request, 'reset');
      request.socket.resetAndDestroy();
      return;
    }

    const answer = (status: number): void => record(request, status);
    if (!url.pathname.startsWith('/rest/v1/')) {
      answer(404);
      send(response, 404, { message: 'no Route matched with those values' }, head);
      return;
    }
    // Supabase's gateway checks the key before PostgREST sees the request.
    if (apikey === undefined) {
      answer(401);
      send(
        response,
        401,
        {
          message: 'No API key found in request',
          hint: 'No `apikey` request header or url param was found.',
        },
        head,
      );
      return;
    }
    if (apikey !== key) {
      answer(401);
      send(
        response,
        401,
        {
          message: 'Invalid API key',
          hint: 'Double check your Supabase `anon` or `service_role` API key.',
        },
        head,
      );
      return;
    }
    if (authorization !== undefined && authorization !== `Bearer ${key}`) {
      answer(401);
      sendError(response, errorAnswer(401, 'PGRST301', 'JWSError JWSInvalidSignature'), head);
      return;
    }
    if (injected === 'unavailable') {
      answer(503);
      sendError(response, databaseUnreachable('injected by the test server'), head);
      return;
    }
    if (injected === 'pool-timeout') {
      answer(504);
      sendError(response, poolTimeout(), head);
      return;
    }

    let body: unknown;
    try {
      body = await readJsonBody(request);
    } catch {
      answer(400);
      sendError(response, errorAnswer(400, 'PGRST102', 'Empty or invalid json'), head);
      return;
    }
    const plan = planRequest({
      method: request.method ?? 'GET',
      resource: url.pathname.slice('/rest/v1/'.length),
      params: url.searchParams,
      headers: {
        accept: headerValue(request, 'accept'),
        prefer: headerValue(request, 'prefer'),
        'accept-profile': headerValue(request, 'accept-profile'),
        'content-profile': headerValue(request, 'content-profile'),
      },
      body,
      schemas,
    });
    if ('status' in plan) {
      answer(plan.status);
      sendError(response, plan, head);
      return;
    }
    const statusOf = response.writeHead.bind(response);
    response.writeHead = ((status: number, ...rest: never[]) => {
      answer(status);
      return statusOf(status, ...rest);
    }) as typeof response.writeHead;
    await execute(plan, response, head);
  };

  const server = createServer((request, response) => {
    pending += 1;
    response.on('close', () => {
      pending -= 1;
    });
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendError(response, errorAnswer(500, null, String(error)), request.method === 'HEAD');
      } else {
        response.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const response of held) response.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end().catch(() => {});
    })();
    return closing;
  };

  const api: PostgrestTestServer = {
    url: `http://${LOOPBACK}:${port}`,
    port,
    get key() {
      return key;
    },
    requests: () => [...log],
    openSockets: () => sockets.size,
    pendingRequests: () => pending,
    waitForRequests: (count, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (log.length < count) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${log.length} of ${count} requests arrived within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          arrivalListeners.delete(check);
        };
        arrivalListeners.add(check);
        check();
      }),
    injectFault(kind, faultOptions = {}) {
      const times = numberOption('times', faultOptions.times, Infinity, {
        integer: true,
        min: 1,
        allowInfinity: true,
      });
      const kinds: readonly PostgrestTestFault[] = [
        'unavailable',
        'pool-timeout',
        'no-answer',
        'reset',
      ];
      if (!kinds.includes(kind)) {
        throw new InvalidOptionError('fault', kind, `one of ${kinds.join(', ')}`);
      }
      fault = { kind, remaining: times };
    },
    clearFault() {
      fault = undefined;
    },
    rotateKey(next) {
      key = stringOption('key', next, key);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  // The key is the one secret here: show the rest, never it.
  Object.defineProperty(api, Symbol.for('nodejs.util.inspect.custom'), {
    value: () => `PostgrestTestServer { url: '${api.url}', key: '[redacted]' }`,
  });
  Object.defineProperty(api, 'toJSON', {
    value: () => ({ url: api.url, key: '[redacted]' }),
  });
  return Object.freeze(api);
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  // supabase-js sends `undefined` bodies of GET/HEAD as the string "undefined" in some paths.
  if (text === 'undefined') return undefined;
  return JSON.parse(text) as unknown;
}

type PlanAnswer =
  | { readonly error: PostgrestErrorAnswer }
  | { readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> };

async function runPlan(client: PoolClientLike, plan: PostgrestPlan): Promise<PlanAnswer> {
  if (plan.kind === 'read') {
    const { rows } = await client.query(plan.statement.text, plan.statement.values);
    const data = (rows[0]?.rows ?? []) as unknown[];
    const total = plan.count ? Number(rows[0]?.total ?? 0) : undefined;
    const range = data.length === 0 ? '*' : `0-${data.length - 1}`;
    const headers = { 'content-range': `${range}/${total ?? '*'}` };
    if (plan.single) {
      if (data.length !== 1) {
        return {
          error: errorAnswer(
            406,
            'PGRST116',
            'JSON object requested, multiple (or no) rows returned',
            `The result contains ${data.length} rows`,
          ),
        };
      }
      return { status: 200, body: data[0], headers };
    }
    return { status: 200, body: data, headers };
  }
  if (plan.kind === 'insert') {
    const { rows } = await client.query(plan.statement.text, plan.statement.values);
    return plan.returnRows ? { status: 201, body: rows } : { status: 201, body: undefined };
  }

  const { rows: found } = await client.query(
    `SELECT p.proretset AS set, t.typtype AS kind, p.prorettype = 'void'::regtype AS void
       FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype
      WHERE p.proname = $1 AND p.pronamespace = to_regnamespace($2)`,
    [plan.name, plan.schema],
  );
  const signature = found[0];
  if (signature === undefined) {
    const names = Object.keys(plan.args).join(', ');
    return {
      error: errorAnswer(
        404,
        'PGRST202',
        `Could not find the function ${plan.schema}.${plan.name}(${names}) in the schema cache`,
      ),
    };
  }
  const values: unknown[] = [];
  const args = Object.entries(plan.args).map(([name, value]) => {
    values.push(typeof value === 'object' && value !== null ? JSON.stringify(value) : value);
    return `${quoteIdentifier(name)} => $${values.length}`;
  });
  const call = `${quoteIdentifier(plan.schema)}.${quoteIdentifier(plan.name)}(${args.join(', ')})`;
  if (signature.set === true || signature.kind === 'c') {
    const { rows } = await client.query(
      `SELECT coalesce(json_agg(row_to_json(r)), '[]'::json) AS result FROM ${call} r`,
      values,
    );
    return { status: 200, body: rows[0]?.result ?? [] };
  }
  const { rows } = await client.query(`SELECT to_json(${call}) AS result`, values);
  if (signature.void === true) return { status: 204, body: undefined };
  return { status: 200, body: rows[0]?.result ?? null };
}
