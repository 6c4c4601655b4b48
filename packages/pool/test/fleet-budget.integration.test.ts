import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createPgDriver } from '@enhanced-pool/driver-pg';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/enhanced-connection-pool.js';
import { FleetBudgetUnsupportedError } from '../src/fleet-budget-error.js';
import type { PoolStats } from '../src/pool-stats.js';

/**
 * A fleet of processes sharing one `fleetBudget` on a real PostgreSQL 15: 4 processes, each
 * a pool of `maxSize` 20 under constant load, 30 slots. The server's own count of the fleet's
 * connections is sampled every 50 ms. Each process runs the built package (`dist`).
 */

const WORKER = fileURLToPath(new URL('./fixtures/fleet-worker.mjs', import.meta.url));
const PROCESSES = 4;
const MAX_SIZE = 20;
const SLOTS = 30;
const PREFIX = `fleet-${process.pid}`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Worker {
  readonly child: ChildProcess;
  readonly name: string;
  latest: { queries: number; errors: number; stats: PoolStats } | undefined;
  errors: string[];
}

function startWorker(server: PostgresServer, index: number, key: string): Promise<Worker> {
  const name = `${PREFIX}-${index}`;
  const child = fork(WORKER, [], {
    env: {
      ...process.env,
      CONNECTION_STRING: server.connectionString,
      APPLICATION_NAME: name,
      SLOTS: String(SLOTS),
      KEY: key,
      MAX_SIZE: String(MAX_SIZE),
      BORROWERS: '25',
      HOLD_MS: '30',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const worker: Worker = { child, name, latest: undefined, errors: [] };
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`worker ${name} exited early (${code})`)));
    child.on('message', (message: { type: string; code?: string; message?: string }) => {
      if (message.type === 'started') resolve(worker);
      else if (message.type === 'stats') worker.latest = message as unknown as Worker['latest'];
      // A process shut out of a full fleet times out (its callers wait within their deadline);
      // anything else is a failure.
      else if (message.type === 'error' && message.code !== 'ACQUIRE_TIMEOUT') {
        worker.errors.push(message.message ?? '');
      }
    });
  });
}

