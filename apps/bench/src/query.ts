import { createPgDriver } from '@enhanced-pool/driver-pg';
import { createPool } from '@enhanced-pool/pool';
import type { PostgresServer } from '@enhanced-pool/testing';
import pg from 'pg';
import postgres from 'postgres';
import { MAX_SAMPLES, type RunResult, timedRun, warmConnections } from './e2e.js';
import { collectGarbage, elapsedMs, median, runWorkers, withDeadline } from './measure.js';
import {
  createPgPoolPeer,
  createRawClients,
  type PgBenchPool,
  type PgBenchPoolOptions,
} from './pg-pools.js';
import type { SectionOutput } from './section.js';
import { formatMs, formatRate, formatRatio, type Table } from './table.js';

/** Section 6 (issue 12): `pool.query()` against raw clients, pipelined or not, and the peers. */
export interface QueryBenchOptions {
  /** @default [1, 16, 64] */
  readonly concurrencies?: readonly number[];
  /** Pool size and raw client count. @default 10 */
  readonly size?: number;
  /** Runs per cell; the median is reported. @default 5 */
  readonly runs?: number;
  /** @default 250 */
  readonly warmupMs?: number;
  /** @default 1000 */
  readonly durationMs?: number;
  /** The long run at the highest concurrency; 0 skips it. @default 30_000 */
  readonly longRunMs?: number;
  /** The windows compared in the long run (first and last). @default 5_000 */
  readonly windowMs?: number;
}

const TITLE = '6. pool.query(): `SELECT 1` on shared, pipelined connections, pool size 10';
const LONG_TITLE = '6b. pool.query() over 30 s at concurrency 64: first vs last 5 s';
const SQL = 'SELECT 1';

/** Our pool, used through `pool.query()`. */
function createOurQueryPool(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-enhanced-pool-query-${options.tag}`;
  const driver = createPgDriver({ connectionString: options.connectionString, applicationName });
  const pool = createPool({
    driver,
    minSize: 0,
    maxSize: options.size,
    acquireTimeoutMs: options.acquireTimeoutMs,
    name: applicationName,
  });
  return {
    name: 'enhanced-pool `pool.query()`',
    configuration: `createPgDriver, minSize 0, maxSize ${options.size}, \`pool.query(sql)\`; defaults otherwise (query.maxInFlightPerConnection 8)`,
    applicationName,
    query: (sql) => pool.query(sql),
    connectAttempts: () => pool.getStats().connectAttempts,
    close: () => withDeadline(pool.close({ timeoutMs: 2_000 }), 3_000, undefined),
  };
}

/** `size` pg clients with pg 8.23's `pipeline: true`, used round robin: the ceiling to aim at. */
async function createPipelinedClients(options: PgBenchPoolOptions): Promise<PgBenchPool> {
  const applicationName = `bench-raw-pipelined-${options.tag}`;
  const clients = Array.from(
    { length: options.size },
    () =>
      new pg.Client({
        connectionString: options.connectionString,
        application_name: applicationName,
        pipeline: true,
      } as pg.ClientConfig),
  );
  for (const client of clients) client.on('error', () => {});
  await Promise.all(clients.map((client) => client.connect()));
  let next = 0;
  return {
    name: `raw pipelined: ${options.size} pg.Clients, round robin`,
    configuration: `${options.size} \`pg.Client\`s with \`pipeline: true\` connected up front, \`clients[next++ % ${options.size}].query()\``,
    applicationName,
    query: (sql) => clients[next++ % options.size]!.query(sql),
    connectAttempts: () => options.size,
    close: async () => {
      await Promise.all(
        clients.map((client) =>
          withDeadline(
            client.end().catch(() => {}),
            1_000,
            undefined,
          ),
        ),
      );
    },
  };
}

/** pg-pool's own `pool.query()` (checkout, query, release in one call). */
function createPgPoolQuery(options: PgBenchPoolOptions): PgBenchPool {
  const peer = createPgPoolPeer(options);
  return { ...peer, name: `${peer.name} \`pool.query()\`` };
}

/** postgres.js (which pipelines on its own connections). */
function createPostgresJs(options: PgBenchPoolOptions): PgBenchPool {
  const applicationName = `bench-postgres-js-${options.tag}`;
  const sql = postgres(options.connectionString, {
    max: options.size,
    connection: { application_name: applicationName },
    onnotice: () => {},
  });
  return {
    name: 'postgres.js 3.4',
    configuration: `\`postgres(url, { max: ${options.size} })\`, \`sql.unsafe(sql)\``,
    applicationName,
    query: (text) => sql.unsafe(text),
    connectAttempts: () => options.size,
    close: () => withDeadline(sql.end({ timeout: 1 }), 3_000, undefined),
  };
}

