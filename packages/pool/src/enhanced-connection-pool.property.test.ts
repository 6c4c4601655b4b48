import {
  AcquireTimeoutError,
  CircuitOpenError,
  InvalidReleaseError,
  PoolClosedError,
  PoolExhaustedError,
} from '@enhanced-pool/core';
import type { HealthReport } from '@enhanced-pool/health-checker';
import type { FakeConnection } from '@enhanced-pool/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHarness, type Harness, type Tracked, track } from '../test/pool-harness.js';
import type { Lease } from './lease.js';

/**
 * Random interleavings of everything that can happen to a pool, checked after every step
 * against the invariants the pool promises: every caller settles by its deadline, the pool
 * never exceeds maxSize, a connection is never held twice, and the pool's count of open
 * connections always equals the driver's. Since issue 5 the steps include database outages
 * (unreachable, or refusing the credentials), health checks and sizing ticks, and one more
 * invariant: while the breaker is open or isolated no connect starts, and a half-open breaker
 * lets exactly one probe through.
 */

const ACQUIRE_TIMEOUT_MS = 1_000;

type Step =
  | { readonly kind: 'acquire'; readonly withSignal: boolean }
  | { readonly kind: 'release'; readonly index: number }
  | { readonly kind: 'destroy'; readonly index: number }
  | { readonly kind: 'releaseTwice'; readonly index: number }
  | { readonly kind: 'abort'; readonly index: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'failConnect' }
  | { readonly kind: 'failValidation' }
  | { readonly kind: 'kill'; readonly index: number; readonly noticed: boolean }
  | { readonly kind: 'connectLatency'; readonly ms: number }
  | { readonly kind: 'outage'; readonly reason: 'connection' | 'authentication' | undefined }
  | { readonly kind: 'healthCheck' }
  | { readonly kind: 'sizingTick' }
  | { readonly kind: 'close'; readonly timeoutMs: number };

const index = fc.nat({ max: 20 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('acquire'), withSignal: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release'), index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroy'), index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('releaseTwice'), index }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort'), index }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance'), ms: fc.nat({ max: 1_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failConnect') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('failValidation') }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('kill'), index, noticed: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('connectLatency'), ms: fc.nat({ max: 400 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('outage'),
      reason: fc.constantFrom('connection', 'connection', 'authentication', undefined, undefined),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('healthCheck') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sizingTick') }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('close'), timeoutMs: fc.nat({ max: 2_000 }) }),
  },
) as fc.Arbitrary<Step>;

