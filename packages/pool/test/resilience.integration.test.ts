import { ConnectError } from '@enhanced-pool/core';
import { type PostgresServer, startPostgres } from '@enhanced-pool/testing';
import { requireCapability } from '@enhanced-pool/testing/conformance';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attemptBound, percentile, pgTestPools, round, sleep } from './pg-test-pools.js';

/**
 * Issue 5 against a real PostgreSQL 15: a server that goes away for 5 s under load, idle
 * backends killed between health checks, a wrong password, and a load step the adaptive sizer
 * follows. The figures are printed (console.log) for the record.
 */

describe('pool resilience against a real PostgreSQL', () => {
  let server: PostgresServer;
  const pools = pgTestPools(() => server, 'pool-res');
  const createTestPool = pools.create;

  beforeAll(async () => {
    server = await startPostgres();
  });

  afterEach(() => pools.closeAll());

  afterAll(async () => {
    await server?.stop();
  });

  it('fails fast while the server is down, keeps attempts within the backoff bound, and serves again within 100 ms', async (context) => {
    requireCapability(context, server, 'restart');
    const maxSize = 10;
    const { pool, connects } = createTestPool({
      minSize: 2,
      maxSize,
      acquireTimeoutMs: 5_000,
      random: () => 0.5,
    });
    await pool.ready();
    const breaker = pool.connCircuitBreaker;
    let openedAt = Number.POSITIVE_INFINITY;
    breaker?.on('stateChange', (event) => {
      if (event.to === 'open' && openedAt === Number.POSITIVE_INFINITY) {
        openedAt = performance.now();
      }
    });

    // 16 workers run SELECT 1 in a loop; after an error a worker pauses 5 ms, as a caller would.
    let running = true;
    let killedAt = Number.POSITIVE_INFINITY;
    let downAt = Number.POSITIVE_INFINITY;
    let firstSuccessAfterKill = Number.POSITIVE_INFINITY;
    const failures: { startedAt: number; ms: number; code: string }[] = [];
    let successes = 0;
    const workers = Array.from({ length: 16 }, async () => {
      while (running) {
        const startedAt = performance.now();
        try {
          await pool.withConnection((client) => client.query('SELECT 1'));
          successes++;
          const finishedAt = performance.now();
          // Statements started once kill() returned: the server was down for them.
          if (startedAt > downAt && finishedAt < firstSuccessAfterKill) {
            firstSuccessAfterKill = finishedAt;
          }
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'unknown';
          failures.push({ startedAt, ms: performance.now() - startedAt, code });
          await sleep(5);
        }
      }
    });

    await sleep(300);
    killedAt = performance.now();
    await server.kill();
    downAt = performance.now();
    const connectsBeforeKill = connects.filter((at) => at < killedAt).length;
    await sleep(5_000);

    // A raw probe, separate from the pool: when does the server accept connections again?
    let acceptingAt = Number.POSITIVE_INFINITY;
    let connectedAt = Number.POSITIVE_INFINITY;
    const startCalledAt = performance.now();
    const starting = server.start();
    const acceptDeadline = performance.now() + 30_000;
    while (acceptingAt === Number.POSITIVE_INFINITY) {
      if (performance.now() > acceptDeadline) {
        throw new Error('the restarted server accepted no connection within 30 s');
      }
      const attemptAt = performance.now();
      const client = new pg.Client({ connectionString: server.connectionString });
      client.on('error', () => {});
      try {
        await client.connect();
        acceptingAt = attemptAt;
        connectedAt = performance.now();
        await client.end();
      } catch {
        await sleep(2);
      }
    }
    await starting;
    const startResolvedAt = performance.now();
    const deadline = performance.now() + 5_000;
    while (firstSuccessAfterKill === Number.POSITIVE_INFINITY && performance.now() < deadline) {
      await sleep(5);
    }
    await sleep(200);
    running = false;
    await Promise.all(workers);

    const attemptsWhileDown = connects.filter((at) => at >= killedAt && at < acceptingAt).length;
    const downtimeMs = acceptingAt - killedAt;
    const bound = attemptBound(downtimeMs, maxSize);
    const whileOpen = failures.filter(
      (failure) => failure.code === 'CIRCUIT_OPEN' && failure.startedAt >= openedAt,
    );
    const failMs = whileOpen.map((failure) => failure.ms);
    // From when the raw probe was in: a server's first connections after a crash are slow (it
    // finishes recovery first), and the pool's can be no faster.
    const recoveryMs = firstSuccessAfterKill - connectedAt;
    const byCode: Record<string, number> = {};
    for (const failure of failures) byCode[failure.code] = (byCode[failure.code] ?? 0) + 1;
    console.log(
      '[resilience] server down %d ms (kill() took %d ms): breaker opened %d ms after the kill; ' +
        '%d errors to callers %j; fail-fast while open: p50 %d ms, p99 %d ms, max %d ms over %d calls; ' +
        'connect attempts while down %d (bound %d; %d before the kill); ' +
        'first pool success %d ms after a raw probe first connected (%d ms after start() resolved, ' +
        'start() took %d ms); %d successful queries',
      round(downtimeMs),
      round(downAt - killedAt),
      round(openedAt - killedAt),
      failures.length,
      byCode,
      round(percentile(failMs, 0.5)),
      round(percentile(failMs, 0.99)),
      round(Math.max(...failMs)),
      failMs.length,
      attemptsWhileDown,
      bound,
      connectsBeforeKill,
      round(recoveryMs),
      round(firstSuccessAfterKill - startResolvedAt),
      round(startResolvedAt - startCalledAt),
      successes,
    );

    expect(openedAt).toBeLessThan(acceptingAt);
    expect(whileOpen.length).toBeGreaterThan(100);
    expect(percentile(failMs, 0.5)).toBeLessThan(5);
    expect(attemptsWhileDown).toBeLessThanOrEqual(bound);
    expect(recoveryMs).toBeLessThanOrEqual(100);
    expect(breaker?.getState()).toBe('closed');
    expect(await pool.withConnection((client) => client.query('SELECT 1 AS one'))).toMatchObject({
      rows: [{ one: 1 }],
    });
  }, 30_000);

  it('replaces idle backends terminated between health checks at the next check', async (context) => {
    requireCapability(context, server, 'terminateBackends');
    const { pool, applicationName } = createTestPool({
      minSize: 4,
      maxSize: 4,
      healthCheckIntervalMs: 0,
      validationIntervalMs: 0,
    });
    await pool.ready();
    const quiet = await pool.runHealthCheck();
    expect(quiet).toMatchObject({ healthy: true, broken: 0, failed: 0, replaced: 0 });

    // Resolves once the backends are gone; whether each client noticed yet decides only whether
    // the check counts it broken (known to the client) or failed (found by validation).
    expect(await server.terminateBackends({ applicationName, state: 'idle' })).toBe(4);
    const report = await pool.runHealthCheck();
    console.log(
      '[resilience] health check after 4 idle backends were terminated: %d broken (known to ' +
        'the client), %d failed validation, %d replaced, %d ms, healthy %s',
      report.broken,
      report.failed,
      report.replaced,
      round(report.durationMs),
      report.healthy,
    );
    expect(report.broken + report.failed).toBe(4);
    expect(report).toMatchObject({ healthy: true, replaced: 4, size: 4 });
    expect(await server.countConnections({ applicationName })).toBe(4);
    const errors: unknown[] = [];
    await Promise.all(
      Array.from({ length: 40 }, () =>
        pool
          .withConnection((client) => client.query('SELECT 1'))
          .catch((error: unknown) => {
            errors.push(error);
          }),
      ),
    );
    expect(errors).toEqual([]);
  });

  it('gives the first caller a clear authentication error for a wrong password, without a retry storm', async (context) => {
    requireCapability(context, server, 'passwordAuth');
    const role = server.passwordRole;
    if (role === undefined) throw new Error('passwordAuth without a password role');
    const wrongPassword = 'not-the-password-4711';
    const url = new URL(role.connectionString);
    url.password = wrongPassword;
    const { pool, connects } = createTestPool({ connectionString: url.toString(), maxSize: 4 });

    const startedAt = performance.now();
    const first = await pool
      .withConnection((client) => client.query('SELECT 1'))
      .catch((error: unknown) => error);
    const firstMs = performance.now() - startedAt;
    expect(ConnectError.isInstance(first)).toBe(true);
    const error = first as ConnectError;
    expect(error.reason).toBe('authentication');
    expect(error.message).toContain('authentication');
    expect(error.message).not.toContain(wrongPassword);

    // More callers, together and over time: each gets the same reason, at once.
    const later: unknown[] = await Promise.all(
      Array.from({ length: 20 }, () => pool.acquire().catch((caught: unknown) => caught)),
    );
    for (let round = 0; round < 10; round++) {
      later.push(await pool.acquire().catch((caught: unknown) => caught));
      await sleep(20);
    }
    for (const caught of later) expect((caught as ConnectError).reason).toBe('authentication');
    console.log(
      '[resilience] wrong password: first caller rejected after %d ms with "%s"; %d later ' +
        'callers rejected the same way; driver connects: %d; ready: %s',
      round(firstMs),
      error.message,
      later.length,
      connects.length,
      pool.isReady(),
    );
    expect(connects.length).toBeLessThanOrEqual(2);
    expect(pool.isReady()).toBe(false);
    expect(pool.isLive()).toBe(true);
  });

  it('grows toward the demand of a 2 → 32 worker step, then shrinks back to minSize', async (context) => {
    requireCapability(context, server, 'concurrentBackends');
    const minSize = 4;
    const maxSize = 40;
    const { pool, applicationName } = createTestPool({
      minSize,
      maxSize,
      idleTimeoutMs: 0,
      healthCheckIntervalMs: 0,
      sizingIntervalMs: 100,
      adaptiveSizing: {
        growthHalfLifeMs: 200,
        shrinkHalfLifeMs: 500,
        shrinkCooldownMs: 1_000,
        shrinkStepIntervalMs: 100,
        maxShrinkStep: 4,
      },
    });
    await pool.ready();
    const resized: string[] = [];
    pool.on('resized', (event) => resized.push(`${event.action} ${event.from}→${event.to}`));

    const errors: unknown[] = [];
    let active = 0;
    const startWorkers = (count: number): { stop: () => Promise<void> } => {
      let running = true;
      const loops = Array.from({ length: count }, async () => {
        while (running) {
          try {
            await pool.withConnection((client) => client.query('SELECT pg_sleep(0.01)'));
          } catch (error) {
            errors.push(error);
          }
        }
      });
      active += count;
      return {
        stop: async () => {
          running = false;
          await Promise.all(loops);
          active -= count;
        },
      };
    };
    const timeline: string[] = [];
    const sizes: number[] = [];
    const startedAt = performance.now();
    const sample = async (durationMs: number): Promise<number[]> => {
      const phase: number[] = [];
      const until = performance.now() + durationMs;
      while (performance.now() < until) {
        await sleep(100);
        const stats = pool.getStats();
        const size = stats.poolSize + stats.connecting;
        phase.push(size);
        sizes.push(size);
        timeline.push(
          `${Math.round((performance.now() - startedAt) / 100) / 10}s:${active}w/${size}c`,
        );
      }
      return phase;
    };

    const base = startWorkers(2);
    const before = await sample(1_000);
    const step = startWorkers(30);
    const during = await sample(2_000);
    await step.stop();
    const after = await sample(4_000);
    await base.stop();

    console.log(
      '[resilience] load step 2 → 32 → 2 workers (SELECT pg_sleep(0.01)), minSize %d, ' +
        'maxSize %d: size before %d, peak %d, end %d; sizing decisions: %s; timeline %s',
      minSize,
      maxSize,
      before.at(-1),
      Math.max(...during),
      after.at(-1),
      resized.join(', '),
      timeline.join(' '),
    );
    expect(errors).toEqual([]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(maxSize);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(minSize);
    expect(Math.max(...during)).toBeGreaterThanOrEqual(32);
    expect(resized.some((entry) => entry.startsWith('grow'))).toBe(true);
    expect(after.at(-1)).toBe(minSize);
    expect(pool.getStats().destroyedByReason.shrink).toBeGreaterThan(0);
    await sleep(100);
    expect(await server.countConnections({ applicationName })).toBe(pool.getStats().poolSize);
  }, 30_000);
});
