import type { PgQueryResult } from '@enhanced-pool/driver-pg';
import type { Lease, Pool } from '@enhanced-pool/pool';
import type pg from 'pg';
import type { AcquireTracker } from './acquire-tracker.js';
import { ABORTED, classifyCallerError, STATEMENT_TIMEOUT } from './caller-errors.js';
import type { ErrorTally } from './error-tally.js';
import type { FaultTimeline } from './fault-timeline.js';
import type { SeededRandom } from './seeded-random.js';
import type { WriteLedger } from './write-ledger.js';

/** The operations workers mix, with their share of calls. */
export const OPERATIONS = [
  { value: 'read (withConnection, idempotent)', weight: 25 },
  { value: 'write transaction (withConnection)', weight: 20 },
  { value: 'lease: write transaction', weight: 8 },
  { value: 'lease: read, releaseConnection()', weight: 7 },
  { value: 'read (withConnection)', weight: 10 },
  { value: 'pool.query() read (idempotent)', weight: 10 },
  { value: 'pool.query() write (one statement)', weight: 5 },
  { value: 'aborting caller (withConnection)', weight: 8 },
  { value: 'aborting caller (pool.query())', weight: 7 },
] as const;

export type OperationName = (typeof OPERATIONS)[number]['value'] | 'slow statement';

/** Statements longer than the connections' `statement_timeout`, run during slow windows. */
export const SLOW_STATEMENT = 'SELECT pg_sleep(1.5)';
/** Share of calls that are slow statements while a slow window is open. */
const SLOW_SHARE = 0.3;
/**
 * Errors of `pool.query()` that say the statement was never sent (it waited for room, or no
 * connection could be had): its write is known not to have happened. Any other error leaves a
 * write in doubt (a statement given up through its signal still runs on the server).
 */
const NOT_SENT = new Set([
  'ACQUIRE_TIMEOUT',
  'CIRCUIT_OPEN',
  'POOL_EXHAUSTED',
  'POOL_CLOSED',
  'STATEMENT_REFUSED',
]);
/** A worker pauses this long after an error, as a caller would before its next request. */
const PAUSE_AFTER_ERROR_MS = 10;

/** What the workers share with the soak. */
export interface WorkloadContext {
  readonly pool: Pool<pg.Client, PgQueryResult>;
  readonly acquires: AcquireTracker;
  /** Every `pool.query()` call, from the call to its settling (room, then the statement). */
  readonly queries: AcquireTracker;
  readonly ledger: WriteLedger;
  readonly errors: ErrorTally;
  readonly timeline: FaultTimeline;
  /** Each worker's own generator, so its sequence of choices depends only on the seed. */
  readonly random: (worker: number) => SeededRandom;
  /** Pause between a worker's calls, in ms. */
  readonly thinkMs: readonly [number, number];
  readonly now: () => number;
}

/** Figures per operation. */
export interface OperationCounts {
  calls: number;
  ok: number;
  failed: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `workers` loops calling the pool as an application would, until `stop()`: reads, write
 * transactions whose acknowledgements go to the ledger, leases (released both ways), callers
 * that abort while waiting, and during slow windows statements the server cancels. Every error
 * a caller gets is classified and judged against the faults its call overlapped.
 */
export class Workload {
  readonly operations = new Map<OperationName, OperationCounts>();
  /** Leases the workers hold right now. */
  heldLeases = 0;
  /** Slow statements that finished instead of being cancelled by `statement_timeout`. */
  slowNotCancelled = 0;
  slowWindow = false;
  private stopped = false;
  private paused = false;
  private idleWorkers = 0;
  private resumeGate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => {};
  private onIdle: (() => void) | undefined;
  private running: Promise<void>[] = [];
  private readonly context: WorkloadContext;
  private readonly workers: number;

  constructor(context: WorkloadContext, workers: number) {
    this.context = context;
    this.workers = workers;
  }

  start(): void {
    for (let worker = 0; worker < this.workers; worker++) {
      this.running.push(this.loop(worker, this.context.random(worker)));
    }
  }

