import type { PostgresServer } from '@enhanced-pool/testing';
import pg from 'pg';
import { warmConnections } from './e2e.js';
import { runWorkers, sleep, withDeadline } from './measure.js';
import {
  createGenericPoolPeer,
  createOurPgPool,
  createPgPoolPeer,
  createTarnPeer,
  type PgBenchPool,
  type PgBenchPoolOptions,
} from './pg-pools.js';
import type { SectionOutput } from './section.js';
import { formatMs, type Table } from './table.js';

/** Section 4 (issue 4): what callers see when backends die or the server restarts. */
export interface FaultBenchOptions {
  /** Waits between killing idle backends and the burst. @default [0, 20, 250] */
  readonly idleKillWaitsMs?: readonly number[];
  /** Queries in each burst. @default 30 */
  readonly burst?: number;
  /** Concurrent workers in bursts and during the restart. @default 16 */
  readonly workers?: number;
  /** How long the server stays down. @default 1000 */
  readonly downtimeMs?: number;
  /** How long workers keep going after the restart returned. @default 2000 */
  readonly observeAfterMs?: number;
  /** Set false to skip the restart (it needs a server that can restart). @default true */
  readonly restart?: boolean;
}

const IDLE_TITLE = '4a. Faults: errors to callers after idle backends are killed';
const RESTART_TITLE = '4b. Faults: immediate server restart under load';
const SIZE = 10;
const ACQUIRE_TIMEOUT_MS = 5_000;
/** A worker pauses this long after an error, as a caller would before its next request. */
const PAUSE_AFTER_ERROR_MS = 10;
const PROBE_INTERVAL_MS = 2;

type PoolMaker = (options: PgBenchPoolOptions) => PgBenchPool;

const MAKERS: readonly { readonly name: string; readonly make: PoolMaker }[] = [
  { name: 'enhanced-pool', make: createOurPgPool },
  { name: 'pg-pool 3.14.0', make: createPgPoolPeer },
  { name: 'tarn 3.1.2', make: createTarnPeer },
  { name: 'generic-pool 3.9.0', make: createGenericPoolPeer },
];

/** Runs `total` statements with `workers` loops; counts the ones that reject. */
async function burst(pool: PgBenchPool, total: number, workers: number): Promise<number> {
  let started = 0;
  let errors = 0;
  await runWorkers(workers, async () => {
    while (started < total) {
      started += 1;
      try {
        await pool.query('SELECT 1');
      } catch {
        errors += 1;
      }
    }
  });
  return errors;
}

/**
 * Idle backends of a warmed pool terminated, then a burst after `waitMs`: errors seen.
 *
 * The kill is `pg_terminate_backend()` on an admin connection opened beforehand, which returns
 * as soon as the signals are sent. The burst at "0 ms" therefore starts while the pool's sockets
 * may not have delivered the news yet: the case that hands dead connections to callers.
 * (`server.terminateBackends()` waits until the backends are gone; that wait lets every client
 * notice first and would hide the 0 ms case.)
 */
