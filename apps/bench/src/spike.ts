import { createPool, type Lease } from '@enhanced-pool/pool';
import genericPool from 'generic-pool';
import PgPool from 'pg-pool';
import { Pool as TarnPool } from 'tarn';
import { median, runWorkers, sleep, withDeadline } from './measure.js';
import {
  createMemoryDriver,
  type FactoryCounters,
  type FakePgClient,
  fakePgClientClass,
  type MemoryResource,
  memoryFactory,
} from './memory.js';
import type { SectionOutput } from './section.js';
import { formatMs, type Table } from './table.js';

/** Section 5 (issue 5): HikariCP's spike test, on an in-memory driver with a slow connect. */
export interface SpikeBenchOptions {
  /** Borrowers arriving at once. @default 50 */
  readonly borrowers?: number;
  /** Real milliseconds each connect takes. @default 150 */
  readonly connectMs?: number;
  /** Real milliseconds each borrower holds its connection. @default 2 */
  readonly holdMs?: number;
  /** @default 5 */
  readonly minSize?: number;
  /** @default 50 */
  readonly maxSize?: number;
  /** Every pool's acquire timeout; a wait beyond it is a missed deadline. @default 1000 */
  readonly deadlineMs?: number;
  /** Time after the spike before connections are counted (late connects land). @default 500 */
  readonly settleMs?: number;
}

const TITLE = "5. Spike (HikariCP's test): 50 borrowers at once, 150 ms connects, 2 ms holds";

interface SpikePool {
  readonly name: string;
  readonly configuration: string;
  acquire(): Promise<unknown>;
  release(handle: unknown): void;
  counters(): FactoryCounters;
  close(): Promise<void>;
}

type Settings = Required<SpikeBenchOptions>;

async function ourSpikePool(settings: Settings): Promise<SpikePool> {
  const driver = createMemoryDriver(settings.connectMs);
  const pool = createPool({
    driver,
    minSize: settings.minSize,
    maxSize: settings.maxSize,
    acquireTimeoutMs: settings.deadlineMs,
    name: 'spike',
  });
  await pool.ready();
  return {
    name: 'enhanced-pool',
    configuration: `minSize ${settings.minSize}, maxSize ${settings.maxSize}, acquireTimeoutMs ${settings.deadlineMs}`,
    acquire: () => pool.acquire(),
    release: (handle) => {
      (handle as Lease<MemoryResource>).release();
    },
    counters: () => ({
      connects: driver.counters.connects,
      closes: driver.counters.closes,
      open: driver.counters.open,
    }),
    close: () => withDeadline(pool.close({ timeoutMs: 1_000 }), 2_000, undefined),
  };
}

function tarnSpikePool(settings: Settings): SpikePool {
  const counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
  const factory = memoryFactory(counters, settings.connectMs);
  const pool = new TarnPool<MemoryResource>({
    create: factory.create,
    destroy: factory.destroy,
    min: settings.minSize,
    max: settings.maxSize,
    acquireTimeoutMillis: settings.deadlineMs,
  });
  return {
    name: 'tarn 3.1.2',
    configuration: `min ${settings.minSize}, max ${settings.maxSize}, acquireTimeoutMillis ${settings.deadlineMs}`,
    acquire: () => pool.acquire().promise,
    release: (handle) => {
      pool.release(handle as MemoryResource);
    },
    counters: () => ({ ...counters }),
    close: () =>
      withDeadline(
        pool.destroy().then(() => {}),
        2_000,
        undefined,
      ),
  };
}

function genericSpikePool(settings: Settings): SpikePool {
  const counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
  const factory = memoryFactory(counters, settings.connectMs);
  const pool = genericPool.createPool<MemoryResource>(factory, {
    min: settings.minSize,
    max: settings.maxSize,
    acquireTimeoutMillis: settings.deadlineMs,
  });
  return {
    name: 'generic-pool 3.9.0',
    configuration: `min ${settings.minSize}, max ${settings.maxSize}, acquireTimeoutMillis ${settings.deadlineMs}`,
    acquire: () => pool.acquire(),
    release: (handle) => {
      void pool.release(handle as MemoryResource);
    },
    counters: () => ({ ...counters }),
    close: () =>
      withDeadline(
        pool.drain().then(() => pool.clear()),
        2_000,
        undefined,
      ),
  };
}