  /** Resolves once every worker is between calls and waiting to be resumed. */
  pause(): Promise<void> {
    this.paused = true;
    this.resumeGate = new Promise((resolve) => {
      this.openGate = resolve;
    });
    if (this.idleWorkers === this.workers) return Promise.resolve();
    return new Promise((resolve) => {
      this.onIdle = resolve;
    });
  }

  resume(): void {
    this.paused = false;
    this.openGate();
  }

  /** Stops every worker after its current call and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resume();
    await Promise.all(this.running);
    this.running = [];
  }

  private count(name: OperationName): OperationCounts {
    let counts = this.operations.get(name);
    if (counts === undefined) {
      counts = { calls: 0, ok: 0, failed: 0 };
      this.operations.set(name, counts);
    }
    return counts;
  }

  private async loop(worker: number, random: SeededRandom): Promise<void> {
    const { now, thinkMs } = this.context;
    while (!this.stopped) {
      if (this.paused) {
        this.idleWorkers += 1;
        if (this.idleWorkers === this.workers) this.onIdle?.();
        await this.resumeGate;
        this.idleWorkers -= 1;
        continue;
      }
      const name: OperationName =
        this.slowWindow && random.chance(SLOW_SHARE)
          ? 'slow statement'
          : random.weighted(OPERATIONS);
      const counts = this.count(name);
      counts.calls += 1;
      const startedAt = now();
      const call: { signal?: AbortSignal } = {};
      try {
        await this.run(name, worker, random, call);
        counts.ok += 1;
        if (name === 'slow statement') {
          this.slowNotCancelled += 1;
          this.context.errors.record('slow statement not cancelled', false, () => SLOW_STATEMENT);
        }
      } catch (error) {
        counts.failed += 1;
        const abortReason = call.signal?.aborted === true ? call.signal.reason : undefined;
        const kind = classifyCallerError(error, abortReason);
        const expected =
          kind === ABORTED ||
          (kind === STATEMENT_TIMEOUT && name === 'slow statement') ||
          (kind !== STATEMENT_TIMEOUT && this.context.timeline.expects(kind, startedAt, now()));
        this.context.errors.record(kind, expected, () => describeError(error, name));
        await sleep(PAUSE_AFTER_ERROR_MS);
      }
      await sleep(random.int(thinkMs[0], thinkMs[1]));
    }
  }

  private run(
    name: OperationName,
    worker: number,
    random: SeededRandom,
    call: { signal?: AbortSignal },
  ): Promise<unknown> {
    const { pool, ledger } = this.context;
    switch (name) {
      case 'read (withConnection, idempotent)': {
        const id = random.int(1, Math.max(1, ledger.acknowledged));
        return this.withConnection(
          (client) => client.query('SELECT value FROM soak_writes WHERE id = $1', [id]),
          { idempotent: true },
        );
      }
      case 'read (withConnection)':
        return this.withConnection((client) =>
          client.query('SELECT count(*) FROM soak_counters WHERE worker = $1', [worker]),
        );
      case 'write transaction (withConnection)':
        return this.write(worker, random, (transaction) => this.withConnection(transaction));
      case 'lease: write transaction':
        return this.write(worker, random, (transaction) =>
          this.withLease(transaction, (lease) => lease.release()),
        );
      case 'lease: read, releaseConnection()':
        return this.withLease(
          (client) => client.query('SELECT pg_backend_pid()'),
          (lease) => pool.releaseConnection(lease.connection, lease.id),
        );
      case 'pool.query() read (idempotent)': {
        const id = random.int(1, Math.max(1, ledger.acknowledged));
        return this.query('SELECT value FROM soak_writes WHERE id = $1', [id], {
          idempotent: true,
        });
      }
      case 'pool.query() write (one statement)':
        return this.queryWrite(worker, random);
      case 'aborting caller (withConnection)':
      case 'aborting caller (pool.query())': {
        const controller = new AbortController();
        call.signal = controller.signal;
        const timer = setTimeout(() => controller.abort(), random.int(0, 30));
        const signal = controller.signal;
        const done =
          name === 'aborting caller (withConnection)'
            ? this.withConnection((client) => client.query('SELECT 1'), { signal })
            : this.query('SELECT 1', [], { signal });
        return done.finally(() => clearTimeout(timer));
      }
      case 'slow statement':
        return this.withConnection((client) => client.query(SLOW_STATEMENT));
    }
  }

  /** `pool.query`, tracked from the call to its settling. */
  private async query(
    text: string,
    values: readonly unknown[],
    options?: { idempotent?: boolean; signal?: AbortSignal },
  ): Promise<PgQueryResult> {
    const record = this.context.queries.start();
    try {
      return await this.context.pool.query(text, values, options);
    } finally {
      this.context.queries.settle(record);
    }
  }

