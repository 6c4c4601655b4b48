import { createPgDriver } from '@enhanced-pool/driver-pg';
import { createPool } from '@enhanced-pool/pool';
import type { PostgresServer } from '@enhanced-pool/testing';
import pg from 'pg';
import postgres from 'postgres';
import { MAX_SAMPLES, timeConcurrencyCells, timedRun, warmConnections } from './e2e.js';
import { collectGarbage, elapsedMs, median, runWorkers, withDeadline } from './measure.js';
import {
  createPgPoolPeer,
  createRawClients,
  type PgBenchPool,
  type PgBenchPoolOptions,
} from './pg-pools.js';
import type { SectionOutput } from './section.js';
import { formatRate, formatRatio, type Table } from './table.js';

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
  /** Long runs per pool, interleaved; the median round is reported. @default 3 */
  readonly longRounds?: number;
  /** Slices of the aged-vs-fresh comparison, each pool's share. @default 5 */
  readonly slices?: number;
  /** @default 1_000 */
  readonly sliceMs?: number;
}

const TITLE = '6. pool.query(): `SELECT 1` on shared, pipelined connections, pool size 10';
const LONG_TITLE =
  '6b. 30 s at concurrency 64: first vs last 5 s, and a 30 s-old pool against a fresh one';
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

/**
 * Throughput of `aged` and `fresh` at `concurrency`, `slices` slices of `sliceMs` each for
 * each pool, alternating in the order aged, fresh, fresh, aged, … so that a machine speeding up or slowing
 * down during the comparison weighs on both alike. Returns ops/s of each.
 */
async function alternate(
  aged: PgBenchPool,
  fresh: PgBenchPool,
  concurrency: number,
  slices: number,
  sliceMs: number,
): Promise<{ aged: number; fresh: number }> {
  let agedCount = 0;
  let freshCount = 0;
  const slice = async (pool: PgBenchPool): Promise<number> => {
    let count = 0;
    const end = process.hrtime.bigint() + BigInt(Math.round(sliceMs * 1e6));
    await runWorkers(concurrency, async () => {
      while (process.hrtime.bigint() < end) {
        await pool.query(SQL);
        count++;
      }
    });
    return count;
  };
  for (let index = 0; index < slices; index++) {
    if (index % 2 === 0) {
      agedCount += await slice(aged);
      freshCount += await slice(fresh);
    } else {
      freshCount += await slice(fresh);
      agedCount += await slice(aged);
    }
  }
  const seconds = (slices * sliceMs) / 1_000;
  return { aged: agedCount / seconds, fresh: freshCount / seconds };
}

/** One round of the long run for one pool. */
interface LongRound {
  readonly windows: number[];
  readonly ratio: number;
  readonly agedOverFresh: number;
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
  const longRounds = options.longRounds ?? 3;
  const slices = options.slices ?? 5;
  const sliceMs = options.sliceMs ?? 1_000;
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
  let longVerdict = '';
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
      const ours = medians[1]!.opsPerSecond;
      const target = targets[concurrency];
      verdicts.push(
        `c=${concurrency}: ${formatRatio(ours / raw)} raw${target === undefined ? '' : ` (target ≥ ${target.toFixed(2)}×)`}, ${formatRatio(ours / medians[2]!.opsPerSecond)} raw pipelined, ${formatRatio(ours / medians[3]!.opsPerSecond)} pg-pool, ${formatRatio(ours / medians[4]!.opsPerSecond)} postgres.js`,
      );
    }

    if (longRunMs > 0) {
      const concurrency = Math.max(...concurrencies);
      // Ours; raw pipelined clients, which hold no state of their own, so what they lose over a
      // run is the machine's; and postgres.js, whose throughput fell within each run when it was
      // measured here. A fresh copy of each is made from the same options for the comparison.
      const long: { index: number; fresh: (tag: string) => Promise<PgBenchPool> }[] = [
        { index: 1, fresh: async (tag) => createOurQueryPool({ ...poolOptions, tag }) },
        { index: 2, fresh: (tag) => createPipelinedClients({ ...poolOptions, tag }) },
        { index: 4, fresh: async (tag) => createPostgresJs({ ...poolOptions, tag }) },
      ];
      const rounds = long.map((): LongRound[] => []);
      for (let round = 0; round < longRounds; round++) {
        for (const [slot, { index, fresh: createFresh }] of long.entries()) {
          const pool = pools[index]!;
          collectGarbage();
          const windows = await windowedRun(pool, concurrency, longRunMs, windowMs);
          const fresh = await createFresh(`query-fresh-${round}`);
          try {
            await warmConnections(fresh, size);
            await timedRun(fresh, concurrency, warmupMs, samples);
            const { aged, fresh: freshRate } = await alternate(
              pool,
              fresh,
              concurrency,
              slices,
              sliceMs,
            );
            rounds[slot]!.push({
              windows,
              ratio: windows[windows.length - 1]! / windows[0]!,
              agedOverFresh: aged / freshRate,
            });
          } finally {
            await fresh.close();
          }
        }
      }
      for (const [slot, { index }] of long.entries()) {
        const pool = pools[index]!;
        const cellRounds = rounds[slot]!;
        const middle = median(cellRounds.map((round) => round.ratio));
        const shown = cellRounds.find((round) => round.ratio === middle) ?? cellRounds[0]!;
        const agedOverFresh = median(cellRounds.map((round) => round.agedOverFresh));
        longRows.push([
          pool.name,
          formatRate(shown.windows[0]!),
          formatRate(shown.windows[shown.windows.length - 1]!),
          formatRatio(middle),
          cellRounds.map((round) => formatRatio(round.ratio)).join(' / '),
          formatRatio(agedOverFresh),
          cellRounds.map((round) => formatRatio(round.agedOverFresh)).join(' / '),
          shown.windows.map(formatRate).join(' / '),
        ]);
        if (index === 1) {
          longVerdict = `enhanced-pool pool.query(): last / first ${formatRatio(middle)} (median of ${longRounds}), ${formatRatio(agedOverFresh)} of a fresh pool's throughput after ${longRunMs / 1_000} s; target ≥ 0.95× (no decay).`;
        }
      }
      longNotes.push(
        `Method: ${concurrency} loops awaiting \`${SQL}\` for ${longRunMs / 1_000} s without a pause, statements counted per ${windowMs / 1_000} s window; connections open and warm before the first. ${longRounds} rounds, pools interleaved; first, last and every window are from the round with the median last / first.`,
        `Then, in the same round, a fresh copy of that pool (same options, its own connections, warmed up) and the ${longRunMs / 1_000} s-old one take turns for ${slices} slices of ${sliceMs / 1_000} s each, in the order old, fresh, fresh, old, …: a pool that slows down with age shows below 1.00× here, while the machine's own ups and downs, which move single windows of raw clients too (see the raw pipelined row), weigh on both alike.`,
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
        'each round',
        'old / fresh',
        'each round',
        'every window',
      ],
      rows: longRows,
      notes: [...longNotes, longVerdict],
    });
  }
  return output;
}
