import type { PostgresServer } from '@enhanced-pool/testing';
import pg from 'pg';
import { warmConnections } from './e2e.js';
import { runWorkers, sleep, withDeadline } from './measure.js';
import {
  createGenericPoolPeer,
  createOurPgPool,
  createPgCompatPool,
  createPgPoolPeer,
  createTarnPeer,
  type PgBenchPool,
  type PgBenchPoolOptions,
} from './pg-pools.js';
import type { SectionOutput } from './section.js';
import { formatMs, type Table } from './table.js';

/** Section 4: what callers see when backends die, the server restarts, or it stays down. */
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
  /** Set false to skip the restart and the stop (they need a server that can restart). @default true */
  readonly restart?: boolean;
  /** Trials of "kill idle backends, one query, then a burst of 10 at once". @default 3 */
  readonly trials?: number;
  /** How long the server stays stopped in 4d. @default 6000 */
  readonly stopMs?: number;
}

const IDLE_TITLE = '4a. Faults: errors to callers after idle backends are killed';
const RESTART_TITLE = '4b. Faults: immediate server restart under load';
const FIRST_TITLE = '4c. Faults: idle backends killed, then one query and a burst of 10 at once';
const STOP_TITLE = '4d. Faults: server stopped under load: how long callers wait for their error';
/** Callers that start this long into a stop are past enhanced-pool's default outage grace. */
const AFTER_GRACE_MS = 2_500;
const SIZE = 10;
const ACQUIRE_TIMEOUT_MS = 5_000;
/** A worker pauses this long after an error, as a caller would before its next request. */
const PAUSE_AFTER_ERROR_MS = 10;
const PROBE_INTERVAL_MS = 2;

type PoolMaker = (options: PgBenchPoolOptions) => PgBenchPool;

const PEERS: readonly { readonly name: string; readonly make: PoolMaker }[] = [
  { name: 'pg-pool 3.14.0', make: createPgPoolPeer },
  { name: 'tarn 3.1.2', make: createTarnPeer },
  { name: 'generic-pool 3.9.0', make: createGenericPoolPeer },
];
const OURS: { readonly name: string; readonly make: PoolMaker } = {
  name: 'enhanced-pool',
  make: (options) => createOurPgPool(options),
};
/** Idle kills: ours, ours with the idempotent retry, the peers. */
const IDLE_MAKERS = [
  OURS,
  {
    name: 'enhanced-pool (idempotent)',
    make: (options: PgBenchPoolOptions) => createOurPgPool(options, { idempotent: true }),
  },
  ...PEERS,
];
/**
 * Outages: ours, ours without the outage grace (fail fast as soon as the breaker opens), ours as
 * the drop-in pg.Pool with pg-pool's configuration, the peers.
 */
const OUTAGE_MAKERS = [
  OURS,
  {
    name: 'enhanced-pool (outageGraceMs 0)',
    make: (options: PgBenchPoolOptions) => createOurPgPool(options, { outageGraceMs: 0 }),
  },
  { name: 'pg-compat (drop-in pg.Pool)', make: createPgCompatPool },
  ...PEERS,
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

/** An admin connection opened beforehand, so a kill returns as soon as its signals are sent. */
async function openAdmin(connectionString: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString, application_name: 'bench-admin' });
  admin.on('error', () => {});
  await admin.connect();
  return admin;
}

async function killIdle(admin: pg.Client, applicationName: string): Promise<number> {
  const result = await admin.query<{ killed: boolean }>(
    `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
      WHERE application_name = $1 AND state = 'idle'`,
    [applicationName],
  );
  return result.rows.filter((row) => row.killed).length;
}

/**
 * `trials` times: warm the pool, let it sit idle 50 ms, kill its idle backends, then one query
 * at once, then a burst of 10 at once. Errors of the first queries and of the bursts.
 */
async function idleKillThenBurst(
  connectionString: string,
  pool: PgBenchPool,
  trials: number,
): Promise<{ first: number; burst: number; killed: number }> {
  const admin = await openAdmin(connectionString);
  let first = 0;
  let burstErrors = 0;
  let killed = 0;
  try {
    for (let trial = 0; trial < trials; trial++) {
      await warmConnections(pool, SIZE);
      await sleep(50);
      killed += await killIdle(admin, pool.applicationName);
      await pool.query('SELECT 1').catch(() => {
        first += 1;
      });
      const outcomes = await withDeadline(
        Promise.allSettled(Array.from({ length: 10 }, () => pool.query('SELECT 1'))),
        30_000,
        [],
      );
      burstErrors += outcomes.filter((outcome) => outcome.status === 'rejected').length;
    }
  } finally {
    await withDeadline(admin.end(), 1_000, undefined);
  }
  return { first, burst: burstErrors, killed };
}

