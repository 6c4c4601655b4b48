import { createPgDriver, type PgClientLike } from '@enhanced-pool/driver-pg';
import type { PostgresServer } from '@enhanced-pool/testing';
import { createPool } from '../src/enhanced-connection-pool.js';
import type { Pool } from '../src/pool.js';
import type { PoolOptions } from '../src/pool-options.js';

/** A pool on a real server with its own `application_name`, recording every driver connect. */
export interface PgTestPool {
  readonly pool: Pool<PgClientLike>;
  readonly applicationName: string;
  /** `performance.now()` at each `driver.connect()` the pool made. */
  readonly connects: number[];
}

export type PgTestPoolOptions = Partial<PoolOptions<PgClientLike>> & {
  readonly connectionString?: string;
};

/**
 * Makes pools for integration tests and closes them all afterwards (call `closeAll()` in
 * `afterEach`), so a failing test never leaves connections behind for the next one.
 */
export function pgTestPools(
  server: () => PostgresServer,
  prefix: string,
): {
  create(options?: PgTestPoolOptions): PgTestPool;
  closeAll(): Promise<void>;
} {
  const pools: Pool<PgClientLike>[] = [];
  let sequence = 0;
  return {
    create(options = {}) {
      sequence += 1;
      const applicationName = `${prefix}-${process.pid}-${sequence}`;
      const { connectionString, ...poolOptions } = options;
      const driver = createPgDriver({
        connectionString: connectionString ?? server().connectionString,
        applicationName,
      });
      const connects: number[] = [];
      const counted = Object.freeze({
        ...driver,
        connect: (callOptions: Parameters<typeof driver.connect>[0]) => {
          connects.push(performance.now());
          return driver.connect(callOptions);
        },
      });
      const pool = createPool({ driver: counted, name: applicationName, ...poolOptions });
      pools.push(pool);
      return { pool, applicationName, connects };
    },
    async closeAll() {
      await Promise.all(pools.splice(0).map((pool) => pool.close({ timeoutMs: 1_000 })));
    },
  };
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

export const round = (value: number): number => Math.round(value * 10) / 10;

/**
 * The most connect attempts the pool can make while the database is down, from its schedule.
 * With `random: () => fraction` every step is exactly that fraction of its ceiling: before the
 * breaker opens, retries wait fraction × min(capMs, baseMs · 2^(n−1)); once open, each open
 * period is 1 + fraction × (min(capMs, baseMs · 2^(k−1)) − 1) (exponentialBackoff's 1 ms floor).
 * Every gap between two attempts is at least one of those steps, so taking the smallest steps
 * first bounds how many fit in `downtimeMs`. Connects already in flight when the server died
 * (at most `maxSize`: the pool could not know yet) come on top, and so does the attempt that
 * finds the server back.
 */
export function attemptBound(
  downtimeMs: number,
  maxSize: number,
  fraction = 0.5,
  baseMs = 20,
  capMs = 100,
): number {
  const steps: number[] = [];
  for (let n = 1; n <= 4; n++) steps.push(fraction * Math.min(capMs, baseMs * 2 ** (n - 1)));
  for (let k = 1; steps.length < 100_000; k++) {
    steps.push(1 + fraction * (Math.min(capMs, baseMs * 2 ** (k - 1)) - 1));
  }
  steps.sort((left, right) => left - right);
  let total = 0;
  let fitting = 0;
  for (const step of steps) {
    if (total + step > downtimeMs) break;
    total += step;
    fitting++;
  }
  return maxSize + fitting + 1;
}

/**
 * Resolves with the moment a fresh client first connects to `connectionString` (the start of
 * the attempt that succeeded), trying every 2 ms for up to `deadlineMs`: when the server
 * accepts again, seen from outside the pool.
 */
export async function firstAccept(connectionString: string, deadlineMs: number): Promise<number> {
  const { default: pg } = await import('pg');
  const deadline = performance.now() + deadlineMs;
  while (performance.now() < deadline) {
    const attemptAt = performance.now();
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 1_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.end().catch(() => {});
      return attemptAt;
    } catch {
      await sleep(2);
    }
  }
  throw new Error(`the server did not accept a connection within ${deadlineMs} ms`);
}
