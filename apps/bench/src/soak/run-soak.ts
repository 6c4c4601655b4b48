import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createPgDriver, type PgQueryResult } from '@enhanced-pool/driver-pg';
import { createPool, type Lease, type Pool, type PoolStats } from '@enhanced-pool/pool';
import {
  createFaultProxy,
  type FaultProxy,
  missingCapability,
  type PostgresServer,
  startPostgres,
} from '@enhanced-pool/testing';
import pg from 'pg';
import { describeMachine, type MachineInfo } from '../machine.js';
import { formatBytes } from '../table.js';
import { AcquireTracker } from './acquire-tracker.js';
import { AdminConnection } from './admin-connection.js';
import { classifyCallerError } from './caller-errors.js';
import { CountAgreement } from './count-agreement.js';
import { ErrorTally } from './error-tally.js';
import { describeFault, injectFault } from './fault-injector.js';
import { FAULT_KINDS, type FaultKind, planFaults } from './fault-schedule.js';
import { FaultTimeline } from './fault-timeline.js';
import { settledHeapBytes } from './heap.js';
import { LoopStalls } from './loop-stalls.js';
import { createSeededRandom } from './seeded-random.js';
import type { InvariantResult, SoakReport } from './soak-report.js';
import { countSoakTimers, settledTimerCount } from './soak-timers.js';
import { OPERATIONS, Workload } from './workload.js';
import { compareWrites, type TableContents, WriteLedger } from './write-ledger.js';

/** What a test may break on purpose, to prove the soak notices. */
export interface SoakSabotage {
  readonly pool: Pool<pg.Client, PgQueryResult>;
  /** Runs SQL straight on the server (not through the proxy or the pool). */
  query(sql: string, params?: unknown[]): Promise<unknown[]>;
}

/** Options of {@link runSoak}. */
export interface SoakOptions {
  readonly seed: number;
  /** Wall time of the run, warm-up included. */
  readonly durationMs: number;
  /** @default 10% of the duration, between 5 s and 30 s */
  readonly warmupMs?: number;
  /** @default 32 */
  readonly workers?: number;
  /** @default 10 */
  readonly poolSize?: number;
  /** The pool's `acquireTimeoutMs`. @default 2000 */
  readonly acquireTimeoutMs?: number;
  /** The connections' `statement_timeout`. @default 1000 */
  readonly statementTimeoutMs?: number;
  /** Pause between a worker's calls. @default [0, 8] */
  readonly thinkMs?: readonly [number, number];
  /** Progress lines (one per fault, one per minute). @default none */
  readonly log?: (line: string) => void;
  /** Called once the workers stopped, before anything is checked: for tests that break an invariant. */
  readonly sabotage?: (target: SoakSabotage) => Promise<void>;
}

/** The soak needs a local PostgreSQL that can be restarted and whose backends can be killed. */
export class SoakUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoakUnavailableError';
  }
}

const APPLICATION_NAME = 'enhanced-pool-soak';
const ADMIN_NAME = 'enhanced-pool-soak-admin';
/** Slack on the acquire deadline and the count agreement's limit: the issue of record's figures. */
const SETTLE_SLACK_MS = 100;
const COUNT_LIMIT_MS = 1_000;
const HEAP_LIMIT_BYTES = 10 * 1024 * 1024;
const MINUTE_MS = 60_000;
const MONITOR_PERIOD_MS = 50;
/** The longest a fault stalls statements on the wire: a partition (up to 3 s), with room for latency. */
const LONGEST_STALL_MS = 5_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the pool has nothing in flight; returns the stats then, or `undefined` after `limitMs`. */
async function quiescent(
  pool: Pool<pg.Client, PgQueryResult>,
  limitMs: number,
): Promise<PoolStats | undefined> {
  const until = performance.now() + limitMs;
  for (;;) {
    const stats = pool.getStats();
    if (
      stats.pending === 0 &&
      stats.connecting === 0 &&
      stats.activeConnections === 0 &&
      stats.breakerState === 'closed'
    ) {
      return stats;
    }
    if (performance.now() > until) return undefined;
    await sleep(20);
  }
}

async function until(
  condition: () => Promise<boolean> | boolean,
  limitMs: number,
): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started;
    if (performance.now() - started > limitMs) return undefined;
    await sleep(20);
  }
}

