import type { PgClientLike } from '@enhanced-pool/driver-pg';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../src/pool.js';
import {
  attemptBound,
  firstAccept,
  percentile,
  pgTestPools,
  round,
  sleep,
} from './pg-test-pools.js';

/**
 * Recovery that costs callers nothing, against a real PostgreSQL 15: an immediate restart under
 * load (the outage grace holds callers for the probe), a long stop (after the grace callers fail
 * fast), and idle backends killed then used at once (suspicion, and the idempotent retry).
 * Figures are printed for the record.
 */

interface Failure {
  readonly startedAt: number;
  readonly ms: number;
  readonly code: string;
}

/** `count` workers looping `SELECT 1` until stopped; a worker pauses 5 ms after an error. */
function startWorkers(pool: Pool<PgClientLike>, count: number) {
  const state = {
    running: true,
    inFlight: 0,
    successes: 0,
    failures: [] as Failure[],
    /** Completion time of each successful statement with the time it started. */
    done: [] as { startedAt: number; finishedAt: number }[],
  };
  const loops = Array.from({ length: count }, async () => {
    while (state.running) {
      const startedAt = performance.now();
      state.inFlight++;
      try {
        await pool.withConnection((client) => client.query('SELECT 1'));
        state.successes++;
        state.done.push({ startedAt, finishedAt: performance.now() });
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'unknown';
        state.failures.push({ startedAt, ms: performance.now() - startedAt, code });
        state.inFlight--;
        await sleep(5);
        continue;
      }
      state.inFlight--;
    }
  });
  return {
    state,
    stop: async () => {
      state.running = false;
      await Promise.all(loops);
    },
  };
}

function countByCode(failures: readonly Failure[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const failure of failures) counts[failure.code] = (counts[failure.code] ?? 0) + 1;
  return counts;
}

