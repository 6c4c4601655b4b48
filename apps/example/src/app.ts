import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CircuitOpenError,
  type Disposable,
  EnhancedPoolError,
  InvalidOptionError,
  numberOption,
  redactSecrets,
  toDisposable,
} from '@enhanced-pool/core';
import { classifyPgError } from '@enhanced-pool/driver-pg';
import { registerBreakerMetrics, registerPoolMetrics } from '@enhanced-pool/metrics/prometheus';
import type { PoolStats } from '@enhanced-pool/pool';
import type { FaultProxy, PostgresServer } from '@enhanced-pool/testing';
import { Registry } from 'prom-client';
import { DASHBOARD_HTML } from './dashboard.js';
import {
  createEventLog,
  createThrottledLog,
  type EventLog,
  type LoggedEvent,
  type ThrottledLog,
} from './event-log.js';
import { RESILIENCE_OPTIONS } from './example-pool.js';
import {
  createFaults,
  FAULT_NAMES,
  FaultError,
  type FaultName,
  type FaultParameters,
  type Faults,
  type FaultsStatus,
} from './faults.js';
import { intervalPercentiles } from './interval-percentiles.js';
import {
  createLoadGenerator,
  errorCode,
  type LoadGenerator,
  type LoadStatus,
} from './load-generator.js';
import {
  importMolecules,
  listMolecules,
  type MoleculesPool,
  moleculeTraffic,
  parseImport,
  parseLimit,
} from './molecules.js';
import {
  type BreakerStateChange,
  breakerState,
  type HealthReportView,
  lastHealthReport,
  onBreakerStateChange,
  onOptionalPoolEvent,
  type PoolFeatures,
  type ProbeView,
  poolFeatures,
  probePool,
  runHealthCheck,
} from './pool-view.js';

/** Hosts the service may listen on: it injects faults into a database, so never beyond loopback. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '::1', 'localhost']);

/** Largest request body accepted (the API takes small JSON objects only). */
const MAX_BODY_BYTES = 16 * 1024;

/** An SSE client this far behind is cut off rather than buffered without bound. */
const MAX_SSE_BACKLOG_BYTES = 1024 * 1024;

/** Options of {@link createApp}. */
export interface AppOptions {
  /** The pool the service runs its queries through. The app never closes it. */
  readonly pool: MoleculesPool;
  /** The database server, for the faults only a real server can do and the header. */
  readonly server: PostgresServer;
  /** The fault proxy between the pool and the server. The app never closes it. */
  readonly proxy: FaultProxy;
  /** The pool's `application_name`, so `terminate-*` ends only this service's backends. */
  readonly applicationName: string;
  /**
   * Where to listen. Loopback only: `127.0.0.1`, `::1` or `localhost`.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * How often the figures are sampled, kept for the charts and pushed to Server-Sent Events
   * clients.
   * @default 1_000
   */
  readonly snapshotIntervalMs?: number;
  /**
   * Most load-generator workers `POST /api/load` accepts.
   * @default 64
   */
  readonly maxWorkers?: number;
  /**
   * How long the `restart` fault keeps the server down.
   * @default 3_000
   */
  readonly restartDowntimeMs?: number;
  /**
   * The event log to record into (e.g. shared with `main` for start-up lines).
   * @default a new log of 500 events
   */
  readonly events?: EventLog;
}

/** Where the database is, secret-free: no connection string, no password. */
export interface DatabaseView {
  readonly kind: PostgresServer['kind'];
  readonly address: string;
  readonly database: string;
  readonly user: string;
}

/** How far back `/api/stats` returns {@link HistoryPoint}s. */
const HISTORY_MS = 60_000;

/**
 * One sample of the charts' figures, taken every `snapshotIntervalMs`. `ok` and `errors` are the
 * load generator's running totals; the dashboard turns them into rates.
 */
export interface HistoryPoint {
  /** Wall-clock time (epoch ms). */
  readonly t: number;
  readonly size: number;
  readonly active: number;
  readonly idle: number;
  readonly pending: number;
  /** The adaptive sizer's target size. */
  readonly target: number;
  /**
   * Share of the pool's connection time spent leased since the last sample (0 to 1): the
   * figure the sizer steers toward `targetUtilization`.
   */
  readonly utilization: number;
  /** Acquire wait percentiles of the leases handed out since the last sample; null: none. */
  readonly waitP50Ms: number | null;
  readonly waitP99Ms: number | null;
  readonly ok: number;
  readonly errors: number;
  /** The connection breaker's state at the sample. */
  readonly breaker: string;
  /**
   * The health checks that finished since the last sample: `unhealthy` if any was, `healthy`
   * if all were, `null` if none finished.
   */
  readonly health: 'healthy' | 'unhealthy' | null;
}