/** Throughput of `pool` at `concurrency` for `durationMs`, counted per window of `windowMs`. */
async function windowedRun(
  pool: PgBenchPool,
  concurrency: number,
  durationMs: number,
  windowMs: number,
): Promise<number[]> {
  const windows = new Array<number>(Math.ceil(durationMs / windowMs)).fill(0);
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(durationMs * 1e6));
  await runWorkers(concurrency, async () => {
    for (;;) {
      const now = process.hrtime.bigint();
      if (now >= end) return;
      await pool.query(SQL);
      const at = elapsedMs(start);
      const index = Math.min(windows.length - 1, Math.floor(at / windowMs));
      windows[index]! += 1;
    }
  });
  return windows.map((count) => (count / windowMs) * 1_000);
}

/** Runs section 6 against `server` and returns its tables. */
export async function runQueryBench(
  server: Pick<PostgresServer, 'connectionString'>,
  options: QueryBenchOptions = {},
): Promise<SectionOutput> {
  const concurrencies = options.concurrencies ?? [1, 16, 64];
  const size = options.size ?? 10;
  const runs = options.runs ?? 5;
  const warmupMs = options.warmupMs ?? 250;
  const durationMs = options.durationMs ?? 1_000;
  const longRunMs = options.longRunMs ?? 30_000;
  const windowMs = options.windowMs ?? 5_000;
  const poolOptions: PgBenchPoolOptions = {
    connectionString: server.connectionString,
    size,
    acquireTimeoutMs: 10_000,
    tag: 'query',
  };

  const pools: PgBenchPool[] = [
    await createRawClients(poolOptions),
    createOurQueryPool(poolOptions),
    await createPipelinedClients(poolOptions),
    createPgPoolQuery(poolOptions),
    createPostgresJs(poolOptions),
  ];
  const samples = new Float64Array(MAX_SAMPLES);
  const rows: string[][] = [];
  const verdicts: string[] = [];
  const targets: Record<number, number> = { 1: 0.95, 16: 1.3, 64: 1.5 };
  const longRows: string[][] = [];
  const longNotes: string[] = [];
  try {
    for (const pool of pools) await warmConnections(pool, size);
    for (const concurrency of concurrencies) {
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
      const raw = medians[0]!.opsPerSecond;
      for (const [index, pool] of pools.entries()) {
        const result = medians[index]!;
        rows.push([
          String(concurrency),
          pool.name,
          formatRate(result.opsPerSecond),
          formatRatio(result.opsPerSecond / raw),
          formatMs(result.p50),
          formatMs(result.p99),
          results[index]!.map((run) => formatRate(run.opsPerSecond)).join(' / '),
        ]);
      }
      const ours = medians[1]!.opsPerSecond;
      const target = targets[concurrency];
      verdicts.push(
        `c=${concurrency}: ${formatRatio(ours / raw)} raw${target === undefined ? '' : ` (target ≥ ${target.toFixed(2)}×)`}, ${formatRatio(ours / medians[2]!.opsPerSecond)} raw pipelined, ${formatRatio(ours / medians[3]!.opsPerSecond)} pg-pool, ${formatRatio(ours / medians[4]!.opsPerSecond)} postgres.js`,
      );
    }

    if (longRunMs > 0) {
      const concurrency = Math.max(...concurrencies);
      // Ours, and postgres.js, whose throughput fell within each run when it was measured here.
      for (const index of [1, 4]) {
        const pool = pools[index]!;
        collectGarbage();
        const windows = await windowedRun(pool, concurrency, longRunMs, windowMs);
        const first = windows[0]!;
        const last = windows[windows.length - 1]!;
        longRows.push([
          pool.name,
          formatRate(first),
          formatRate(last),
          formatRatio(last / first),
          windows.map(formatRate).join(' / '),
        ]);
      }
      longNotes.push(
        `Method: ${concurrency} loops awaiting \`${SQL}\` for ${longRunMs / 1_000} s without a pause, statements counted per ${windowMs / 1_000} s window; the first window includes nothing but the run itself (connections were open and warm). Target for enhanced-pool: last ≥ 0.95× first (no decay).`,
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
      `Method: \`concurrency\` loops each awaiting \`${SQL}\` for ≥ ${durationMs} ms after ${warmupMs} ms of warm-up; median of ${runs} runs, pools interleaved, all in one run against one server; latency percentiles (nearest rank) from the median run.`,
      `Raw: 10 pg.Clients used round robin, one statement on the wire per client (pg queues the rest). Raw pipelined: the same with pg 8.23's \`pipeline: true\`, every statement written at once. pool.query() pipelines too, on at most ${size} connections it borrows from itself, at most 8 statements on the wire per connection.`,
      `Every pool holds ${size} connections, opened before timing. Configurations: ${pools.map((pool) => `${pool.name}: ${pool.configuration}`).join('; ')}.`,
      `enhanced-pool pool.query(): ${verdicts.join('; ')}.`,
    ],
  };
  const output: (Table | { title: string; unavailable: string })[] = [table];
  if (longRows.length > 0) {
    output.push({
      title: LONG_TITLE,
      headers: [
        'pool',
        `first ${windowMs / 1_000} s ops/s`,
        `last ${windowMs / 1_000} s ops/s`,
        'last / first',
        'every window',
      ],
      rows: longRows,
      notes: longNotes,
    });
  }
  return output;
}