async function stopWorker(worker: Worker): Promise<void> {
  const { child } = worker;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send('stop');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Counts the fleet's backends, by application name, on one long-lived sampling connection. */
async function sampler(server: PostgresServer) {
  const client = new pg.Client({
    connectionString: server.connectionString,
    application_name: `${PREFIX}-sampler`,
  });
  client.on('error', () => {});
  await client.connect();
  return {
    async count(exclude?: string): Promise<number> {
      const { rows } = await client.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM pg_stat_activity
         WHERE application_name LIKE $1 AND application_name <> $2 AND application_name <> $3`,
        [`${PREFIX}-%`, `${PREFIX}-sampler`, exclude ?? ''],
      );
      return rows[0]?.count ?? 0;
    },
    end: () => client.end().catch(() => {}),
  };
}

describe('fleetBudget across processes', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ maxConnections: 120 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('4 processes × maxSize 20 keep to 30 slots under load; a killed process frees its slots', async (context) => {
    requireCapability(context, server, 'concurrentBackends');
    const key = `fleet-test-${process.pid}`;
    const workers: Worker[] = [];
    const counter = await sampler(server);
    try {
      for (let index = 0; index < PROCESSES; index++) {
        workers.push(await startWorker(server, index, key));
      }
      // Under load, once every process has started and made its first connects (a process
      // joining a full fleet opens one connection beyond the budget to find that out): every
      // 50 ms for 6 s (a sample that runs late is taken at once).
      await sleep(1_000);
      const samples: number[] = [];
      const loadStarted = performance.now();
      for (let due = loadStarted; due - loadStarted < 6_000; due += 50) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        samples.push(await counter.count());
      }
      const within = samples.filter((count) => count <= SLOTS).length / samples.length;
      const most = Math.max(...samples);
      const sorted = [...samples].sort((left, right) => left - right);
      const median = sorted[Math.floor(sorted.length / 2)] as number;
      console.info(
        `[fleet] ${samples.length} samples: ${(within * 100).toFixed(1)} % ≤ ${SLOTS}, ` +
          `max ${most}, median ${median}; per process: ` +
          workers.map((worker) => worker.latest?.stats.poolSize ?? 0).join(', '),
      );
      expect(within).toBeGreaterThanOrEqual(0.95);
      expect(most).toBeLessThanOrEqual(SLOTS + PROCESSES);
      // The budget is used, not starved: the fleet wants 80 and holds about 30.
      expect(median).toBeGreaterThanOrEqual(SLOTS - 2);
      for (const worker of workers) {
        expect(worker.errors).toEqual([]);
        expect(worker.latest?.stats.fleetBudget?.slots).toBe(SLOTS);
      }

      // kill -9 the process holding the most: the server ends its sessions, their locks go, and
      // the others claim the slots.
      const victim = workers.reduce((most, worker) =>
        (worker.latest?.stats.poolSize ?? 0) > (most.latest?.stats.poolSize ?? 0) ? worker : most,
      );
      const victimHeld = victim.latest?.stats.poolSize ?? 0;
      const killedAt = performance.now();
      victim.child.kill('SIGKILL');
      const othersBefore = await counter.count(victim.name);
      let othersAfter = othersBefore;
      let recoveredMs = Number.NaN;
      while (performance.now() - killedAt < 15_000) {
        othersAfter = await counter.count(victim.name);
        const victimLeft = (await counter.count()) - othersAfter;
        if (victimLeft === 0 && othersAfter >= SLOTS - 1) {
          recoveredMs = performance.now() - killedAt;
          break;
        }
        await sleep(50);
      }
      console.info(
        `[fleet] killed a process holding ${victimHeld}: the others went from ${othersBefore} ` +
          `to ${othersAfter} connections in ${Math.round(recoveredMs)} ms`,
      );
      expect(victimHeld).toBeGreaterThan(0);
      expect(recoveredMs).toBeLessThan(12_000);
      // And still within the budget once they did.
      const after: number[] = [];
      for (let index = 0; index < 10; index++) {
        after.push(await counter.count());
        await sleep(50);
      }
      expect(Math.max(...after)).toBeLessThanOrEqual(SLOTS + PROCESSES - 1);
    } finally {
      await Promise.all(workers.map(stopWorker));
      await counter.end();
    }
    for (const worker of workers) expect(worker.errors).toEqual([]);
  }, 60_000);

  it('a pool that finds no free slot waits within its deadline, then gets the slot freed', async (context) => {
    requireCapability(context, server, 'concurrentBackends');
    const budget = { slots: 2, key: `fleet-wait-${process.pid}`, recheckMs: 50 };
    const driver = (applicationName: string) =>
      createPgDriver({ connectionString: server.connectionString, applicationName });
    const first = createPool({ driver: driver(`${PREFIX}-a`), maxSize: 5, fleetBudget: budget });
    const second = createPool({
      driver: driver(`${PREFIX}-b`),
      maxSize: 5,
      acquireTimeoutMs: 10_000,
      fleetBudget: budget,
    });
    try {
      const held = [await first.acquire(), await first.acquire()];
      expect(first.getStats().fleetBudget).toMatchObject({ slots: 2, held: 2, free: 0 });
      // Nothing free: the second pool's new connection finds no slot and is closed at once.
      const waiting = second.acquire();
      await sleep(200);
      expect(second.getStats()).toMatchObject({ poolSize: 0, pending: 1 });
      expect(second.getStats().fleetBudget?.full).toBeGreaterThanOrEqual(1);
      expect(await server.countConnections({ applicationName: `${PREFIX}-b` })).toBeLessThanOrEqual(
        1,
      );
      // A slot frees when the first pool closes one of its connections.
      held[0]?.destroy();
      const lease = await waiting;
      expect(second.getStats().fleetBudget).toMatchObject({ held: 1, claims: 1 });
      lease.release();
      held[1]?.release();
    } finally {
      await Promise.all([first.close({ timeoutMs: 1_000 }), second.close({ timeoutMs: 1_000 })]);
    }
  });

  it('refuses a driver without fleet slots, and names the option', () => {
    const driver = createPgDriver({ connectionString: server.connectionString });
    const { fleetSlots: _fleetSlots, ...withoutSlots } = driver;
    expect(() => createPool({ driver: withoutSlots, fleetBudget: { slots: 2, key: 1 } })).toThrow(
      /Invalid option "fleetBudget".*fleetSlots/,
    );
    expect(() => createPool({ driver, fleetBudget: { slots: 0, key: 1 } })).toThrow(
      /Invalid option "fleetBudget.slots": got 0, expected an integer ≥ 1/,
    );
    expect(() => createPool({ driver, fleetBudget: { slots: 3, key: -1 } })).toThrow(
      /Invalid option "fleetBudget.key": got -1/,
    );
    expect(FleetBudgetUnsupportedError.isInstance(new Error('x'))).toBe(false);
  });
});
