import type { BreakerStateStore } from '@enhanced-pool/circuit-breaker';
import { ConnectError, PoolClosedError } from '@enhanced-pool/core';
import { describe, expect, it } from 'vitest';
import { createHarness, ignoringConnectAbort, track, warm } from '../test/pool-harness.js';
import { EnhancedConnectionPool } from './enhanced-connection-pool.js';

describe('ready', () => {
  it('resolves at once when minSize is 0', async () => {
    const { pool, driver } = createHarness();
    await pool.ready();
    expect(driver.counters.connect).toBe(0);
  });

  it('opens minSize connections in the background and resolves when they exist', async () => {
    const { pool, clock, driver } = createHarness({
      minSize: 3,
      driverOptions: { connectLatencyMs: 100 },
    });
    expect(pool.getStats().connecting).toBe(3);
    const ready = track(pool.ready());
    await clock.advanceAsync(99);
    expect(ready.status).toBe('pending');
    await clock.advanceAsync(1);
    expect(ready.status).toBe('fulfilled');
    expect(pool.getStats()).toMatchObject({ poolSize: 3, idleConnections: 3 });
    expect(driver.openConnections.size).toBe(3);
  });

  it('rejects with the ConnectError of a failed warm-up, and resolves once a retry succeeds', async () => {
    const { pool, clock, driver } = createHarness({ minSize: 1 });
    driver.failNextConnects(1, 'connection');
    const first = track(pool.ready());
    await clock.flush();
    expect(first.status).toBe('rejected');
    expect(ConnectError.isInstance(first.error)).toBe(true);
    const second = track(pool.ready());
    await clock.advanceAsync(1_000);
    expect(second.status).toBe('fulfilled');
  });

  it('rejects when the pool closes first, or when its signal aborts', async () => {
    const { pool, driver } = createHarness({ minSize: 1 });
    driver.setConnectLatency(1_000);
    const controller = new AbortController();
    const aborted = track(pool.ready({ signal: controller.signal }));
    const closed = track(pool.ready());
    controller.abort(new Error('startup cancelled'));
    await pool.close();
    expect((aborted.error as Error).message).toBe('startup cancelled');
    expect(PoolClosedError.isInstance(closed.error)).toBe(true);
    await expect(pool.ready()).rejects.toSatisfy(PoolClosedError.isInstance);
  });
});

