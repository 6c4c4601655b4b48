import type { FleetSlotClaim, FleetSlots } from '@enhanced-pool/core';
import { createFakeClock, createFakeDriver, type FakeConnection } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { track } from '../test/pool-harness.js';
import { EnhancedConnectionPool } from './enhanced-connection-pool.js';
import { FleetBudgetUnsupportedError } from './fleet-budget-error.js';
import { hashFleetKey, resolveFleetBudget } from './fleet-budget-options.js';

/**
 * The budget's rules with the fake driver and fake clock: a slot table stands in for the
 * server's advisory locks (a connection's slot is freed when it closes), and `taken` slots held
 * by "other processes" are set by each test.
 */
function fleet(options: { slots: number; taken?: number; unsupported?: boolean }) {
  const clock = createFakeClock();
  const base = createFakeDriver({ clock, withReset: false });
  const held = new Map<FakeConnection, number>();
  const others = new Set<number>();
  for (let slot = 0; slot < (options.taken ?? 0); slot++) others.add(slot);
  const taken = (): Set<number> => new Set([...others, ...held.values()]);
  let claimsInFlight = 0;
  let mostClaimsInFlight = 0;
  const fleetSlots: FleetSlots<FakeConnection> = {
    async claim(connection, budget): Promise<FleetSlotClaim> {
      claimsInFlight++;
      mostClaimsInFlight = Math.max(mostClaimsInFlight, claimsInFlight);
      await Promise.resolve();
      claimsInFlight--;
      if (options.unsupported) return { status: 'unsupported', detail: 'shared server session' };
      const used = taken();
      for (let slot = 0; slot < budget.slots; slot++) {
        if (!used.has(slot)) {
          held.set(connection, slot);
          return { status: 'claimed', slot, free: budget.slots - used.size - 1 };
        }
      }
      return { status: 'full', free: 0 };
    },
    async countFree(_connection, budget) {
      return { status: 'counted', free: budget.slots - taken().size };
    },
  };
  const driver = Object.assign(Object.create(base) as typeof base, {
    fleetSlots,
    close: (connection: FakeConnection) => {
      held.delete(connection);
      return base.close(connection);
    },
  });
  const pool = new EnhancedConnectionPool<FakeConnection>({
    driver,
    clock,
    random: () => 0.5,
    maxSize: 5,
    acquireTimeoutMs: 20_000,
    sizingIntervalMs: 0,
    healthCheckIntervalMs: 0,
    fleetBudget: { slots: options.slots, key: 7 },
  });
  return {
    clock,
    base,
    pool,
    others,
    held,
    mostClaimsInFlight: () => mostClaimsInFlight,
  };
}