describe('recovery against a real PostgreSQL', () => {
  let server: PostgresServer;
  const pools = pgTestPools(() => server, 'pool-rec');

  /**
   * Waits (up to 5 s, else fails) until the pool holds `size` connections, opens none, and the
   * server counts exactly as many for it: after a kill the pool refills in the background.
   */
  const settled = async (
    pool: Pool<PgClientLike>,
    applicationName: string,
    size: number,
  ): Promise<void> => {
    const deadline = performance.now() + 5_000;
    for (;;) {
      const stats = pool.getStats();
      const onServer = await server.countConnections({ applicationName });
      if (stats.poolSize === size && stats.connecting === 0 && onServer === size) return;
      if (performance.now() > deadline) {
        throw new Error(
          `pool did not settle at ${size}: poolSize ${stats.poolSize}, connecting ` +
            `${stats.connecting}, server ${onServer}`,
        );
      }
      await sleep(10);
    }
  };

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterEach(() => pools.closeAll());

  afterAll(async () => {
    await server?.stop();
  });

  it('rides out an immediate restart under 16 workers: errors only for statements in flight, bounded attempts, back within 50 ms', async (context) => {
    requireCapability(context, server, 'restart');
    const maxSize = 10;
    // `capMs` bounds how long the pool takes to notice the server is back: 25 ms (the default
    // is 100) for a 50 ms recovery with room for a loaded machine. Half of each ceiling: probes
    // every 1 + 0.5 × 24 = 13 ms once open, a schedule the attempt bound is computed from.
    const fraction = 0.5;
    const capMs = 25;
    const { pool, connects } = pools.create({
      maxSize,
      acquireTimeoutMs: 5_000,
      connectBackoff: { capMs },
      random: () => fraction,
    });
    const workers = startWorkers(pool, 16);
    await sleep(300);
    const { state } = workers;
    const sizeAtKill = pool.getStats().poolSize;
    const inFlightAtKill = state.inFlight;
    const failuresBefore = state.failures.length;
    const killedAt = performance.now();
    await server.kill();
    const downAt = performance.now();
    const starting = server.start();
    const acceptingAt = await firstAccept(server.connectionString, 30_000);
    const acceptedAt = performance.now();
    await starting;
    const deadline = performance.now() + 5_000;
    // A statement that succeeded after the server went down reached the new one: the old one
    // died with every statement in flight. (Calls held during the grace started before.)
    const firstAfter = () => state.done.find((entry) => entry.finishedAt > downAt)?.finishedAt;
    while (firstAfter() === undefined && performance.now() < deadline) await sleep(5);
    await sleep(200);
    await workers.stop();

    const failures = state.failures.slice(failuresBefore);
    const firstSuccess = firstAfter() ?? Number.POSITIVE_INFINITY;
    // After a crash the server's first connections are slow (it finishes recovery first): the
    // outside client that first got in took `acceptMs`. Recovery counts from when it was in.
    const acceptMs = acceptedAt - acceptingAt;
    const recoveryMs = firstSuccess - acceptedAt;
    const poolConnectsAfter = connects
      .filter((at) => at >= acceptingAt)
      .map((at) => round(at - acceptingAt));
    const attempts = connects.filter((at) => at >= killedAt && at < acceptingAt).length;
    const bound = attemptBound(acceptingAt - killedAt, maxSize, fraction, 20, capMs);
    console.log(
      '[recovery] immediate restart: down %d ms; %d errors to callers %j with %d statements ' +
        'in flight on %d connections at the kill; %d connect attempts while down (bound %d); ' +
        'an outside client that started connecting when the server began accepting got in after ' +
        '%d ms; the pool connected at %j ms after that start; its first success came %d ms ' +
        'after the outside client was in; %d successful queries',
      round(acceptingAt - killedAt),
      failures.length,
      countByCode(failures),
      inFlightAtKill,
      sizeAtKill,
      attempts,
      bound,
      round(acceptMs),
      poolConnectsAfter.slice(0, 3),
      round(recoveryMs),
      state.successes,
    );
    // A statement in flight on a connection that dies fails; nothing else does: nobody is
    // refused by the open breaker, and no acquire times out. At most one statement per
    // connection: the snapshot above is taken before `kill()` resolves, and on a loaded machine
    // more leases start in between, so the bound is the pool's size, not that snapshot.
    expect(failures.length).toBeLessThanOrEqual(maxSize);
    expect(failures.filter((failure) => failure.code === 'CIRCUIT_OPEN')).toEqual([]);
    expect(attempts).toBeLessThanOrEqual(bound);
    expect(recoveryMs).toBeLessThanOrEqual(50);
    expect(pool.connCircuitBreaker?.getState()).toBe('closed');
  }, 30_000);

  it('after the grace of a 6 s stop, fails every caller in under 100 ms', async (context) => {
    requireCapability(context, server, 'restart');
    const graceMs = 2_000;
    const { pool, connects } = pools.create({
      maxSize: 10,
      acquireTimeoutMs: 5_000,
      outageGraceMs: graceMs,
    });
    const workers = startWorkers(pool, 16);
    await sleep(300);
    const killedAt = performance.now();
    await server.kill();
    await sleep(6_000);
    await workers.stop();
    await server.start();

    const { failures } = workers.state;
    // The grace counts from the first connect that failed after the kill.
    const firstFailedConnect = connects.find((at) => at >= killedAt) ?? killedAt;
    const graceEnd = firstFailedConnect + graceMs;
    // A few ms of margin: the first failure settles shortly after its connect started.
    const afterGrace = failures.filter((failure) => failure.startedAt > graceEnd + 20);
    // Refusals of callers that arrived once the server was down, well within the grace.
    const held = failures.filter(
      (failure) =>
        failure.code === 'CIRCUIT_OPEN' &&
        failure.startedAt > killedAt &&
        failure.startedAt < graceEnd - 500,
    );
    const ms = afterGrace.map((failure) => failure.ms);
    console.log(
      '[recovery] 6 s stop: %d failures after the grace (p50 %d ms, p99 %d ms, max %d ms, %j); ' +
        '%d callers that arrived during the grace waited p50 %d ms before their error',
      afterGrace.length,
      round(percentile(ms, 0.5)),
      round(percentile(ms, 0.99)),
      round(Math.max(...ms)),
      countByCode(afterGrace),
      held.length,
      round(
        percentile(
          held.map((failure) => failure.ms),
          0.5,
        ),
      ),
    );
    expect(afterGrace.length).toBeGreaterThan(100);
    expect(Math.max(...ms)).toBeLessThan(100);
    expect(afterGrace.every((failure) => failure.code === 'CIRCUIT_OPEN')).toBe(true);
    expect(held.length).toBeGreaterThan(0);
    // Callers that came during the grace were held for the probe, not refused at once.
    for (const failure of held)
      expect(failure.startedAt + failure.ms).toBeGreaterThan(graceEnd - 50);
  }, 30_000);

  for (const idempotent of [false, true]) {
    it(`after idle backends are killed, a query and a burst of 10 at once cost at most ${idempotent ? 0 : 1} error (×3${idempotent ? ', idempotent' : ''})`, async (context) => {
      requireCapability(context, server, 'terminateBackends');
      const { pool, applicationName } = pools.create({ minSize: 10, maxSize: 10 });
      await pool.ready();
      // An admin connection opened beforehand: the kill then returns as soon as the signals are
      // sent, before the pool's clients can notice (the harshest version of "used at once").
      const admin = new pg.Client({ connectionString: server.connectionString });
      admin.on('error', () => {});
      await admin.connect();
      context.onTestFinished(() => admin.end().catch(() => {}));
      const run = (): Promise<unknown> =>
        pool.withConnection((client) => client.query('SELECT 1'), { idempotent });
      const perTrial: number[] = [];
      for (let trial = 0; trial < 3; trial++) {
        await settled(pool, applicationName, 10);
        // Every connection used once, then idle well within validateAfterIdleMs (trusted).
        await Promise.all(Array.from({ length: 10 }, run));
        await sleep(50);
        // Returns once the signals are sent, before the clients can notice: the harshest case.
        const killed = await admin.query<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE application_name = $1 AND state = 'idle'`,
          [applicationName],
        );
        expect(killed.rows.filter((row) => row.killed)).toHaveLength(10);
        let errors = 0;
        await run().catch(() => errors++);
        const burst = await Promise.allSettled(Array.from({ length: 10 }, run));
        errors += burst.filter((outcome) => outcome.status === 'rejected').length;
        perTrial.push(errors);
      }
      await settled(pool, applicationName, 10);
      const stats = pool.getStats();
      console.log(
        '[recovery] idle kill, then 1 + 10 queries at once%s: errors per trial %j; ' +
          '%d suspects validated, %d retries, %d validation failures',
        idempotent ? ' (idempotent)' : '',
        perTrial,
        stats.suspected,
        stats.retries,
        stats.validationFailures,
      );
      for (const errors of perTrial) expect(errors).toBeLessThanOrEqual(idempotent ? 0 : 1);
    });
  }
});