interface StopFigures {
  readonly errors: number;
  /**
   * Calls that started past the grace and before the server was started again: milliseconds to
   * their outcome (an error, or success once the server was back), and how many failed.
   */
  readonly waitsAfterGrace: readonly number[];
  readonly failedAfterGrace: number;
  readonly connectAttempts: number;
  readonly recoveredMs: number;
}

/** 16 workers query while the server is stopped for `stopMs`; how long each caller waited to fail. */
async function stopUnderLoad(
  server: Pick<PostgresServer, 'kill' | 'start' | 'connectionString'>,
  pool: PgBenchPool,
  workersCount: number,
  stopMs: number,
): Promise<StopFigures> {
  await warmConnections(pool, SIZE);
  let stop = false;
  let killedAt = Number.POSITIVE_INFINITY;
  let startedAt = Number.POSITIVE_INFINITY;
  let startCalledAt = Number.POSITIVE_INFINITY;
  let firstSuccessAfterStart = Number.NaN;
  const failures: { startedAt: number; ms: number }[] = [];
  const lateCalls: { startedAt: number; ms: number; failed: boolean }[] = [];
  const workers = runWorkers(workersCount, async () => {
    while (!stop) {
      const callAt = performance.now();
      const late = callAt >= killedAt + AFTER_GRACE_MS && callAt < startCalledAt;
      try {
        await pool.query('SELECT 1');
        if (late)
          lateCalls.push({ startedAt: callAt, ms: performance.now() - callAt, failed: false });
        if (callAt > startedAt && Number.isNaN(firstSuccessAfterStart)) {
          firstSuccessAfterStart = performance.now();
        }
      } catch {
        const ms = performance.now() - callAt;
        if (callAt >= killedAt) failures.push({ startedAt: callAt, ms });
        if (late) lateCalls.push({ startedAt: callAt, ms, failed: true });
        await sleep(PAUSE_AFTER_ERROR_MS);
      }
    }
  });
  await sleep(200);
  const attemptsBefore = pool.connectAttempts();
  killedAt = performance.now();
  await server.kill();
  await sleep(stopMs);
  startCalledAt = performance.now();
  await server.start();
  startedAt = performance.now();
  await sleep(1_000);
  stop = true;
  await withDeadline(workers, ACQUIRE_TIMEOUT_MS * 2, undefined);
  return {
    errors: failures.length,
    waitsAfterGrace: lateCalls.map((call) => call.ms),
    failedAfterGrace: lateCalls.filter((call) => call.failed).length,
    connectAttempts: pool.connectAttempts() - attemptsBefore,
    recoveredMs: firstSuccessAfterStart - startedAt,
  };
}