function ms(value: number): string {
  return `${value.toFixed(0)} ms`;
}

/**
 * Runs the soak: a pool of `poolSize` on a throwaway PostgreSQL behind a fault proxy, `workers`
 * callers, the seed's fault schedule, and every invariant checked as it goes. Resolves with the
 * report (its `ok` says whether every invariant held); rejects only when the soak could not run.
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const startedAt = performance.now();
  const now = (): number => performance.now() - startedAt;
  const log = options.log ?? (() => {});
  const workers = options.workers ?? 32;
  const poolSize = options.poolSize ?? 10;
  const acquireTimeoutMs = options.acquireTimeoutMs ?? 2_000;
  const statementTimeoutMs = options.statementTimeoutMs ?? 1_000;
  const warmupMs =
    options.warmupMs ?? Math.min(30_000, Math.max(5_000, Math.round(options.durationMs / 10)));
  const machine: MachineInfo = describeMachine();
  const timers = countSoakTimers();

  let server: PostgresServer | undefined;
  let proxy: FaultProxy | undefined;
  let admin: AdminConnection | undefined;
  let pool: Pool<pg.Client, PgQueryResult> | undefined;
  let monitor: NodeJS.Timeout | undefined;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    server = await startPostgres({ maxConnections: 60, prefer: 'local' }).catch((error: Error) => {
      throw new SoakUnavailableError(`PostgreSQL could not be started: ${error.message}`);
    });
    for (const capability of ['restart', 'terminateBackends', 'concurrentBackends'] as const) {
      const missing = missingCapability(server, capability);
      if (missing !== undefined) throw new SoakUnavailableError(missing);
    }
    admin = new AdminConnection(server.connectionString, ADMIN_NAME);
    await admin.query(
      `DROP TABLE IF EXISTS soak_writes, soak_counters;
       CREATE TABLE soak_writes (id bigint PRIMARY KEY, worker int NOT NULL, value int NOT NULL);
       CREATE TABLE soak_counters (worker int PRIMARY KEY, inserts bigint NOT NULL);
       INSERT INTO soak_counters SELECT g, 0 FROM generate_series(0, ${workers - 1}) AS g;`,
    );
    proxy = await createFaultProxy({ target: { host: server.host, port: server.port } });
    const activePool = createPool<pg.Client, PgQueryResult>({
      driver: createPgDriver({
        connectionString: proxy.connectionString(server.connectionString),
        applicationName: APPLICATION_NAME,
        statementTimeoutMs,
        Client: pg.Client,
      }),
      name: 'soak',
      minSize: 2,
      maxSize: poolSize,
      acquireTimeoutMs,
      healthCheckIntervalMs: 5_000,
      leakDetectionMs: 15_000,
    });
    pool = activePool;
    const activeAdmin = admin;
    const activeServer = server;
    const activeProxy = proxy;

    const stalls = new LoopStalls(MONITOR_PERIOD_MS);
    const acquires = new AcquireTracker(acquireTimeoutMs, SETTLE_SLACK_MS, stalls);
    // A pool.query() call waits for room within acquireTimeoutMs, then for its statement: bounded
    // by statement_timeout on the server plus the longest stall a fault puts on the wire.
    const queryLimitMs = acquireTimeoutMs + statementTimeoutMs + LONGEST_STALL_MS;
    const queries = new AcquireTracker(queryLimitMs, SETTLE_SLACK_MS, stalls);
    const ledger = new WriteLedger();
    const errors = new ErrorTally();
    // Callers that started waiting during a fault may time out up to a deadline after it.
    const timeline = new FaultTimeline(acquireTimeoutMs + 1_000);
    const counts = new CountAgreement(
      () => activePool.getStats(),
      () => activeAdmin.count(APPLICATION_NAME),
      COUNT_LIMIT_MS,
    );
    const seedRandom = createSeededRandom(options.seed);
    const workload = new Workload(
      {
        pool: activePool,
        acquires,
        queries,
        ledger,
        errors,
        timeline,
        random: (worker) => seedRandom.fork(100 + worker),
        thinkMs: options.thinkMs ?? [0, 8],
        now: () => performance.now(),
      },
      workers,
    );
    monitor = setInterval(() => {
      stalls.tick();
      acquires.sweep();
      queries.sweep();
    }, MONITOR_PERIOD_MS);
    loopDelay.enable();

    // Warm-up: load without faults, then the reference heap and timer count at a quiet moment.
    log(`warm-up ${ms(warmupMs)}: ${workers} workers on a pool of ${poolSize}`);
    workload.start();
    await sleep(warmupMs);
    await workload.pause();
    const settledAtWarmup = await quiescent(activePool, 5_000);
    const warmHeap = await settledHeapBytes();
    const warmTimers = await settledTimerCount(timers);
    const warmTimerList = timers.describe();
    workload.resume();
    log(`warm-up done: heap ${formatBytes(warmHeap)}, ${warmTimers} live timers`);

    // Faults, one after another, on the seed's schedule.
    const faultPhaseStart = now();
    const faultPhaseMs = Math.max(0, options.durationMs - now() - 3_000);
    const plan = planFaults({ seed: options.seed, durationMs: faultPhaseMs });
    const faultRandom = seedRandom.fork(2);
    const faultFigures = new Map<FaultKind, { count: number; totalMs: number; affected: number }>();
    const checks: Promise<void>[] = [];
    let nextFaultAt: { at?: number } = {};
    let lastProgress = now();
    for (const fault of plan) {
      const wait = faultPhaseStart + fault.atMs - now();
      if (wait > 0) await sleep(wait);
      if (now() - faultPhaseStart + fault.durationMs > faultPhaseMs) break;
      nextFaultAt.at = now();
      const faultStart = now();
      const end = timeline.begin(fault.kind, performance.now());
      const outcome = await injectFault(
        fault,
        {
          server: activeServer,
          proxy: activeProxy,
          admin: activeAdmin,
          applicationName: APPLICATION_NAME,
          setSlowWindow: (open) => {
            workload.slowWindow = open;
          },
        },
        faultRandom,
      );
      const endedAt = performance.now();
      end(endedAt);
      const tookMs = now() - faultStart;
      const figures = faultFigures.get(fault.kind) ?? { count: 0, totalMs: 0, affected: 0 };
      figures.count += 1;
      figures.totalMs += tookMs;
      figures.affected += outcome.affected;
      faultFigures.set(fault.kind, figures);
      const label = `#${fault.index} ${describeFault(fault)}`;
      const mine: { at?: number } = {};
      nextFaultAt = mine;
      checks.push(
        counts.check(label, endedAt, () =>
          mine.at === undefined ? undefined : mine.at + startedAt,
        ),
      );
      log(
        `${(now() / 1_000).toFixed(1)} s: ${label} (${ms(tookMs)}${outcome.affected > 0 ? `, ${outcome.affected} hit` : ''})`,
      );
      if (now() - lastProgress >= MINUTE_MS) {
        lastProgress = now();
        log(
          `  ${(now() / MINUTE_MS).toFixed(1)} min: ${acquires.started} acquires (${acquires.late} late), ${errors.total('expected')} expected errors, ${errors.total('unexpected')} unexpected, counts late ${counts.late}, ${ledger.acknowledged} writes`,
        );
      }
    }
    const remaining = options.durationMs - 2_000 - now();
    if (remaining > 0) await sleep(remaining);
    await Promise.all(checks);

    // The end: stop the load, let the pool settle, measure against the warm-up.
    await workload.stop();
    activeProxy.heal();
    if (options.sabotage !== undefined) {
      await options.sabotage({
        pool: activePool,
        query: (sql, params) => activeAdmin.query(sql, params ?? [], 1),
      });
    }
    const settledAtEnd = await quiescent(activePool, 5_000);
    const endCheck = counts.check('end of load', performance.now(), () => undefined);
    await endCheck;
    const endHeap = await settledHeapBytes();
    const endTimers = await settledTimerCount(timers);
    const endTimerList = timers.describe();
    const endStats = activePool.getStats();
    const endQueryStats = activePool.getQueryStats();
    acquires.sweep();
    queries.sweep();
    loopDelay.disable();

    // A close while connects hang: the pool's backends killed behind a blackhole, callers waiting.
    activeProxy.blackhole();
    await activeServer.terminateBackends({ applicationName: APPLICATION_NAME });
    const closeCallers = [0, 1, 2].map(() => {
      const record = acquires.start();
      return activePool.acquire().then(
        (lease: Lease<pg.Client>) => {
          acquires.settle(record);
          lease.release();
          return 'a lease';
        },
        (error: unknown) => {
          acquires.settle(record);
          return classifyCallerError(error);
        },
      );
    });
    await until(() => activePool.getStats().connecting > 0, 1_000);
    const hanging = activePool.getStats().connecting;
    const closeStart = performance.now();
    await activePool.close({ timeoutMs: 5_000 });
    const closeMs = performance.now() - closeStart;
    const closeOutcomes = await Promise.all(closeCallers);
    activeProxy.heal();
    const closedStats = activePool.getStats();
    const serverZeroMs = await until(
      async () => (await activeAdmin.count(APPLICATION_NAME)) === 0,
      3_000,
    );
    const serverLeft = await activeAdmin.count(APPLICATION_NAME);
    const proxyZeroMs = await until(() => activeProxy.status().open === 0, 3_000);
    acquires.sweep();

    // The acknowledged writes against the table.
    const inDoubt = ledger.inDoubt;
    const [sums] = await activeAdmin.query<{ rows: number; id_sum: string; value_sum: string }>(
      `SELECT count(*)::int AS rows, coalesce(sum(id), 0)::text AS id_sum,
              coalesce(sum(value), 0)::text AS value_sum
         FROM soak_writes WHERE NOT (id = ANY($1::bigint[]))`,
      [inDoubt],
    );
    const [doubt] = await activeAdmin.query<{
      committed: number;
      all_rows: number;
      counters: string;
    }>(
      `SELECT (SELECT count(*)::int FROM soak_writes WHERE id = ANY($1::bigint[])) AS committed,
              (SELECT count(*)::int FROM soak_writes) AS all_rows,
              (SELECT coalesce(sum(inserts), 0)::text FROM soak_counters) AS counters`,
      [inDoubt],
    );
    const contents: TableContents = {
      rows: sums?.rows ?? 0,
      idSum: Number(sums?.id_sum ?? 0),
      valueSum: Number(sums?.value_sum ?? 0),
      inDoubtCommitted: doubt?.committed ?? 0,
      allRows: doubt?.all_rows ?? 0,
      counterSum: Number(doubt?.counters ?? 0),
    };

    // Judge.
    const invariants: InvariantResult[] = [];
    queries.sweep();
    const settleViolations = [
      ...acquires.examples,
      ...queries.examples.map((e) => `pool.query(): ${e}`),
    ];
    if (acquires.pending() > 0)
      settleViolations.push(`${acquires.pending()} acquire(s) never settled`);
    if (queries.pending() > 0)
      settleViolations.push(`${queries.pending()} pool.query() call(s) never settled`);
    invariants.push({
      name: 'every acquire settles',
      ok:
        acquires.late === 0 &&
        acquires.pending() === 0 &&
        queries.late === 0 &&
        queries.pending() === 0,
      figure: `${acquires.settled.toLocaleString('en-US')} acquires; slowest ${ms(acquires.slowestMs)}, oldest waiter seen ${ms(acquires.oldestWaitingMs)} (limit ${acquireTimeoutMs} + ${SETTLE_SLACK_MS} ms); ${acquires.late} late. ${queries.settled.toLocaleString('en-US')} pool.query() calls, room and statement: slowest ${ms(queries.slowestMs)} (limit ${queryLimitMs} + ${SETTLE_SLACK_MS} ms); ${queries.late} late. Past a limit by no more than an event-loop stall at the time: ${acquires.lateInStall + queries.lateInStall} (worst ${ms(Math.max(acquires.worstStallOvershootMs, queries.worstStallOvershootMs))} over; longest stall ${ms(stalls.longestMs)})`,
      violations: settleViolations,
    });
    invariants.push({
      name: "pool's count = server's within 1 s of every fault ending",
      ok: counts.late === 0,
      figure: `${counts.checked} fault ends checked, slowest agreement ${ms(counts.slowestMs)}; ${counts.superseded} superseded by the next fault within 1 s; ${counts.late} late`,
      violations: counts.examples,
    });
    const leakViolations: string[] = [];
    if (endStats.acquired !== endStats.released) {
      leakViolations.push(`acquired ${endStats.acquired} but released ${endStats.released}`);
    }
    if (settledAtEnd === undefined) {
      leakViolations.push(
        `pool not idle 5 s after the load stopped: active ${endStats.activeConnections}, pending ${endStats.pending}, connecting ${endStats.connecting}, breaker ${endStats.breakerState}`,
      );
    }
    if (
      endQueryStats.inFlight !== 0 ||
      endQueryStats.queued !== 0 ||
      endQueryStats.sharedConnections !== 0
    ) {
      leakViolations.push(
        `pool.query() after the load: ${endQueryStats.inFlight} in flight, ${endQueryStats.queued} queued, ${endQueryStats.sharedConnections} shared connection(s) held`,
      );
    }
    if (workload.heldLeases !== 0)
      leakViolations.push(`${workload.heldLeases} lease(s) still held by workers`);
    if (
      closedStats.poolSize !== 0 ||
      closedStats.connecting !== 0 ||
      closedStats.state !== 'closed'
    ) {
      leakViolations.push(
        `after close(): state ${closedStats.state}, ${closedStats.poolSize} connection(s), ${closedStats.connecting} connecting`,
      );
    }
    if (closedStats.created !== closedStats.destroyed) {
      leakViolations.push(`created ${closedStats.created}, destroyed ${closedStats.destroyed}`);
    }
    if (serverZeroMs === undefined)
      leakViolations.push(`server still sees ${serverLeft} backend(s) 3 s after close()`);
    if (proxyZeroMs === undefined)
      leakViolations.push(
        `${activeProxy.status().open} proxied connection(s) still open after close()`,
      );
    const closeUnexpected = closeOutcomes.filter(
      (outcome) => outcome !== 'POOL_CLOSED' && outcome !== 'ACQUIRE_TIMEOUT',
    );
    if (closeUnexpected.length > 0) {
      leakViolations.push(`callers waiting at close() got: ${closeUnexpected.join(', ')}`);
    }
    invariants.push({
      name: 'no lease leaked; nothing left after close()',
      ok: leakViolations.length === 0,
      figure: `acquired ${endStats.acquired.toLocaleString('en-US')} = released ${endStats.released.toLocaleString('en-US')}; close() with ${hanging} connect(s) hanging and 3 callers waiting took ${ms(closeMs)} (callers got ${[...new Set(closeOutcomes)].join(', ')}); then ${closedStats.poolSize} in the pool, server 0 after ${serverZeroMs === undefined ? 'never' : ms(serverZeroMs)}, proxy 0 open`,
      violations: leakViolations,
    });
    const writeViolations = compareWrites(ledger, contents);
    invariants.push({
      name: 'no acknowledged write missing (count and checksum)',
      ok: writeViolations.length === 0,
      figure: `${ledger.acknowledged.toLocaleString('en-US')} acknowledged, ${contents.rows.toLocaleString('en-US')} in the table, checksum ${contents.idSum === ledger.idSum && contents.valueSum === ledger.valueSum ? 'equal' : 'differs'}; ${inDoubt.length} in doubt (COMMIT sent, no answer: ${contents.inDoubtCommitted} committed); ${ledger.failedBeforeCommit} failed before COMMIT, none present`,
      violations: writeViolations,
    });
    const heapDelta = endHeap - warmHeap;
    invariants.push({
      name: 'heap after the run within 10 MB of warm-up',
      ok: Math.abs(heapDelta) <= HEAP_LIMIT_BYTES,
      figure: `${formatBytes(warmHeap)} after warm-up, ${formatBytes(endHeap)} at the end: ${heapDelta >= 0 ? '+' : ''}${formatBytes(heapDelta)}`,
      violations:
        Math.abs(heapDelta) <= HEAP_LIMIT_BYTES ? [] : [`heap grew by ${formatBytes(heapDelta)}`],
    });
    const timerViolations: string[] = [];
    if (endTimers > warmTimers)
      timerViolations.push(
        `${endTimers - warmTimers} more live timer(s) than after warm-up: after warm-up ${warmTimerList.join(', ')}; at the end ${endTimerList.join(', ')}`,
      );
    if (settledAtWarmup === undefined)
      timerViolations.push('the pool was not idle when the warm-up figures were taken');
    invariants.push({
      name: 'live timers back to warm-up level',
      ok: timerViolations.length === 0,
      figure: `${warmTimers} after warm-up, ${endTimers} at the end (pool idle both times, fewest over 1 s): ${endTimerList.join(', ')}`,
      violations: timerViolations,
    });
    const unexpected = errors.total('unexpected');
    invariants.push({
      name: 'errors to callers only of expected kinds',
      ok: unexpected === 0,
      figure: `${(errors.total('expected') + unexpected).toLocaleString('en-US')} errors, ${unexpected} unexpected (by kind below)`,
      violations: errors.examples,
    });

    const errorRows: [string, number, boolean][] = [
      ...[...errors.expected].map(([kind, count]): [string, number, boolean] => [
        kind,
        count,
        true,
      ]),
      ...[...errors.unexpected].map(([kind, count]): [string, number, boolean] => [
        kind,
        count,
        false,
      ]),
    ].sort((a, b) => b[1] - a[1]);
    const faults = FAULT_KINDS.filter((kind) => faultFigures.has(kind)).map(
      (kind): [string, number, number, string] => {
        const figures = faultFigures.get(kind)!;
        const detail = kind.startsWith('kill')
          ? `${figures.affected} backends terminated`
          : kind === 'outage'
            ? `${figures.affected} connections cut`
            : '';
        return [kind, figures.count, Math.round(figures.totalMs), detail];
      },
    );
    const operationNames = [
      ...OPERATIONS.map((operation) => operation.value),
      'slow statement',
    ] as const;
    const operations = operationNames
      .filter((name) => workload.operations.has(name))
      .map((name): [string, number, number, number] => {
        const figures = workload.operations.get(name)!;
        return [name, figures.calls, figures.ok, figures.failed];
      });
    const totalCalls = operations.reduce((sum, row) => sum + row[1], 0);
    const elapsedMs = now();
    const notes = [
      `Pool: createPool({ driver: createPgDriver({ statementTimeoutMs: ${statementTimeoutMs} }), minSize 2, maxSize ${poolSize}, acquireTimeoutMs ${acquireTimeoutMs}, healthCheckIntervalMs 5000, leakDetectionMs 15000 }); defaults otherwise. PostgreSQL 15 behind createFaultProxy() on loopback.`,
      `Load: ${workers} workers, ${(options.thinkMs ?? [0, 8]).join('–')} ms between calls (10 ms more after an error); ${totalCalls.toLocaleString('en-US')} calls in ${(elapsedMs / 1_000).toFixed(0)} s (${(totalCalls / (elapsedMs / 1_000)).toFixed(0)}/s); warm-up ${ms(warmupMs)} without faults.`,
      `pool.query(): ${endQueryStats.succeeded} answered, ${endQueryStats.failed} failed, ${endQueryStats.aborted} aborted (${endQueryStats.dropped} after sending), ${endQueryStats.timeouts} timed out waiting for room, ${endQueryStats.retries} idempotent retries, ${endQueryStats.refused} refused.`,
      `Pool figures: ${endStats.created} connections opened, ${endStats.connectAttempts} connect attempts, ${endStats.retries} idempotent retries, ${endStats.circuitRejections} circuit rejections, ${endStats.timeouts} acquire timeouts, ${endStats.aborted} aborted acquires, ${endStats.leaks} leak warnings.`,
      `Event loop delay: p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms (2-core machine, PostgreSQL on the same cores).`,
      `An error is expected when its call overlapped a fault, or the ${acquireTimeoutMs + 1_000} ms after it, that causes that kind (kills, outages, restarts: connection; blackholes, partitions, latency, outages, restarts: ACQUIRE_TIMEOUT; after an outage's grace: CIRCUIT_OPEN), when it is the statement_timeout of a deliberately slow statement, or when the caller aborted.`,
      `Replay: pnpm soak -- --minutes ${(options.durationMs / MINUTE_MS).toString()} --seed ${options.seed}`,
    ];
    return {
      seed: options.seed,
      minutes: options.durationMs / MINUTE_MS,
      machine,
      invariants,
      errors: errorRows,
      faults,
      operations,
      notes,
      ok: invariants.every((invariant) => invariant.ok),
    };
  } finally {
    if (monitor !== undefined) clearInterval(monitor);
    loopDelay.disable();
    await pool?.close({ timeoutMs: 0 }).catch(() => {});
    await admin?.close();
    await proxy?.close();
    await server?.stop();
    timers.stop();
  }
}