/** A small seeded generator, so a failing run replays exactly (jitter, lifetimes). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const config = fc
  .record({
    maxSize: fc.integer({ min: 1, max: 4 }),
    minSize: fc.nat({ max: 4 }),
    maxWaiting: fc.oneof(fc.constant(Infinity), fc.nat({ max: 4 })),
    validateAfterIdleMs: fc.oneof(fc.constant(Infinity), fc.nat({ max: 300 })),
    idleOrder: fc.constantFrom('lifo' as const, 'fifo' as const),
    maxUses: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 3 })),
    maxLifetimeMs: fc.oneof(fc.constant(Infinity), fc.integer({ min: 500, max: 3_000 })),
    idleTimeoutMs: fc.oneof(fc.constant(Infinity), fc.integer({ min: 200, max: 2_000 })),
    leakDetectionMs: fc.oneof(fc.constant(0), fc.constant(500)),
    withReset: fc.boolean(),
    connectLatencyMs: fc.nat({ max: 300 }),
    validateLatencyMs: fc.nat({ max: 300 }),
    breaker: fc.boolean(),
    breakerFailures: fc.integer({ min: 1, max: 5 }),
    healthCheckIntervalMs: fc.constantFrom(0, 700),
    validationIntervalMs: fc.constantFrom(0, 500, Infinity),
    keepaliveMs: fc.constantFrom(0, 1_000),
    sizingIntervalMs: fc.constantFrom(0, 100, 500),
    maxConnectionErrors: fc.constantFrom(1, 3),
    seed: fc.nat(),
  })
  .map((value) => ({ ...value, minSize: Math.min(value.minSize, value.maxSize) }));

interface Acquire {
  readonly tracked: Tracked<Lease<FakeConnection>>;
  readonly startedAt: number;
  readonly controller: AbortController | undefined;
  aborted: boolean;
  observed: boolean;
}

class Run {
  readonly acquires: Acquire[] = [];
  readonly healthChecks: Tracked<HealthReport>[] = [];
  /** Leases handed out and not yet released or destroyed by the test. */
  readonly held: Lease<FakeConnection>[] = [];
  readonly done: Lease<FakeConnection>[] = [];
  fulfilled = 0;
  timeouts = 0;
  endedByTest = 0;
  closed = false;
  closing: Promise<void> | undefined;

  constructor(
    readonly harness: Harness,
    readonly maxSize: number,
    readonly sizingIntervalMs: number,
  ) {}

  pending(): Acquire[] {
    return this.acquires.filter((acquire) => acquire.tracked.status === 'pending');
  }

  apply(action: Step): void {
    const { pool, driver, clock } = this.harness;
    switch (action.kind) {
      case 'acquire': {
        const controller = action.withSignal ? new AbortController() : undefined;
        const tracked = track(pool.acquire({ signal: controller?.signal }));
        this.acquires.push({
          tracked,
          startedAt: clock.now(),
          controller,
          aborted: false,
          observed: false,
        });
        return;
      }
      case 'release':
      case 'destroy': {
        const lease = this.held[action.index % Math.max(1, this.held.length)];
        if (lease === undefined) return;
        this.held.splice(this.held.indexOf(lease), 1);
        this.done.push(lease);
        if (action.kind === 'release') lease.release();
        else lease.destroy(new Error('test destroyed it'));
        if (!this.closed) this.endedByTest++;
        return;
      }
      case 'releaseTwice': {
        const lease = this.done[action.index % Math.max(1, this.done.length)];
        if (lease === undefined) return;
        const before = pool.getStats();
        expect(() => lease.release()).toThrow(InvalidReleaseError);
        expect(pool.getStats()).toEqual(before);
        return;
      }
      case 'abort': {
        const pending = this.acquires.filter(
          (acquire) => acquire.controller !== undefined && !acquire.aborted,
        );
        const target = pending[action.index % Math.max(1, pending.length)];
        if (target === undefined) return;
        target.aborted = true;
        target.controller?.abort(new Error('caller gave up'));
        return;
      }
      case 'advance':
        return; // done asynchronously by the runner
      case 'failConnect':
        driver.failNextConnects(1);
        return;
      case 'failValidation':
        driver.failNextValidations(1);
        return;
      case 'kill': {
        const open = [...driver.openConnections];
        const connection = open[action.index % Math.max(1, open.length)];
        if (connection !== undefined) driver.kill(connection, { noticed: action.noticed });
        return;
      }
      case 'connectLatency':
        driver.setConnectLatency(action.ms);
        return;
      case 'outage':
        driver.failConnects(action.reason);
        return;
      case 'healthCheck':
        this.healthChecks.push(track(pool.runHealthCheck()));
        return;
      case 'sizingTick':
        return; // advanced by the runner: one sizing interval
      case 'close':
        if (this.closed) return;
        this.closed = true;
        this.closing = pool.close({ timeoutMs: action.timeoutMs });
        return;
    }
  }

  /** Records what settled since the last step and checks every invariant. */
  check(): void {
    const { pool, driver, clock } = this.harness;
    const now = clock.now();
    for (const acquire of this.acquires) {
      const { tracked } = acquire;
      if (tracked.status === 'pending') {
        // Every caller still waiting is within its deadline.
        expect(now).toBeLessThan(acquire.startedAt + ACQUIRE_TIMEOUT_MS);
        continue;
      }
      if (acquire.observed) continue;
      acquire.observed = true;
      if (tracked.status === 'fulfilled') {
        const lease = tracked.value as Lease<FakeConnection>;
        // Never handed to a caller who gave up, never a dead or closed connection.
        expect(acquire.aborted).toBe(false);
        expect(lease.connection.closed).toBe(false);
        expect(lease.connection.broken).toBe(false);
        this.fulfilled++;
        this.held.push(lease);
      } else {
        const error = tracked.error;
        if (AcquireTimeoutError.isInstance(error)) this.timeouts++;
        const known =
          AcquireTimeoutError.isInstance(error) ||
          PoolExhaustedError.isInstance(error) ||
          PoolClosedError.isInstance(error) ||
          CircuitOpenError.isInstance(error) ||
          (error as { code?: string }).code === 'CONNECT_FAILED' ||
          (acquire.aborted && (error as Error).message === 'caller gave up');
        expect(known, String(error)).toBe(true);
      }
    }

    const stats = pool.getStats();
    expect(stats.idleConnections + stats.activeConnections + stats.connecting).toBeLessThanOrEqual(
      this.maxSize,
    );
    // No connection is held by two callers, and none is idle while held.
    const heldConnections = new Set(this.held.map((lease) => lease.connection));
    expect(heldConnections.size).toBe(this.held.length);
    if (!this.closed) {
      for (const connection of heldConnections) expect(connection.closed).toBe(false);
      expect(stats.activeConnections).toBeGreaterThanOrEqual(this.held.length);
      expect(stats.activeConnections).toBeLessThanOrEqual(
        this.held.length + stats.pending + stats.healthChecking,
      );
      expect(stats.released).toBe(this.endedByTest);
    }
    // The pool accounts for exactly the connections the driver holds open.
    expect(stats.poolSize).toBe(driver.openConnections.size);
    expect(stats.created - stats.destroyed).toBe(stats.poolSize);
    expect(stats.pending).toBe(this.pending().length);
    expect(stats.acquired).toBe(this.fulfilled);
    expect(stats.timeouts).toBe(this.timeouts);
    // A health check never fails: pool and database trouble is in its report.
    for (const check of this.healthChecks) {
      if (check.status === 'rejected') expect(PoolClosedError.isInstance(check.error)).toBe(true);
    }
  }
}