async function idleKill(
  connectionString: string,
  pool: PgBenchPool,
  waitMs: number,
  total: number,
  workers: number,
): Promise<{ killed: number; errors: number }> {
  const admin = new pg.Client({ connectionString, application_name: 'bench-admin' });
  admin.on('error', () => {});
  await admin.connect();
  try {
    await warmConnections(pool, SIZE);
    await sleep(50);
    const result = await admin.query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
        WHERE application_name = $1 AND state = 'idle'`,
      [pool.applicationName],
    );
    if (waitMs > 0) await sleep(waitMs);
    const errors = await withDeadline(burst(pool, total, workers), 30_000, Number.NaN);
    return { killed: result.rows.filter((row) => row.killed).length, errors };
  } finally {
    await withDeadline(admin.end(), 1_000, undefined);
  }
}

/**
 * Watches the server from outside the pools: a connected client notices the kill (its socket
 * ends; `onDown` fires), then a fresh connect every 2 ms finds when the server accepts again:
 * the start of the first attempt that succeeds.
 */
async function watchRestart(
  connectionString: string,
  deadlineMs: number,
  onDown: (at: number) => void,
): Promise<() => Promise<number>> {
  const watcher = new pg.Client({ connectionString, application_name: 'bench-probe' });
  await watcher.connect();
  const down = new Promise<void>((resolve) => {
    const noticed = (): void => {
      onDown(performance.now());
      resolve();
    };
    watcher.once('error', noticed);
    watcher.once('end', noticed);
  });
  watcher.on('error', () => {});
  return async () => {
    const deadline = performance.now() + deadlineMs;
    await withDeadline(down, deadlineMs, undefined);
    while (performance.now() < deadline) {
      const probe = new pg.Client({
        connectionString,
        application_name: 'bench-probe',
        connectionTimeoutMillis: 1_000,
      });
      probe.on('error', () => {});
      // The server was accepting when the attempt that succeeds began.
      const attemptAt = performance.now();
      try {
        await probe.connect();
        await withDeadline(probe.end(), 1_000, undefined);
        return attemptAt;
      } catch {
        await sleep(PROBE_INTERVAL_MS);
      }
    }
    return Number.NaN;
  };
}

interface RestartFigures {
  readonly errors: number;
  /** Of `errors`, the callers refused at once by an open breaker (code `CIRCUIT_OPEN`). */
  readonly failedFast: number;
  readonly connectAttempts: number;
  readonly recoveryMs: number;
  readonly successes: number;
}

/** 16 workers query while the server restarts; what the callers saw and what the pool did. */
async function restartUnderLoad(
  server: Pick<PostgresServer, 'restart' | 'connectionString'>,
  pool: PgBenchPool,
  options: Required<Pick<FaultBenchOptions, 'workers' | 'downtimeMs' | 'observeAfterMs'>>,
): Promise<RestartFigures> {
  await warmConnections(pool, SIZE);
  let stop = false;
  let errors = 0;
  let failedFast = 0;
  let successes = 0;
  let downAt = Number.POSITIVE_INFINITY;
  let firstSuccessAfterDown = Number.NaN;
  const workers = runWorkers(options.workers, async () => {
    while (!stop) {
      const startedAt = performance.now();
      try {
        await pool.query('SELECT 1');
        successes += 1;
        // Only a statement started after the kill proves the pool reached the new server.
        if (startedAt > downAt && Number.isNaN(firstSuccessAfterDown)) {
          firstSuccessAfterDown = performance.now();
        }
      } catch (error) {
        errors += 1;
        if ((error as { code?: unknown } | undefined)?.code === 'CIRCUIT_OPEN') failedFast += 1;
        await sleep(PAUSE_AFTER_ERROR_MS);
      }
    }
  });
  await sleep(200);
  const attemptsBefore = pool.connectAttempts();
  const errorsBefore = errors;
  const failedFastBefore = failedFast;
  const probe = await watchRestart(server.connectionString, options.downtimeMs + 30_000, (at) => {
    downAt = at;
  });
  const accepted = probe();
  await server.restart({ mode: 'immediate', downtimeMs: options.downtimeMs });
  const acceptAt = await accepted;
  await sleep(options.observeAfterMs);
  stop = true;
  await withDeadline(workers, ACQUIRE_TIMEOUT_MS * 2, undefined);
  return {
    errors: errors - errorsBefore,
    failedFast: failedFast - failedFastBefore,
    connectAttempts: pool.connectAttempts() - attemptsBefore,
    recoveryMs: firstSuccessAfterDown - acceptAt,
    successes,
  };
}

/** Runs section 4 against `server` and returns its tables. */
export async function runFaultBench(
  server: Pick<PostgresServer, 'connectionString' | 'restart' | 'capabilities'>,
  options: FaultBenchOptions = {},
): Promise<SectionOutput> {
  const waits = options.idleKillWaitsMs ?? [0, 20, 250];
  const total = options.burst ?? 30;
  const workers = options.workers ?? 16;
  const downtimeMs = options.downtimeMs ?? 1_000;
  const observeAfterMs = options.observeAfterMs ?? 2_000;
  const withRestart = (options.restart ?? true) && server.capabilities.restart;

  const idleRows: string[][] = [];
  const restartRows: string[][] = [];
  const configurations: string[] = [];
  const poolOptions = (tag: string): PgBenchPoolOptions => ({
    connectionString: server.connectionString,
    size: SIZE,
    acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
    tag,
  });

  // Every idle-kill cell first, then the restarts: a restart ends every connection on the server.
  for (const maker of MAKERS) {
    const cells: string[] = [];
    for (const waitMs of waits) {
      const pool = maker.make(poolOptions(`idle-${waitMs}`));
      if (waitMs === waits[0]) configurations.push(`${maker.name}: ${pool.configuration}`);
      try {
        const { killed, errors } = await idleKill(
          server.connectionString,
          pool,
          waitMs,
          total,
          workers,
        );
        cells.push(`${errors} / ${total} (${killed} killed)`);
      } finally {
        await pool.close();
      }
    }
    idleRows.push([maker.name, ...cells]);
  }

  for (const maker of withRestart ? MAKERS : []) {
    const pool = maker.make(poolOptions('restart'));
    try {
      const figures = await restartUnderLoad(server, pool, { workers, downtimeMs, observeAfterMs });
      const recovery = Number.isNaN(figures.recoveryMs)
        ? 'no success after the restart'
        : figures.recoveryMs <= PROBE_INTERVAL_MS
          ? `≤ ${PROBE_INTERVAL_MS} (${formatMs(figures.recoveryMs)})`
          : formatMs(figures.recoveryMs);
      restartRows.push([
        maker.name,
        String(figures.errors),
        String(figures.failedFast),
        String(figures.errors - figures.failedFast),
        String(figures.connectAttempts),
        recovery,
        String(figures.successes),
      ]);
    } finally {
      await pool.close();
    }
  }

  const idleTable: Table = {
    title: IDLE_TITLE,
    headers: ['pool', ...waits.map((waitMs) => `errors, burst ${waitMs} ms after the kill`)],
    rows: idleRows,
    notes: [
      `Method: a fresh pool of ${SIZE} per cell opens ${SIZE} connections (${SIZE} statements at once), which then sit idle 50 ms; \`pg_terminate_backend()\` on every idle backend with the pool's application_name, from an admin connection (it returns once the signals are sent, not once the backends are gone); after the wait, ${total} \`SELECT 1\` run through the pool with ${workers} workers and every rejected call is counted.`,
      `Configurations: ${configurations.join('; ')}.`,
    ],
  };
  const restartTable: Table = {
    title: RESTART_TITLE,
    headers: [
      'pool',
      'errors to callers',
      'of which refused at once (CIRCUIT_OPEN)',
      'of which failed queries or connects',
      'connect attempts',
      'ms from server accepting to first success',
      'successful queries',
    ],
    rows: withRestart ? restartRows : [],
    notes: withRestart
      ? [
          `Method: ${workers} workers loop \`SELECT 1\` through a warmed pool of ${SIZE} (each pauses ${PAUSE_AFTER_ERROR_MS} ms after an error, as a caller would before its next request); 200 ms in, \`server.restart({ mode: 'immediate', downtimeMs: ${downtimeMs} })\`; the workers stop ${observeAfterMs} ms after the server is back. Errors and connect attempts count from the restart call to the end.`,
          `"Accepting" comes from a separate probe: a connected client notices the kill, then a fresh connect every ${PROBE_INTERVAL_MS} ms; the server counts as accepting from the start of the first attempt that succeeds. The figure is the first successful statement (started after the kill) minus that moment, so it includes the pool's own connect and the statement; it is good to a few ms, and "≤ ${PROBE_INTERVAL_MS}" (the raw, possibly negative, figure in brackets) means the pool got through as soon as the probe did.`,
          `Every acquire is bounded by ${ACQUIRE_TIMEOUT_MS} ms (pg-pool: connectionTimeoutMillis).`,
          'enhanced-pool refuses callers at once while its connection breaker is open (issue 5: fail fast rather than queue behind a database that is down), so its error count grows with how often callers retry during the downtime; tarn and generic-pool instead hold callers until the server is back or their acquire timeout passes. The split columns show which errors were fast refusals and which were real failures.',
        ]
      : ['not available: this server cannot restart (external or embedded PostgreSQL).'],
  };
  return [idleTable, restartTable];
}