  /** A write in one autocommit statement: the row and its worker's counter together. */
  private async queryWrite(worker: number, random: SeededRandom): Promise<void> {
    const { ledger } = this.context;
    const id = ledger.take();
    const value = random.int(1, 1_000_000);
    try {
      await this.query(
        `WITH inserted AS (
           INSERT INTO soak_writes (id, worker, value) VALUES ($1, $2, $3) RETURNING worker
         )
         UPDATE soak_counters SET inserts = inserts + 1 WHERE worker = (SELECT worker FROM inserted)`,
        [id, worker, value],
      );
    } catch (error) {
      if (NOT_SENT.has(classifyCallerError(error))) ledger.failed();
      else ledger.doubt(id);
      throw error;
    }
    ledger.acknowledge(id, value);
  }

  /** `pool.withConnection`, with its acquire phase tracked. */
  private async withConnection<T>(
    fn: (client: pg.Client) => Promise<T>,
    options?: { idempotent?: boolean; signal?: AbortSignal },
  ): Promise<T> {
    const record = this.context.acquires.start();
    try {
      return await this.context.pool.withConnection((client) => {
        this.context.acquires.settle(record);
        return fn(client);
      }, options);
    } finally {
      this.context.acquires.settle(record);
    }
  }

  /** `pool.acquire()`, the work, and an explicit hand-back, with the acquire phase tracked. */
  private async withLease<T>(
    fn: (client: pg.Client) => Promise<T>,
    handBack: (lease: Lease<pg.Client>) => void,
  ): Promise<T> {
    const record = this.context.acquires.start();
    let lease: Lease<pg.Client>;
    try {
      lease = await this.context.pool.acquire();
    } finally {
      this.context.acquires.settle(record);
    }
    this.heldLeases += 1;
    try {
      return await fn(lease.connection);
    } catch (error) {
      // A dead connection is retired when the lease ends; a statement error changes nothing.
      lease.reportError(error);
      throw error;
    } finally {
      handBack(lease);
      this.heldLeases -= 1;
    }
  }

  /**
   * One transaction: a new row and its worker's counter. Acknowledged once COMMIT returns; in
   * doubt when COMMIT was sent and failed; known not written when it failed before COMMIT.
   */
  private async write(
    worker: number,
    random: SeededRandom,
    through: (transaction: (client: pg.Client) => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const { ledger } = this.context;
    const id = ledger.take();
    const value = random.int(1, 1_000_000);
    let commitSent = false;
    try {
      await through(async (client) => {
        await client.query('BEGIN');
        await client.query('INSERT INTO soak_writes (id, worker, value) VALUES ($1, $2, $3)', [
          id,
          worker,
          value,
        ]);
        await client.query('UPDATE soak_counters SET inserts = inserts + 1 WHERE worker = $1', [
          worker,
        ]);
        commitSent = true;
        await client.query('COMMIT');
      });
    } catch (error) {
      if (commitSent) ledger.doubt(id);
      else ledger.failed();
      throw error;
    }
    ledger.acknowledge(id, value);
  }
}

/** A one-line description for the report; driver messages carry no secrets here (trust auth). */
function describeError(error: unknown, operation: OperationName): string {
  const message = error instanceof Error ? error.message : String(error);
  return `${message.split('\n')[0]!.slice(0, 160)} (in ${operation})`;
}