function pgPoolSpikePool(settings: Settings): SpikePool {
  const Client = fakePgClientClass(settings.connectMs);
  const pool = new PgPool<FakePgClient>({
    Client,
    min: settings.minSize,
    max: settings.maxSize,
    connectionTimeoutMillis: settings.deadlineMs,
  });
  return {
    name: 'pg-pool 3.14.0',
    configuration: `min ${settings.minSize} (keeps, does not create), max ${settings.maxSize}, connectionTimeoutMillis ${settings.deadlineMs}`,
    acquire: () => pool.connect(),
    release: (handle) => {
      (handle as { release(): void }).release();
    },
    counters: () => ({ ...Client.counters }),
    close: () => withDeadline(pool.end(), 2_000, undefined),
  };
}

interface SpikeFigures {
  readonly connectionsAtEnd: number;
  readonly connects: number;
  readonly maxWaitMs: number;
  readonly medianWaitMs: number;
  readonly pastDeadline: number;
  readonly failed: number;
}

async function spike(pool: SpikePool, settings: Settings): Promise<SpikeFigures> {
  // Every pool starts with minSize open connections, as after a quiet period.
  const warm = await Promise.all(Array.from({ length: settings.minSize }, () => pool.acquire()));
  for (const handle of warm) pool.release(handle);
  await sleep(settings.connectMs + 50);
  const connectsBefore = pool.counters().connects;

  const waits: number[] = [];
  let failed = 0;
  await withDeadline(
    runWorkers(settings.borrowers, async () => {
      const start = performance.now();
      let handle: unknown;
      try {
        handle = await pool.acquire();
      } catch {
        failed += 1;
        waits.push(performance.now() - start);
        return;
      }
      waits.push(performance.now() - start);
      await sleep(settings.holdMs);
      pool.release(handle);
    }),
    settings.deadlineMs * 3,
    undefined,
  );
  await sleep(settings.settleMs);
  const counters = pool.counters();
  return {
    connectionsAtEnd: counters.open,
    connects: counters.connects - connectsBefore,
    maxWaitMs: Math.max(...waits),
    medianWaitMs: median(waits),
    pastDeadline: waits.filter((wait) => wait > settings.deadlineMs).length + failed,
    failed,
  };
}

/** Runs section 5 and returns its table. */
export async function runSpikeBench(options: SpikeBenchOptions = {}): Promise<SectionOutput> {
  const settings: Settings = {
    borrowers: options.borrowers ?? 50,
    connectMs: options.connectMs ?? 150,
    holdMs: options.holdMs ?? 2,
    minSize: options.minSize ?? 5,
    maxSize: options.maxSize ?? 50,
    deadlineMs: options.deadlineMs ?? 1_000,
    settleMs: options.settleMs ?? 500,
  };
  const makers: (() => Promise<SpikePool> | SpikePool)[] = [
    () => ourSpikePool(settings),
    () => tarnSpikePool(settings),
    () => genericSpikePool(settings),
    () => pgPoolSpikePool(settings),
  ];
  const rows: string[][] = [];
  for (const make of makers) {
    const pool = await make();
    try {
      const figures = await spike(pool, settings);
      rows.push([
        pool.name,
        pool.configuration,
        String(figures.connectionsAtEnd),
        String(figures.connects),
        formatMs(figures.maxWaitMs),
        formatMs(figures.medianWaitMs),
        `${figures.pastDeadline}${figures.failed > 0 ? ` (${figures.failed} failed)` : ''}`,
      ]);
    } finally {
      await pool.close();
    }
  }
  const table: Table = {
    title: TITLE,
    headers: [
      'pool',
      'configuration',
      'connections at the end',
      'connects during the spike',
      'max wait ms',
      'median wait ms',
      'waiters past deadline',
    ],
    rows,
    notes: [
      `Method: each pool starts with ${settings.minSize} open connections (real timers, an in-memory resource whose connect takes ${settings.connectMs} ms); ${settings.borrowers} borrowers then acquire at once, hold ${settings.holdMs} ms and release; connections are counted ${settings.settleMs} ms after the last release, so connects still in flight have landed. A borrower past deadline waited longer than ${settings.deadlineMs} ms or was rejected.`,
      'HikariCP publishes 5–6 connections at the end for this test, other Java pools 40–45. Target for enhanced-pool: ≤ 8 connections and no missed deadline.',
    ],
  };
  return [table];
}