function percentileOf(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
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
  server: Pick<PostgresServer, 'connectionString' | 'restart' | 'kill' | 'start' | 'capabilities'>,
  options: FaultBenchOptions = {},
): Promise<SectionOutput> {
  const waits = options.idleKillWaitsMs ?? [0, 20, 250];
  const total = options.burst ?? 30;
  const workers = options.workers ?? 16;
  const downtimeMs = options.downtimeMs ?? 1_000;
  const observeAfterMs = options.observeAfterMs ?? 2_000;
  const trials = options.trials ?? 3;
  const stopMs = options.stopMs ?? 6_000;
  const withRestart = (options.restart ?? true) && server.capabilities.restart;

  const idleRows: string[][] = [];
  const firstRows: string[][] = [];
  const restartRows: string[][] = [];
  const stopRows: string[][] = [];
  const configurations: string[] = [];
  const outageConfigurations: string[] = [];
  const poolOptions = (tag: string): PgBenchPoolOptions => ({
    connectionString: server.connectionString,
    size: SIZE,
    acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
    tag,
  });

  // Every idle-kill cell first, then the restarts: a restart ends every connection on the server.
  for (const [index, maker] of IDLE_MAKERS.entries()) {
    const cells: string[] = [];
    for (const waitMs of waits) {
      const pool = maker.make(poolOptions(`idle-${index}-${waitMs}`));
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

    const pool = maker.make(poolOptions(`first-${index}`));
    try {
      const {
        first,
        burst: burstErrors,
        killed,
      } = await idleKillThenBurst(server.connectionString, pool, trials);
      firstRows.push([
        maker.name,
        `${first} / ${trials}`,
        `${burstErrors} / ${trials * 10}`,
        `${first + burstErrors} / ${trials * 11}`,
        String(killed),
      ]);
    } finally {
      await pool.close();
    }
  }
  for (const [index, maker] of (withRestart ? OUTAGE_MAKERS : []).entries()) {
    const pool = maker.make(poolOptions(`restart-${index}`));
    outageConfigurations.push(`${maker.name}: ${pool.configuration}`);
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
  for (const [index, maker] of (withRestart ? OUTAGE_MAKERS : []).entries()) {
    const pool = maker.make(poolOptions(`stop-${index}`));
    try {
      const figures = await stopUnderLoad(server, pool, workers, stopMs);
      const waits = figures.waitsAfterGrace;
      stopRows.push([
        maker.name,
        String(figures.errors),
        `${figures.failedAfterGrace} / ${waits.length}`,
        formatMs(percentileOf(waits, 0.5)),
        formatMs(percentileOf(waits, 0.99)),
        String(figures.connectAttempts),
        Number.isNaN(figures.recoveredMs) ? 'no success' : formatMs(figures.recoveredMs),
      ]);
    } finally {
      await pool.close();
    }
  }

  const configurationNote = `Configurations: ${configurations.join('; ')}.`;
  const idleTable: Table = {
    title: IDLE_TITLE,
    headers: ['pool', ...waits.map((waitMs) => `errors, burst ${waitMs} ms after the kill`)],
    rows: idleRows,
    notes: [
      `Method: a fresh pool of ${SIZE} per cell opens ${SIZE} connections (${SIZE} statements at once), which then sit idle 50 ms; \`pg_terminate_backend()\` on every idle backend with the pool's application_name, from an admin connection (it returns once the signals are sent, not once the backends are gone); after the wait, ${total} \`SELECT 1\` run through the pool with ${workers} workers and every rejected call is counted.`,
      `At 0 ms the ${workers} workers take all ${SIZE} connections in the same instant, before any statement has failed: a pool can only retry what failed (enhanced-pool with \`idempotent: true\`). 4c is the case where one caller comes first.`,
      configurationNote,
    ],
  };
  const firstTable: Table = {
    title: FIRST_TITLE,
    headers: [
      'pool',
      'first query fails',
      'burst of 10 right after: errors',
      'errors in all',
      'backends killed',
    ],
    rows: firstRows,
    notes: [
      `Method: ${trials} trials on one pool of ${SIZE}: ${SIZE} statements at once (every connection used), 50 ms idle (well within enhanced-pool's \`validateAfterIdleMs\` 500, so nothing is validated for age), \`pg_terminate_backend()\` on the idle backends from an admin connection opened beforehand (it returns once the signals are sent), then one \`SELECT 1\` at once, then 10 at once; every rejected call is counted.`,
      'enhanced-pool: a connection that fails with a connection-class error (or is found broken) makes the idle connections suspect, so each is validated before its next hand-out and replaced if dead; with `idempotent: true` the first query is also run again on a validated or new connection.',
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
          `"Accepting" comes from a separate probe: a connected client notices the kill, then a fresh connect every ${PROBE_INTERVAL_MS} ms; the server counts as accepting from the start of the first attempt that succeeds. The figure is the first successful statement (started after the kill) minus that moment, so it includes the pool's own connect and the statement, and the server's own slowness right after a crash (its first connections take tens of ms while it finishes recovery); "≤ ${PROBE_INTERVAL_MS}" (the raw, possibly negative, figure in brackets) means the pool got through as soon as the probe did.`,
          `Every acquire is bounded by ${ACQUIRE_TIMEOUT_MS} ms (pg-pool: connectionTimeoutMillis). Configurations: ${outageConfigurations.join('; ')}.`,
          "enhanced-pool holds a caller that needs a new connection for the breaker's next probe during the first `outageGraceMs` (2 000 ms) of an outage, when the probe is due within its deadline, so a short restart costs only the statements in flight; with `outageGraceMs: 0` it refuses callers at once while the breaker is open, and its error count grows with how often callers retry during the downtime. tarn and generic-pool hold callers until the server is back or their acquire timeout passes, whatever the outage's length (see 4d).",
        ]
      : ['not available: this server cannot restart (external or embedded PostgreSQL).'],
  };
  const stopTable: Table = {
    title: STOP_TITLE,
    headers: [
      'pool',
      'errors to callers',
      `calls started ${AFTER_GRACE_MS} ms or more into the stop: failed / all`,
      'their wait for an outcome, p50 ms',
      'p99 ms',
      'connect attempts',
      'ms from start() to first success',
    ],
    rows: withRestart ? stopRows : [],
    notes: withRestart
      ? [
          `Method: ${workers} workers loop \`SELECT 1\` through a warmed pool of ${SIZE} (each pauses ${PAUSE_AFTER_ERROR_MS} ms after an error); 200 ms in, \`server.kill()\` (an immediate stop), ${stopMs} ms down, \`server.start()\`, workers stop 1 000 ms later. The wait columns are for calls that started at least ${AFTER_GRACE_MS} ms after the kill and before \`start()\` was called: how long each took to settle (an error, or a success once the server was back), which is what a caller sees once the outage is clearly not a blip.`,
          `Every acquire is bounded by ${ACQUIRE_TIMEOUT_MS} ms. A pool that holds callers during a long outage makes each wait up to its timeout (and the caller's own caller with it); enhanced-pool refuses them in well under a millisecond once the outage is older than \`outageGraceMs\`.`,
        ]
      : ['not available: this server cannot restart (external or embedded PostgreSQL).'],
  };
  return [idleTable, firstTable, restartTable, stopTable];
}