/** What the sizer aims for, so the charts can draw it. */
export interface SizingView {
  readonly targetUtilization: number;
}

/** What `/api/stats` and every Server-Sent Events `snapshot` carry. */
export interface Snapshot {
  /** Wall-clock time of the snapshot (epoch ms). */
  readonly at: number;
  readonly uptimeMs: number;
  readonly pool: PoolStats;
  readonly features: PoolFeatures;
  readonly breaker: { readonly state: string };
  readonly health: {
    readonly lastReport: HealthReportView | undefined;
    /** How long ago the last check finished, on the pool's clock (the system clock here). */
    readonly ageMs: number | undefined;
  };
  readonly probes: ProbeView;
  readonly sizing: SizingView;
  readonly database: DatabaseView;
  readonly faults: FaultsStatus;
  readonly load: LoadStatus;
}

/** The example service: HTTP API, dashboard, load generator and faults around one pool. */
export interface App {
  /**
   * Starts listening on `port` (0 picks a free one) and resolves with the address. Resolves
   * once; a second call rejects.
   */
  listen(port?: number): Promise<{ readonly url: string; readonly port: number }>;
  /**
   * Stops the load (waiting for operations in flight), ends every SSE stream, closes the HTTP
   * server and its connections, and unsubscribes from the pool. Idempotent. The pool and the
   * database server are the caller's to close.
   */
  close(): Promise<void>;
  /** The current figures, as `/api/stats` returns them (without `events` and `history`). */
  snapshot(): Snapshot;
  readonly events: EventLog;
  readonly load: LoadGenerator;
  readonly faults: Faults;
}

/** An HTTP error with the status the API answers and a stable code for clients. */
class HttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

