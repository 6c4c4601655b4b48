import type { PostgresServer } from '@enhanced-pool/testing';
import { collectGarbage, elapsedMs, median, percentile, runWorkers } from './measure.js';
import {
  createGenericPoolPeer,
  createOurPgPool,
  createPgCompatPool,
  createPgPoolPeer,
  createRawClients,
  createTarnPeer,
  type PgBenchPool,
  type PgBenchPoolOptions,
} from './pg-pools.js';
import type { SectionOutput } from './section.js';
import { formatMs, formatRate, formatRatio, type Table } from './table.js';

/** Section 3 (issue 4): `SELECT 1` through each pool against a real PostgreSQL. */
export interface E2eBenchOptions {
  /** @default [1, 16, 64] */
  readonly concurrencies?: readonly number[];
  /** Pool size and raw client count. @default 10 */
  readonly size?: number;
  /** Runs per cell; the median is reported. Loopback figures swing widely here, so five. @default 5 */
  readonly runs?: number;
  /** @default 250 */
  readonly warmupMs?: number;
  /** @default 1000 */
  readonly durationMs?: number;
}

const TITLE = '3. End to end: `SELECT 1` on PostgreSQL over loopback, pool size 10';
const SQL = 'SELECT 1';
/** Latency samples kept per run; a run on loopback does far fewer. */
export const MAX_SAMPLES = 1 << 20;

export interface RunResult {
  readonly opsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `concurrency` loops of `pool.query()` until `durationMs` is up; every call's latency. */
export async function timedRun(
  pool: PgBenchPool,
  concurrency: number,
  durationMs: number,
  samples: Float64Array,
): Promise<RunResult> {
  let count = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(durationMs * 1e6));
  await runWorkers(concurrency, async () => {
    while (process.hrtime.bigint() < end) {
      const before = process.hrtime.bigint();
      await pool.query(SQL);
      if (count < samples.length) samples[count] = Number(process.hrtime.bigint() - before) / 1e6;
      count += 1;
    }
  });
  const recorded = Math.min(count, samples.length);
  return {
    opsPerSecond: (count / elapsedMs(start)) * 1_000,
    p50: percentile(samples, recorded, 50),
    p99: percentile(samples, recorded, 99),
  };
}

/** Opens `size` connections in each pool (that many statements at once, each holding 20 ms). */
export async function warmConnections(pool: PgBenchPool, size: number): Promise<void> {
  await Promise.all(Array.from({ length: size }, () => pool.query('SELECT pg_sleep(0.02)')));
}

/** How each cell of a concurrency table is timed. */
export interface CellTiming {
  readonly runs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

/**
 * Times every pool at `concurrency`, `runs` times with the pools interleaved, and appends one
 * row per pool (its median run, × the first pool's, latencies, every run) to `rows`. Returns each
 * pool's median run by throughput, with that run's latencies.
 */
export async function timeConcurrencyCells(
  pools: readonly PgBenchPool[],
  concurrency: number,
  timing: CellTiming,
  samples: Float64Array,
  rows: string[][],
): Promise<RunResult[]> {
  const { runs, warmupMs, durationMs } = timing;
  const results = pools.map((): RunResult[] => []);
  for (let round = 0; round < runs; round++) {
    for (const [index, pool] of pools.entries()) {
      collectGarbage();
      await timedRun(pool, concurrency, warmupMs, samples);
      results[index]!.push(await timedRun(pool, concurrency, durationMs, samples));
    }
  }
  const medians = results.map((cellRuns) => {
    const middle = median(cellRuns.map((run) => run.opsPerSecond));
    return cellRuns.find((run) => run.opsPerSecond === middle) ?? cellRuns[0]!;
  });
  const baseline = medians[0]!.opsPerSecond;
  for (const [index, pool] of pools.entries()) {
    const result = medians[index]!;
    rows.push([
      String(concurrency),
      pool.name,
      formatRate(result.opsPerSecond),
      formatRatio(result.opsPerSecond / baseline),
      formatMs(result.p50),
      formatMs(result.p99),
      results[index]!.map((run) => formatRate(run.opsPerSecond)).join(' / '),
    ]);
  }
  return medians;
}

/** Runs section 3 against `server` and returns its table. */
export async function runE2eBench(
  server: Pick<PostgresServer, 'connectionString'>,
  options: E2eBenchOptions = {},
): Promise<SectionOutput> {
  const concurrencies = options.concurrencies ?? [1, 16, 64];
  const size = options.size ?? 10;
  const runs = options.runs ?? 5;
  const warmupMs = options.warmupMs ?? 250;
  const durationMs = options.durationMs ?? 1_000;
  const poolOptions: PgBenchPoolOptions = {
    connectionString: server.connectionString,
    size,
    acquireTimeoutMs: 10_000,
    tag: 'e2e',
  };

  const pools: PgBenchPool[] = [
    await createRawClients(poolOptions),
    createOurPgPool(poolOptions),
    createPgPoolPeer(poolOptions),
    // The drop-in pg.Pool, configured as the pg-pool row is.
    createPgCompatPool({ ...poolOptions, tag: 'e2e-compat' }),
    createTarnPeer(poolOptions),
    createGenericPoolPeer(poolOptions),
    // The same pool handing out idle connections round robin, as the raw baseline does.
    createOurPgPool({ ...poolOptions, tag: 'e2e-fifo' }, { idleOrder: 'fifo' }),
  ];
  const samples = new Float64Array(MAX_SAMPLES);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  try {
    for (const pool of pools) await warmConnections(pool, size);
    for (const concurrency of concurrencies) {
      const medians = await timeConcurrencyCells(
        pools,
        concurrency,
        { runs, warmupMs, durationMs },
        samples,
        rows,
      );
      const raw = medians[0]!.opsPerSecond;
      const ourResult = medians[1]!.opsPerSecond;
      const pgPool = medians[2]!.opsPerSecond;
      const dropIn = medians[3]!.opsPerSecond;
      const ourFifo = medians[pools.length - 1]!.opsPerSecond;
      verdicts.push(
        `c=${concurrency}: ${formatRatio(ourResult / raw)} raw (target ≥ 0.97×), ${formatRatio(ourResult / pgPool)} pg-pool (target ≥ 1.00×); with idleOrder 'fifo' ${formatRatio(ourFifo / raw)} raw, ${formatRatio(ourFifo / pgPool)} pg-pool; the pg-compat drop-in ${formatRatio(dropIn / pgPool)} pg-pool (target ≥ 1.00×)`,
      );
    }
  } finally {
    for (const pool of pools) await pool.close();
  }

  const table: Table = {
    title: TITLE,
    headers: ['concurrency', 'pool', 'ops/s (median)', '× raw', 'p50 ms', 'p99 ms', 'runs'],
    rows,
    notes: [
      `Method: \`concurrency\` loops each awaiting \`${SQL}\` through the pool (borrow, query, give back, as each pool documents it) for ≥ ${durationMs} ms after ${warmupMs} ms of warm-up; median of ${runs} runs, pools interleaved; latency percentiles (nearest rank) from the median run, measured per call with process.hrtime.bigint().`,
      `Raw: with more loops than clients, statements wait in each pg.Client's own queue (pg 8.23 prints a deprecation warning for that on stderr). Pools that hand out the most recently returned connection keep one backend busy at concurrency 1, while round robin wakes a different backend each time.`,
      `Every pool holds ${size} connections, opened before timing. Configurations: ${pools.map((pool) => `${pool.name}: ${pool.configuration}`).join('; ')}.`,
      `enhanced-pool: ${verdicts.join('; ')}.`,
    ],
  };
  return [table];
}