/**
 * Watches every connect the pool starts against the breaker's state (followed through its
 * events, so watching never moves it): none while open or isolated, one per half-open period.
 */
function watchBreaker(harness: Harness): { violations: string[] } {
  const { pool, driver } = harness;
  const violations: string[] = [];
  let state: string = pool.connCircuitBreaker?.getState() ?? 'disabled';
  let probes = 0;
  pool.connCircuitBreaker?.on('stateChange', (event) => {
    state = event.to;
    probes = 0;
  });
  const connect = driver.connect.bind(driver);
  driver.connect = (options) => {
    if (state === 'open' || state === 'isolated') violations.push(`connect while ${state}`);
    if (state === 'half-open' && ++probes > 1) violations.push(`probe ${probes} while half-open`);
    return connect(options);
  };
  return { violations };
}

describe('pool invariants under random interleavings', () => {
  it('holds them after every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        fc.array(step, { minLength: 1, maxLength: 40 }),
        async (settings, steps) => {
          const harness = createHarness({
            maxSize: settings.maxSize,
            minSize: settings.minSize,
            maxWaiting: settings.maxWaiting,
            acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
            validateAfterIdleMs: settings.validateAfterIdleMs,
            idleOrder: settings.idleOrder,
            maxUses: settings.maxUses,
            maxLifetimeMs: settings.maxLifetimeMs,
            idleTimeoutMs: settings.idleTimeoutMs,
            leakDetectionMs: settings.leakDetectionMs,
            circuitBreaker: settings.breaker
              ? { window: { kind: 'consecutive', failures: settings.breakerFailures } }
              : false,
            connectBackoff: { fatalMs: 2_000 },
            maxConnectionErrors: settings.maxConnectionErrors,
            healthCheckIntervalMs: settings.healthCheckIntervalMs,
            validationIntervalMs: settings.validationIntervalMs,
            keepaliveMs: settings.keepaliveMs,
            sizingIntervalMs: settings.sizingIntervalMs,
            adaptiveSizing: { shrinkCooldownMs: 1_000, shrinkStepIntervalMs: 100 },
            random: seededRandom(settings.seed),
            driverOptions: {
              withReset: settings.withReset,
              connectLatencyMs: settings.connectLatencyMs,
              validateLatencyMs: settings.validateLatencyMs,
            },
          });
          const watch = watchBreaker(harness);
          const run = new Run(harness, settings.maxSize, settings.sizingIntervalMs);
          for (const action of steps) {
            run.apply(action);
            if (action.kind === 'advance') await harness.clock.advanceAsync(action.ms);
            else if (action.kind === 'sizingTick') {
              await harness.clock.advanceAsync(settings.sizingIntervalMs || 100);
            } else await harness.clock.flush();
            run.check();
            expect(watch.violations).toEqual([]);
          }

          // Wind down: the test returns what it holds, then the pool closes and everything settles.
          // Each release may serve a waiter, which then holds a lease to return in turn.
          while (run.held.length > 0) {
            for (const lease of run.held.splice(0)) {
              lease.release();
              if (!run.closed) run.endedByTest++;
            }
            await harness.clock.flush();
            run.check();
          }
          const closing = run.closing ?? harness.pool.close({ timeoutMs: 1_000 });
          run.closed = true;
          await harness.clock.advanceAsync(2_000);
          await closing;
          run.check();
          expect(watch.violations).toEqual([]);
          for (const check of run.healthChecks) expect(check.status).not.toBe('pending');
          expect(run.pending()).toHaveLength(0);
          expect(harness.driver.openConnections.size).toBe(0);
          expect(harness.pool.getStats()).toMatchObject({ poolSize: 0, connecting: 0 });
          expect(harness.clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 1_000 },
    );
    // About 2 s alone; a loaded 2-core machine running other suites can take several times that.
  }, 60_000);
});