/** Creates the service around an existing pool and server. Nothing listens until `listen()`. */
export function createApp(options: AppOptions): App {
  const { pool, server, applicationName } = options;
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new InvalidOptionError('host', host, 'a loopback host: 127.0.0.1, ::1 or localhost');
  }
  const snapshotIntervalMs = numberOption('snapshotIntervalMs', options.snapshotIntervalMs, 1_000, {
    min: 50,
    max: 60_000,
  });
  const events = options.events ?? createEventLog();
  const faults = createFaults({
    proxy: options.proxy,
    server,
    applicationName,
    events,
    ...(options.restartDowntimeMs === undefined
      ? {}
      : { restartDowntimeMs: options.restartDowntimeMs }),
  });
  const load = createLoadGenerator({
    operation: moleculeTraffic(pool),
    classify: callerErrorCode,
    ...(options.maxWorkers === undefined ? {} : { maxWorkers: options.maxWorkers }),
  });
  const database: DatabaseView = {
    kind: server.kind,
    address: `${server.host}:${server.port}`,
    database: server.database,
    user: server.user,
  };
  const startedAt = performance.now();
  const subscriptions: Disposable[] = [];
  const sseClients = new Set<ServerResponse>();
  let httpServer: Server | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  let lastErrorsByCode: Readonly<Record<string, number>> = {};
  let lastErrorsAt = Date.now();
  /** The last minute of figures, so a dashboard opened after a fault still shows it. */
  const history: HistoryPoint[] = [];
  const historyLength = Math.ceil(HISTORY_MS / snapshotIntervalMs) + 1;

  const snapshot = (): Snapshot => {
    const lastReport = lastHealthReport(pool);
    return {
      at: Date.now(),
      uptimeMs: Math.round(performance.now() - startedAt),
      pool: pool.getStats(),
      features: poolFeatures(pool),
      breaker: { state: breakerState(pool) },
      health: {
        lastReport,
        ageMs:
          lastReport === undefined
            ? undefined
            : Math.max(
                0,
                Math.round(performance.now() - lastReport.startedAt - lastReport.durationMs),
              ),
      },
      probes: probePool(pool),
      sizing: { targetUtilization: RESILIENCE_OPTIONS.targetUtilization },
      database,
      faults: faults.status(),
      load: load.status(),
    };
  };

  const throttled = createThrottledLog(events);
  subscribeToPool(pool, throttled, events, subscriptions);

  // Prometheus: the pool's and its breaker's figures, read at scrape time.
  const registry = new Registry();
  subscriptions.push(registerPoolMetrics(pool, registry));
  if (pool.connCircuitBreaker !== undefined) {
    subscriptions.push(
      registerBreakerMetrics(pool.connCircuitBreaker, registry, { name: pool.getStats().name }),
    );
  }

  /** Health checks finished since the last sample, for the timeline. */
  let checksHealthy = 0;
  let checksUnhealthy = 0;
  subscriptions.push(
    onOptionalPoolEvent<HealthReportView>(pool, 'healthCheck', (report) => {
      if (report.healthy) checksHealthy += 1;
      else checksUnhealthy += 1;
    }),
  );
  let previousStats: PoolStats | undefined;
  let previousAt = performance.now();

  const writeSse = (response: ServerResponse, type: string, data: unknown): void => {
    if (response.writableLength > MAX_SSE_BACKLOG_BYTES) {
      response.destroy();
      sseClients.delete(response);
      return;
    }
    response.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  subscriptions.push(
    toDisposable(
      events.subscribe((event: LoggedEvent) => {
        for (const client of sseClients) writeSse(client, 'event', event);
      }),
    ),
  );

  const tick = (): void => {
    const data = snapshot();
    const stats = data.pool;
    const now = performance.now();
    const wait = intervalPercentiles(previousStats?.acquireWaitSeconds, stats.acquireWaitSeconds);
    // Leased seconds of the leases that ended, over the connection seconds the pool held.
    const leasedSeconds = stats.useSeconds.sumSeconds - (previousStats?.useSeconds.sumSeconds ?? 0);
    const heldSeconds = ((now - previousAt) / 1_000) * Math.max(stats.poolSize, 1);
    const fromLeases = heldSeconds > 0 ? leasedSeconds / heldSeconds : 0;
    const instant = stats.poolSize > 0 ? stats.activeConnections / stats.poolSize : 0;
    // Long leases end after the interval they filled: the instant figure keeps them visible.
    const utilization = Math.min(1, Math.max(fromLeases, instant));
    previousStats = stats;
    previousAt = now;
    history.push({
      t: data.at,
      size: stats.poolSize,
      active: stats.activeConnections,
      idle: stats.idleConnections,
      pending: stats.pending,
      target: stats.targetSize,
      utilization: Math.round(utilization * 1_000) / 1_000,
      waitP50Ms: wait.p50Ms === null ? null : Math.round(wait.p50Ms * 100) / 100,
      waitP99Ms: wait.p99Ms === null ? null : Math.round(wait.p99Ms * 100) / 100,
      ok: data.load.ok,
      errors: data.load.errors,
      breaker: data.breaker.state,
      health: checksUnhealthy > 0 ? 'unhealthy' : checksHealthy > 0 ? 'healthy' : null,
    });
    checksHealthy = 0;
    checksUnhealthy = 0;
    if (history.length > historyLength) history.shift();
    // Callers' errors, summed over a second, so an outage reads as a few lines, not thousands.
    if (data.at - lastErrorsAt >= 1_000) {
      const current = data.load.errorsByCode;
      const fresh = Object.entries(current)
        .map(([code, total]) => [code, total - (lastErrorsByCode[code] ?? 0)] as const)
        .filter(([, count]) => count > 0);
      if (fresh.length > 0) {
        const seconds = ((data.at - lastErrorsAt) / 1_000).toFixed(1);
        const list = fresh.map(([code, count]) => `${count} × ${code}`).join(', ');
        events.log('callers', 'error', `callers got ${list} in ${seconds} s`);
      }
      lastErrorsByCode = current;
      lastErrorsAt = data.at;
    }
    throttled.flush();
    const point = history[history.length - 1];
    for (const client of sseClients) writeSse(client, 'snapshot', { ...data, point });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    checkHost(request);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const route = `${request.method ?? 'GET'} ${url.pathname}`;
    const controller = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) controller.abort(new Error('client went away'));
    });
    const { signal } = controller;

    switch (route) {
      case 'GET /':
      case 'GET /index.html':
        response.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // Nothing may be fetched from anywhere else: uPlot comes from this server.
          'content-security-policy':
            "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        });
        response.end(DASHBOARD_HTML);
        return;
      case 'GET /assets/uPlot.iife.min.js':
      case 'GET /assets/uPlot.min.css': {
        const file = url.pathname.slice('/assets/'.length);
        const type = file.endsWith('.css') ? 'text/css' : 'text/javascript';
        response.writeHead(200, {
          'content-type': `${type}; charset=utf-8`,
          'cache-control': 'public, max-age=3600',
        });
        response.end(await uplotAsset(file));
        return;
      }
      case 'GET /healthz':
      case 'GET /livez': {
        const { live } = probePool(pool);
        sendJson(response, live ? 200 : 503, { live });
        return;
      }
      case 'GET /readyz': {
        const { ready, reasons } = probePool(pool);
        sendJson(response, ready ? 200 : 503, { ready, reasons });
        return;
      }
      case 'GET /metrics': {
        const text = await registry.metrics();
        response.writeHead(200, {
          'content-type': registry.contentType,
          'cache-control': 'no-store',
        });
        response.end(text);
        return;
      }
      case 'GET /api/stats':
        sendJson(response, 200, { ...snapshot(), events: events.recent(), history });
        return;
      case 'GET /api/events':
        openEventStream(response);
        return;
      case 'GET /molecules': {
        const limit = parseLimit(url.searchParams.get('limit'));
        sendJson(response, 200, { molecules: await listMolecules(pool, { limit, signal }) });
        return;
      }
      case 'POST /molecules': {
        const molecules = parseImport(await readJson(request));
        sendJson(response, 201, {
          molecules: await importMolecules(pool, molecules, { signal }),
        });
        return;
      }
      case 'GET /api/load':
        sendJson(response, 200, load.status());
        return;
      case 'POST /api/load': {
        const body = await readJson(request);
        const workers = (body as { workers?: unknown } | null)?.workers;
        load.setWorkers(workers as number);
        events.log('load', 'info', `load: ${load.status().workers} workers`);
        sendJson(response, 200, load.status());
        return;
      }
      case 'POST /api/health-check': {
        await readJson(request);
        const report = await runHealthCheck(pool, { signal });
        if (report === undefined) {
          throw new HttpError(501, 'NOT_SUPPORTED', 'This pool build has no health checker');
        }
        sendJson(response, 200, report);
        return;
      }
    }

    const fault = url.pathname.startsWith('/api/faults/')
      ? (url.pathname.slice('/api/faults/'.length) as FaultName)
      : undefined;
    if (fault !== undefined && FAULT_NAMES.includes(fault)) {
      if (request.method !== 'POST') throw methodNotAllowed('POST');
      const body = await readJson(request);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpError(400, 'INVALID_BODY', 'Send a JSON object, e.g. { "seconds": 5 }');
      }
      const result = await faults.inject(fault, body as FaultParameters);
      sendJson(response, 200, { fault, result: result ?? null, status: faults.status() });
      return;
    }
    const known = KNOWN_PATHS.get(url.pathname);
    if (known !== undefined) throw methodNotAllowed(known);
    throw new HttpError(404, 'NOT_FOUND', `No route for ${url.pathname}`);
  };

  const openEventStream = (response: ServerResponse): void => {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write('retry: 1000\n\n');
    sseClients.add(response);
    response.on('close', () => sseClients.delete(response));
    writeSse(response, 'snapshot', snapshot());
  };

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => sendError(response, error));
  };

  return {
    events,
    load,
    faults,
    snapshot,
    async listen(port = 0) {
      if (httpServer !== undefined) throw new Error('listen() was already called');
      if (closing !== undefined) throw new Error('the app is closed');
      numberOption('port', port, 0, { min: 0, max: 65_535, integer: true });
      const created = createServer(onRequest);
      httpServer = created;
      created.listen(port, host);
      await once(created, 'listening');
      ticker = setInterval(tick, snapshotIntervalMs);
      ticker.unref();
      const address = created.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { url: `http://${shown}:${address.port}/`, port: address.port };
    },
    close() {
      closing ??= (async () => {
        if (ticker !== undefined) clearInterval(ticker);
        faults.close();
        for (const subscription of subscriptions.splice(0)) subscription.dispose();
        for (const client of sseClients) client.end();
        sseClients.clear();
        const stoppedLoad = load.stop();
        const created = httpServer;
        if (created?.listening) {
          const closed = once(created, 'close');
          created.close();
          created.closeIdleConnections();
          await stoppedLoad;
          // Requests still running (a fault, a query) have had the load's time to finish.
          created.closeAllConnections();
          await closed;
        } else {
          await stoppedLoad;
        }
      })();
      return closing;
    },
  };
}

