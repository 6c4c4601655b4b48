import { createPool, type Lease } from '@enhanced-pool/pool';
import genericPool from 'generic-pool';
import PgPool from 'pg-pool';
import { Pool as TarnPool } from 'tarn';
import {
  type Cell,
  type ChunkRunner,
  defaultTiming,
  measureCells,
  runWorkers,
  type TimingSettings,
  withDeadline,
} from './measure.js';
import {
  createMemoryDriver,
  type FactoryCounters,
  type FakePgClient,
  fakePgClientClass,
  type MemoryResource,
  memoryFactory,
} from './memory.js';
import type { SectionOutput } from './section.js';
import { formatRate, formatRatio, type Table } from './table.js';

/** Section 2 (issue 4): what a pool costs per acquire + release when the driver costs nothing. */
export interface PoolBenchOptions {
  readonly timing?: TimingSettings;
  /** Connections in every pool. @default 10 */
  readonly size?: number;
  /** Concurrent borrowers in the second column. @default 64 */
  readonly borrowers?: number;
  /** Operations per chunk in the serial loop. @default 2000 */
  readonly chunk?: number;
}

const TITLE = '2. Pool overhead: acquire + release ops/s, in-memory resource';

/** The part of a pool the overhead loops use. Handles are opaque to the loop. */
interface MemoryPoolAdapter {
  readonly name: string;
  readonly kind: 'ours' | 'peer' | 'floor';
  readonly configuration: string;
  acquire(): Promise<unknown>;
  release(handle: unknown): void;
  /** Connections the pool asked its factory/driver for. */
  connects(): number;
  close(): Promise<void>;
}

/** Borrows `size` at once and gives them back, so every pool starts with `size` open. */
async function prefill(adapter: MemoryPoolAdapter, size: number): Promise<void> {
  const handles = await Promise.all(Array.from({ length: size }, () => adapter.acquire()));
  for (const handle of handles) adapter.release(handle);
}

function floorAdapter(size: number): MemoryPoolAdapter {
  const resources: MemoryResource[] = Array.from({ length: size }, (_, index) => ({ id: index }));
  let next = 0;
  return {
    name: 'floor: pre-opened resources, round robin',
    kind: 'floor',
    configuration: `${size} objects in an array, \`Promise.resolve(resources[next++ % ${size}])\`, release does nothing`,
    acquire: () => Promise.resolve(resources[next++ % size]),
    release: () => {},
    connects: () => size,
    close: async () => {},
  };
}

function tarnAdapter(size: number): MemoryPoolAdapter {
  const counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
  const factory = memoryFactory(counters);
  const pool = new TarnPool<MemoryResource>({
    create: factory.create,
    destroy: factory.destroy,
    min: size,
    max: size,
  });
  return {
    name: 'tarn 3.1.2',
    kind: 'peer',
    configuration: `min ${size}, max ${size}; defaults otherwise`,
    acquire: () => pool.acquire().promise,
    release: (handle) => {
      pool.release(handle as MemoryResource);
    },
    connects: () => counters.connects,
    close: () =>
      withDeadline(
        pool.destroy().then(() => {}),
        2_000,
        undefined,
      ),
  };
}

function genericPoolAdapter(size: number, testOnBorrow: boolean): MemoryPoolAdapter {
  const counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
  const factory = memoryFactory(counters);
  const pool = genericPool.createPool<MemoryResource>(
    testOnBorrow
      ? { ...factory, validate: () => Promise.resolve(true) }
      : { create: factory.create, destroy: factory.destroy },
    { min: size, max: size, testOnBorrow },
  );
  return {
    name: 'generic-pool 3.9.0',
    kind: 'peer',
    configuration: testOnBorrow
      ? `min ${size}, max ${size}, testOnBorrow with \`validate: () => Promise.resolve(true)\``
      : `min ${size}, max ${size}; defaults otherwise (no test on borrow)`,
    acquire: () => pool.acquire(),
    release: (handle) => {
      void pool.release(handle as MemoryResource);
    },
    connects: () => counters.connects,
    close: () =>
      withDeadline(
        pool.drain().then(() => pool.clear()),
        2_000,
        undefined,
      ),
  };
}

function pgPoolAdapter(size: number, idleTimeoutMillis: number | undefined): MemoryPoolAdapter {
  const Client = fakePgClientClass();
  const pool = new PgPool<FakePgClient>({
    Client,
    max: size,
    ...(idleTimeoutMillis === undefined ? {} : { idleTimeoutMillis }),
  });
  return {
    name: 'pg-pool 3.14.0',
    kind: 'peer',
    configuration:
      idleTimeoutMillis === undefined
        ? `max ${size}, fake \`Client\`; default idleTimeoutMillis (10000: a timer per release)`
        : `max ${size}, fake \`Client\`; idleTimeoutMillis ${idleTimeoutMillis}`,
    acquire: () => pool.connect(),
    release: (handle) => {
      (handle as { release(): void }).release();
    },
    connects: () => Client.counters.connects,
    close: () => withDeadline(pool.end(), 2_000, undefined),
  };
}

/**
 * A second copy of the pool's module (the same file under another URL), for the `metrics: false`
 * row. V8 keeps type feedback per function, so a second pool through the same copy makes the
 * first row's call sites polymorphic, a cost an application with one pool never pays.
 * callgrind, per serial acquire + release of the default pool: 2,201 instructions alone, 2,448
 * beside a `metrics: false` pool of the same copy, 2,360 beside one of its own copy. The copy
 * removes part of it; what remains is shared below the pool (core, promises, the collector).
 */