describe('close', () => {
  it('closes idle connections and resolves, idempotently and with one shared promise', async () => {
    const harness = createHarness();
    await warm(harness, 3);
    const { pool, driver } = harness;
    const first = pool.close();
    const second = pool.close();
    expect(second).toBe(first);
    await first;
    expect(driver.openConnections.size).toBe(0);
    expect(pool.getStats()).toMatchObject({
      state: 'closed',
      poolSize: 0,
      destroyedByReason: expect.objectContaining({ close: 3 }),
    });
    expect(pool.closeAll()).toBe(first);
  });

  it("leaves its breaker's shared store: the subscription ends when the pool closes", async () => {
    const subscribed: string[] = [];
    const ended: string[] = [];
    const store: BreakerStateStore = {
      publish: async () => {},
      read: async () => undefined,
      subscribe(name) {
        subscribed.push(name);
        return { dispose: () => ended.push(name) };
      },
      acquireProbeLease: async () => ({ granted: true }),
      releaseProbeLease: async () => {},
    };
    const { pool } = createHarness({ name: 'orders', circuitBreaker: { store } });
    await pool.acquire().then((lease) => lease.release());
    expect(subscribed).toEqual(['orders']);
    expect(ended).toEqual([]);
    await pool.close();
    expect(ended).toEqual(['orders']);
  });

  it('rejects waiters and later acquires with PoolClosedError', async () => {
    const { pool, clock } = createHarness({ maxSize: 1 });
    const held = await pool.acquire();
    const waiter = track(pool.acquire());
    const closing = pool.close({ timeoutMs: 1_000 });
    await clock.flush();
    expect(PoolClosedError.isInstance(waiter.error)).toBe(true);
    await expect(pool.acquire()).rejects.toSatisfy(PoolClosedError.isInstance);
    held.release();
    await closing;
  });

  it('waits for a leased connection to come back before the timeout', async () => {
    const { pool, clock, driver } = createHarness();
    const lease = await pool.acquire();
    const closing = track(pool.close({ timeoutMs: 5_000 }));
    await clock.advanceAsync(1_000);
    expect(closing.status).toBe('pending');
    expect(pool.getStats().state).toBe('closing');
    lease.release();
    await clock.flush();
    expect(closing.status).toBe('fulfilled');
    expect(driver.openConnections.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('finishes at its timeout with a lease still held, closing everything', async () => {
    const { pool, clock, driver } = createHarness();
    const events: number[] = [];
    pool.on('closed', (event) => events.push(event.forced));
    const leaked = await pool.acquire();
    const connection = leaked.connection;
    await pool.acquire();
    const closing = track(pool.close({ timeoutMs: 2_000 }));
    await clock.advanceAsync(1_999);
    expect(closing.status).toBe('pending');
    await clock.advanceAsync(1);
    expect(closing.status).toBe('fulfilled');
    expect(driver.openConnections.size).toBe(0);
    expect(connection.closed).toBe(true);
    expect(events).toEqual([2]);
    expect(pool.getStats()).toMatchObject({ state: 'closed', poolSize: 0 });
    // The holder's late release is harmless once the pool took the connection back.
    leaked.release();
    expect(() => leaked.release()).toThrow(expect.objectContaining({ reason: 'already-released' }));
    expect(clock.pendingTimers()).toBe(0);
  });

  it('aborts connects in flight and closes a connection that arrives anyway', async () => {
    const harness = createHarness();
    const { clock, driver } = harness;
    driver.setConnectLatency(1_000);
    const pool = new EnhancedConnectionPool({ driver: ignoringConnectAbort(driver), clock });
    const waiter = track(pool.acquire());
    const closing = track(pool.close({ timeoutMs: 500 }));
    await clock.flush();
    expect(PoolClosedError.isInstance(waiter.error)).toBe(true);
    await clock.advanceAsync(500);
    expect(closing.status).toBe('fulfilled');
    await clock.advanceAsync(500);
    expect(driver.allConnections).toHaveLength(1);
    expect(driver.openConnections.size).toBe(0);
  });

  it('aborts a connect the driver honours the signal for, without waiting for it', async () => {
    const { pool, clock, driver } = createHarness({ driverOptions: { connectLatencyMs: 10_000 } });
    const waiter = track(pool.acquire());
    await pool.close();
    expect(PoolClosedError.isInstance(waiter.error)).toBe(true);
    expect(driver.counters.connectFailures).toBe(1);
    expect(clock.now()).toBe(0);
  });

  it('rejects a caller whose connection is being validated, and closes that connection', async () => {
    const harness = createHarness({ validateAfterIdleMs: 0 });
    await warm(harness, 1);
    const { pool, clock, driver } = harness;
    driver.setValidateLatency(1_000);
    const waiter = track(pool.acquire());
    await pool.close();
    expect(PoolClosedError.isInstance(waiter.error)).toBe(true);
    expect(driver.openConnections.size).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stops background timers', async () => {
    const harness = createHarness({ minSize: 1, leakDetectionMs: 1_000 });
    await harness.pool.ready();
    await warm(harness, 2);
    await harness.pool.acquire();
    expect(harness.clock.pendingTimers()).toBeGreaterThan(0);
    await harness.pool.close({ timeoutMs: 0 });
    expect(harness.clock.pendingTimers()).toBe(0);
  });

  it('refuses an invalid timeout without closing', async () => {
    const { pool } = createHarness();
    await expect(pool.close({ timeoutMs: -1 })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      option: 'timeoutMs',
    });
    expect(pool.getStats().state).toBe('open');
  });
});