const requireFromHere = createRequire(import.meta.url);
const assets = new Map<string, Promise<Buffer>>();

/** uPlot's browser build, read once from the app's own dependency: no CDN. */
function uplotAsset(file: string): Promise<Buffer> {
  let asset = assets.get(file);
  if (asset === undefined) {
    asset = readFile(requireFromHere.resolve(`uplot/dist/${file}`));
    assets.set(file, asset);
  }
  return asset;
}

/** Paths and the one method each accepts, for a 405 that says which. */
const KNOWN_PATHS: ReadonlyMap<string, string> = new Map([
  ['/', 'GET'],
  ['/index.html', 'GET'],
  ['/livez', 'GET'],
  ['/healthz', 'GET'],
  ['/readyz', 'GET'],
  ['/metrics', 'GET'],
  ['/molecules', 'GET, POST'],
  ['/api/stats', 'GET'],
  ['/api/events', 'GET'],
  ['/api/load', 'GET, POST'],
  ['/api/health-check', 'POST'],
]);

function methodNotAllowed(allowed: string): HttpError {
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `Use ${allowed}`);
}

/**
 * Refuses a `Host` that is not loopback, so a web page can't reach the fault buttons through
 * DNS rebinding.
 */
function checkHost(request: IncomingMessage): void {
  const header = request.headers.host ?? '';
  const hostname = header.startsWith('[')
    ? header.slice(1, header.indexOf(']'))
    : (header.split(':')[0] ?? '');
  if (!LOOPBACK_HOSTS.has(hostname)) {
    throw new HttpError(421, 'MISDIRECTED_REQUEST', 'Only loopback host names are served');
  }
}