async function isolatedCreatePool(): Promise<typeof createPool> {
  const url = import.meta.resolve('@enhanced-pool/pool');
  const copy = (await import(`${url}?row=metrics-off`)) as { createPool: typeof createPool };
  return copy.createPool;
}

async function ourAdapter(size: number, metrics = true): Promise<MemoryPoolAdapter> {
  const driver = createMemoryDriver();
  const create = metrics ? createPool : await isolatedCreatePool();
  const pool = create({ driver, minSize: size, maxSize: size, name: 'bench', metrics });
  await pool.ready();
  return {
    name: metrics ? 'enhanced-pool' : 'enhanced-pool (metrics: false)',
    kind: 'ours',
    configuration: metrics
      ? `minSize ${size}, maxSize ${size}, a minimal in-memory Driver; defaults otherwise (latency histograms recorded)`
      : `as above, with \`metrics: false\` (no latency histograms)`,
    acquire: () => pool.acquire(),
    release: (handle) => {
      (handle as Lease<MemoryResource>).release();
    },
    connects: () => driver.counters.connects,
    close: () => withDeadline(pool.close({ timeoutMs: 1_000 }), 2_000, undefined),
  };
}

function serialRunner(adapter: MemoryPoolAdapter): ChunkRunner {
  return async (count) => {
    for (let index = 0; index < count; index++) {
      const handle = await adapter.acquire();
      adapter.release(handle);
    }
  };
}

function concurrentRunner(adapter: MemoryPoolAdapter, borrowers: number): ChunkRunner {
  return (count) =>
    runWorkers(borrowers, async () => {
      const perBorrower = count / borrowers;
      for (let index = 0; index < perBorrower; index++) {
        const handle = await adapter.acquire();
        adapter.release(handle);
      }
    });
}

/** Runs section 2 and returns its table. */
export async function runPoolBench(options: PoolBenchOptions = {}): Promise<SectionOutput> {
  const timing = options.timing ?? defaultTiming;
  const size = options.size ?? 10;
  const borrowers = options.borrowers ?? 64;
  const chunk = options.chunk ?? 2_000;

  const adapters: MemoryPoolAdapter[] = [
    floorAdapter(size),
    await ourAdapter(size),
    await ourAdapter(size, false),
    tarnAdapter(size),
    genericPoolAdapter(size, false),
    genericPoolAdapter(size, true),
    pgPoolAdapter(size, undefined),
    pgPoolAdapter(size, 0),
  ];
  for (const adapter of adapters) await prefill(adapter, size);

  const cells: Cell[] = adapters.flatMap((adapter) => [
    { name: `${adapter.name} serial`, chunk, run: serialRunner(adapter) },
    {
      name: `${adapter.name} ${borrowers} borrowers`,
      chunk: borrowers * 32,
      run: concurrentRunner(adapter, borrowers),
    },
  ]);
  const results = await measureCells(cells, timing);
  const connects = adapters.map((adapter) => adapter.connects());
  for (const adapter of adapters) await adapter.close();

  const serial = (index: number): number => results[index * 2]!.median;
  const concurrent = (index: number): number => results[index * 2 + 1]!.median;
  const peerIndexes = adapters.flatMap((adapter, index) =>
    adapter.kind === 'peer' ? [index] : [],
  );
  const fastestSerial = Math.max(...peerIndexes.map(serial));
  const fastestConcurrent = Math.max(...peerIndexes.map(concurrent));

  const table: Table = {
    title: TITLE,
    headers: [
      'pool',
      'configuration',
      'serial ops/s',
      '× fastest peer',
      `${borrowers} borrowers ops/s`,
      '× fastest peer',
      'connections opened',
    ],
    rows: adapters.map((adapter, index) => [
      adapter.name,
      adapter.configuration,
      formatRate(serial(index)),
      formatRatio(serial(index) / fastestSerial),
      formatRate(concurrent(index)),
      formatRatio(concurrent(index) / fastestConcurrent),
      String(connects[index]),
    ]),
    notes: [
      `Method: each pool holds ${size} connections (borrowed at once and returned before timing). Serial: \`const handle = await pool.acquire(); release(handle)\` in a loop. ${borrowers} borrowers: ${borrowers} such loops at once, so most acquires queue. ${timing.warmupMs} ms warm-up, ≥ ${timing.durationMs} ms timed per run, median of ${timing.runs} runs, cells interleaved. Every pool hands out the same trivial \`{ id }\` object from an already-resolved factory.`,
      'The floor is the timing loop itself around an array lookup: no pool can go below its cost.',
      `Target: ≥ 2× the fastest peer. enhanced-pool vs fastest peer: serial ${formatRatio(serial(1) / fastestSerial)}, ${borrowers} borrowers ${formatRatio(concurrent(1) / fastestConcurrent)}.`,
      `The cost of the latency histograms (what \`@enhanced-pool/metrics\` exports; its exporters read them at scrape time, nothing per acquire): with them vs \`metrics: false\`, serial ${formatRatio(serial(1) / serial(2))}, ${borrowers} borrowers ${formatRatio(concurrent(1) / concurrent(2))} (target ≥ 0.95×).`,
    ],
  };
  return [table];
}