describe('fleetBudget options', () => {
  const driver = Object.assign(createFakeDriver(), {
    fleetSlots: { claim: async () => ({ status: 'full', free: 0 }), countFree: async () => ({}) },
  });

  it('names the option, the value and the range', () => {
    expect(() => resolveFleetBudget({ key: 1 }, driver)).toThrow(
      'Invalid option "fleetBudget.slots": got undefined, expected an integer ≥ 1 and ≤ 1000000',
    );
    expect(() => resolveFleetBudget({ slots: 2.5, key: 1 }, driver)).toThrow(
      /"fleetBudget.slots": got 2.5/,
    );
    expect(() => resolveFleetBudget({ slots: 3, key: 2 ** 31 }, driver)).toThrow(
      /"fleetBudget.key": got 2147483648, expected an integer ≥ 0 and ≤ 2147483647, or a non-empty string/,
    );
    expect(() => resolveFleetBudget({ slots: 3, key: '' }, driver)).toThrow(/"fleetBudget.key"/);
    expect(() => resolveFleetBudget({ slots: 3, key: 1, recheckMs: 5 }, driver)).toThrow(
      /"fleetBudget.recheckMs": got 5/,
    );
    expect(() => resolveFleetBudget({ slots: 3, key: 1, slot: 2 }, driver)).toThrow(
      /"fleetBudget.slot": got 2, expected no such option/,
    );
    expect(() => resolveFleetBudget(30, driver)).toThrow(/"fleetBudget": got 30/);
    expect(() => resolveFleetBudget({ slots: 3, key: 1 }, createFakeDriver())).toThrow(
      /"fleetBudget".*driver "fake" has no fleetSlots/,
    );
  });

  it('hashes a string key to the same 31-bit integer everywhere', () => {
    expect(resolveFleetBudget({ slots: 3, key: 'orders' }, driver)).toEqual({
      slots: 3,
      key: hashFleetKey('orders'),
      recheckMs: 1_000,
    });
    expect(hashFleetKey('orders')).toBe(hashFleetKey('orders'));
    expect(hashFleetKey('orders')).not.toBe(hashFleetKey('orders-2'));
    expect(hashFleetKey('orders')).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

describe('fleetBudget in the pool', () => {
  it('claims one connection at a time and stops at the budget', async () => {
    const { clock, pool, base, mostClaimsInFlight } = fleet({ slots: 3 });
    const acquires = Array.from({ length: 5 }, () => track(pool.acquire()));
    await clock.advanceAsync(10);
    expect(acquires.filter((acquire) => acquire.status === 'fulfilled')).toHaveLength(3);
    expect(mostClaimsInFlight()).toBe(1);
    expect(base.openConnections.size).toBe(3);
    expect(pool.getStats().fleetBudget).toEqual({
      slots: 3,
      key: 7,
      held: 3,
      free: 0,
      claims: 3,
      full: 0,
      rechecks: 0,
    });
    expect(pool.getStats()).toMatchObject({ poolSize: 3, pending: 2, connecting: 0 });
    await pool.close({ timeoutMs: 0 });
  });

  it('closes at once a connection that finds no slot, and waits for one within the deadline', async () => {
    const { clock, pool, base, others } = fleet({ slots: 2, taken: 2 });
    const waiting = track(pool.acquire());
    await clock.advanceAsync(1);
    expect(pool.getStats().fleetBudget).toMatchObject({ held: 0, full: 1 });
    expect(base.counters.connect).toBe(1);
    expect(base.openConnections.size).toBe(0);
    // Holding nothing to look on, the pool looks again (by connecting) after 8 × recheckMs.
    await clock.advanceAsync(7_990);
    expect(base.counters.connect).toBe(1);
    others.delete(0);
    await clock.advanceAsync(20);
    expect(waiting.status).toBe('fulfilled');
    expect(pool.getStats().fleetBudget).toMatchObject({ held: 1, claims: 1, full: 1 });
    waiting.value?.release();
    await pool.close();
  });

  it('fails a waiter that no slot frees for at its deadline', async () => {
    const { clock, pool, base } = fleet({ slots: 1, taken: 1 });
    const waiting = track(pool.acquire());
    await clock.advanceAsync(20_000);
    expect(waiting.status).toBe('rejected');
    expect(waiting.error).toMatchObject({ code: 'ACQUIRE_TIMEOUT' });
    expect(base.openConnections.size).toBe(0);
    expect(pool.getStats().poolSize).toBe(0);
    await pool.close();
  });

  it('looks again on a connection it holds, and grows once a slot is free', async () => {
    const { clock, pool, base, others } = fleet({ slots: 2, taken: 1 });
    const first = await pool.acquire();
    const second = track(pool.acquire());
    await clock.advanceAsync(1);
    expect(second.status).toBe('pending');
    others.clear();
    // The look is due after recheckMs; it waits its turn behind the queued caller.
    await clock.advanceAsync(1_000);
    first.release();
    await clock.flush();
    expect(second.status).toBe('fulfilled');
    second.value?.release();
    await clock.advanceAsync(1);
    expect(pool.getStats().fleetBudget).toMatchObject({ rechecks: 1, free: 1, held: 1 });
    // Two callers: one gets the idle connection, the other a new one on the free slot.
    const both = [track(pool.acquire()), track(pool.acquire())];
    await clock.advanceAsync(1);
    expect(both.map((acquire) => acquire.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(base.openConnections.size).toBe(2);
    for (const acquire of both) acquire.value?.release();
    await pool.close();
  });

  it('refuses connections that cannot hold a slot with FleetBudgetUnsupportedError', async () => {
    const { clock, pool, base } = fleet({ slots: 2, unsupported: true });
    const waiting = track(pool.acquire());
    await clock.advanceAsync(1);
    expect(waiting.status).toBe('rejected');
    expect(FleetBudgetUnsupportedError.isInstance(waiting.error)).toBe(true);
    expect(waiting.error).toMatchObject({
      code: 'CONNECT_FAILED',
      reason: 'configuration',
      key: 7,
      detail: 'shared server session',
    });
    expect(base.openConnections.size).toBe(0);
    // Held off like any configuration failure: no connect until connectBackoff.fatalMs.
    await expect(pool.acquire()).rejects.toSatisfy(FleetBudgetUnsupportedError.isInstance);
    expect(base.counters.connect).toBe(1);
    expect(pool.isReady()).toBe(false);
    await pool.close();
  });

  it('holds no timer once nobody waits for a slot', async () => {
    const { clock, pool } = fleet({ slots: 1, taken: 1 });
    const controller = new AbortController();
    const waiting = track(pool.acquire({ signal: controller.signal }));
    await clock.advanceAsync(1);
    controller.abort();
    await clock.advanceAsync(10_000);
    expect(waiting.status).toBe('rejected');
    expect(clock.pendingTimers()).toBe(0);
    await pool.close();
  });
});