/**
 * Reads a small JSON body. A POST must say `Content-Type: application/json`: a browser can't
 * send that cross-site without a CORS preflight, which this server never grants, so another
 * site can't press the fault buttons. An empty body reads as `{}`.
 */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send Content-Type: application/json');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new HttpError(
        413,
        'PAYLOAD_TOO_LARGE',
        `Bodies are limited to ${MAX_BODY_BYTES} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'The body is not valid JSON');
  }
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

/** Error codes the pool raises when it can't serve right now: the client may retry. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'ACQUIRE_TIMEOUT',
  'POOL_EXHAUSTED',
  'POOL_CLOSED',
  'CONNECT_FAILED',
  'CIRCUIT_OPEN',
]);

/** Maps an error to a status and a secret-free `{ error: { code, message } }` body. */
function sendError(response: ServerResponse, error: unknown): void {
  const message = redactSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof HttpError) {
    sendJson(response, error.status, { error: { code: error.code, message } });
    return;
  }
  if (InvalidOptionError.isInstance(error)) {
    sendJson(response, 400, {
      error: { code: error.code, message, field: error.option, allowed: error.allowed },
    });
    return;
  }
  if (error instanceof FaultError) {
    sendJson(response, error.code === 'FAULT_FAILED' ? 500 : 409, {
      error: { code: error.code, message },
    });
    return;
  }
  if (CircuitOpenError.isInstance(error)) {
    const retryAfterSeconds = Math.max(1, Math.ceil(error.retryAfterMs / 1_000));
    sendJson(
      response,
      503,
      { error: { code: error.code, message, retryAfterMs: error.retryAfterMs } },
      { 'retry-after': String(retryAfterSeconds) },
    );
    return;
  }
  if (EnhancedPoolError.isInstance(error) && UNAVAILABLE_CODES.has(error.code)) {
    sendJson(response, 503, { error: { code: error.code, message } });
    return;
  }
  const code = (error as { code?: unknown } | null)?.code;
  sendJson(response, 500, {
    error: { code: typeof code === 'string' ? code : 'INTERNAL', message },
  });
}

/**
 * How a failed caller's error is counted: its code, and for pg's errors that carry none
 * ("Connection terminated unexpectedly") the driver's classification, e.g. `Error/connection`.
 */
export function callerErrorCode(error: unknown): string {
  const code = errorCode(error);
  return code === 'Error' ? `Error/${classifyPgError(error)}` : code;
}

/**
 * Records the pool's events (and its breaker's) in the event log; disposables go in `into`.
 * Kinds that repeat during an outage (connect failures, the breaker's open ↔ half-open probing)
 * go through `throttled`, so they are summarised instead of flooding the log.
 */
function subscribeToPool(
  pool: MoleculesPool,
  throttled: ThrottledLog,
  events: EventLog,
  into: Disposable[],
): void {
  const describeError = (error: unknown): string =>
    error instanceof Error ? `: ${error.message}` : '';
  into.push(
    pool.on('connectionCreated', ({ connectionId, durationMs }) => {
      throttled.log(
        'connectionCreated',
        'connectionCreated',
        'info',
        `connection #${connectionId} opened in ${Math.round(durationMs)} ms`,
      );
    }),
    pool.on('connectionDestroyed', ({ connectionId, reason, error }) => {
      const trouble = !['idle-timeout', 'lifetime', 'max-uses', 'shrink', 'close'].includes(reason);
      throttled.log(
        `connectionDestroyed/${reason}`,
        'connectionDestroyed',
        trouble ? 'warn' : 'info',
        `connection #${connectionId} closed (${reason})${describeError(error)}`,
      );
    }),
    pool.on('acquireTimeout', ({ error }) => {
      throttled.log('acquireTimeout', 'acquireTimeout', 'error', error.message, 1);
    }),
    pool.on('connectError', ({ reason, durationMs, error }) => {
      throttled.log(
        `connectError/${reason}`,
        'connectError',
        'error',
        `connect failed after ${Math.round(durationMs)} ms (${reason})${describeError(error.cause ?? error)}`,
        1,
      );
    }),
    pool.on('leakDetected', ({ connectionId, heldMs }) => {
      throttled.log(
        'leakDetected',
        'leakDetected',
        'warn',
        `connection #${connectionId} held for ${Math.round(heldMs)} ms`,
      );
    }),
    pool.on('closed', ({ forced }) => {
      events.log('closed', 'info', `pool closed (${forced} leased connections forced)`);
    }),
    onOptionalPoolEvent<HealthReportView>(pool, 'healthCheck', (report) => {
      const acted = report.replaced + report.failed + (report.broken ?? 0) + report.expired;
      if (report.healthy && acted === 0) return;
      const figures = `checked ${report.checked}, failed ${report.failed}, broken ${report.broken ?? 0}, expired ${report.expired}, replaced ${report.replaced}`;
      throttled.log(
        'healthCheck',
        'healthCheck',
        report.healthy ? 'info' : 'warn',
        report.healthy
          ? `health check: ${figures}`
          : `health check: unhealthy (${report.reasons.join('; ')}); ${figures}`,
        2,
      );
    }),
    onOptionalPoolEvent<{ action: string; from: number; to: number; reason: string }>(
      pool,
      'resized',
      ({ action, from, to, reason }) => {
        throttled.log('resized', 'resized', 'info', `sizer: ${action} ${from} → ${to} (${reason})`);
      },
    ),
  );
  const breaker = onBreakerStateChange(pool, (change: BreakerStateChange) => {
    const level = change.to === 'closed' ? 'info' : change.to === 'half-open' ? 'warn' : 'error';
    const openFor =
      change.openDurationMs === undefined
        ? ''
        : `, open for ${Math.round(change.openDurationMs)} ms`;
    const why = change.reason === undefined ? '' : ` (${change.reason}${openFor})`;
    const message = `breaker ${change.from} → ${change.to}${why}`;
    // Probing while the database is down flips open ↔ half-open on every failed probe.
    const probing =
      (change.from === 'open' && change.to === 'half-open') ||
      (change.from === 'half-open' && change.to === 'open');
    if (probing) throttled.log('breaker/probing', 'breaker', level, message, 1);
    else events.log('breaker', level, message);
  });
  if (breaker !== undefined) into.push(breaker);
}
