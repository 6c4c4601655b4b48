import type { CircuitState } from '@enhanced-pool/circuit-breaker';
import { CircuitOpenError, ConnectError, type Driver, PoolClosedError } from '@enhanced-pool/core';
import type { HealthCheckDestroyReason, IdleConnectionInfo } from '@enhanced-pool/health-checker';
import { createFakeClock, FakeDriverError } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { type HealthTargetHost, PoolHealthTarget } from './health-target.js';
import { IdleList } from './idle-list.js';
import { PoolCounters } from './pool-counters.js';
import type { DestroyReason } from './pool-events.js';
import { ConnectionRecord, DESTROYED, MAINTAINED, RELEASING } from './pooled-connection.js';
import { ReadyWaiters } from './ready-waiters.js';

type HostCall =
  | {
      readonly call: 'returnRecord';
      readonly id: number;
      readonly state: number;
      readonly now: number;
      readonly fromHealthCheck: boolean;
    }
  | { readonly call: 'discard'; readonly id: number; readonly reason: DestroyReason }
  | { readonly call: 'suspectIdle'; readonly id: number };

interface SetupOptions {
  readonly breakerState?: CircuitState;
  readonly minSize?: number;
}

function setup(options: SetupOptions = {}) {
  const clock = createFakeClock({ start: 10_000 });
  // The target only passes the driver on to the checker.
  const driver: Driver<string> = {
    specificationVersion: 'v1',
    name: 'stub',
    connect: () => Promise.resolve('connection'),
    validate: () => Promise.resolve(),
    close: () => Promise.resolve(),
    classifyError: () => 'unknown',
    describe: () => ({ 'db.system.name': 'stub' }),
  };
  const counters = new PoolCounters();
  const idle = new IdleList<string>();
  const calls: HostCall[] = [];
  const readyWaiters = new ReadyWaiters();
  const connector = {
    ensureMinimumCalls: 0,
    connecting: 0,
    lastConnectError: undefined as ConnectError | undefined,
    ensureMinimum() {
      connector.ensureMinimumCalls++;
    },
  };
  const gate = {
    refusing: false,
    refuses: () => gate.refusing,
    refusalError: (last: ConnectError | undefined) =>
      new CircuitOpenError(250, { cause: last, poolName: 'orders' }),
  };
  const host: HealthTargetHost<string> & { open: boolean; size: number } = {
    size: 0,
    minSize: options.minSize ?? 2,
    maxSize: 10,
    idle,
    counters,
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
    gauges: () => ({ size: host.size, idle: idle.count, active: 1, pending: 3, connecting: 0 }),
    returnRecord(record, now, fromHealthCheck) {
      calls.push({
        call: 'returnRecord',
        id: record.id,
        state: record.state,
        now,
        fromHealthCheck,
      });
    },
    // As the pool does: a connection the checker holds is forgotten by the target.
    discard(record, reason) {
      calls.push({ call: 'discard', id: record.id, reason });
      if (record.state === MAINTAINED) target.forget();
      record.state = DESTROYED;
      host.size--;
    },
    suspectIdle(cause) {
      calls.push({ call: 'suspectIdle', id: cause.id });
    },
  };
  const breaker =
    options.breakerState === undefined
      ? undefined
      : { getState: () => options.breakerState as CircuitState };
  const target: PoolHealthTarget<string> = new PoolHealthTarget(
    { driver, breaker, connector, gate, readyWaiters, name: 'orders' },
    host,
  );
  /** An idle connection last validated at `lastValidatedAt`. */
  const idleConnection = (id: number, lastValidatedAt: number): ConnectionRecord<string> => {
    const record = new ConnectionRecord(`connection-${id}`, id, 1_000 + id, 90_000 + id);
    record.lastUsedAt = 2_000 + id;
    record.lastValidatedAt = lastValidatedAt;
    idle.link(record);
    host.size++;
    return record;
  };
  return {
    clock,
    driver,
    counters,
    idle,
    calls,
    readyWaiters,
    connector,
    gate,
    host,
    target,
    idleConnection,
  };
}

const everything = (): boolean => true;

describe('PoolHealthTarget', () => {
  describe('checkoutIdle', () => {
    it('takes idle connections out least recently validated first, up to the limit', () => {
      const { idle, target, idleConnection } = setup();
      const recent = idleConnection(1, 5_000);
      const oldest = idleConnection(2, 1_000);
      const middle = idleConnection(3, 3_000);
      const checkouts = target.checkoutIdle(everything, 2);
      expect(checkouts.map((checkout) => checkout.info.id)).toEqual([2, 3]);
      expect(checkouts[0]?.connection).toBe('connection-2');
      expect([oldest.state, middle.state]).toEqual([MAINTAINED, MAINTAINED]);
      expect(target.checkedOut).toBe(2);
      // Out of circulation: only the one not taken is still idle.
      expect(idle.count).toBe(1);
      expect(idle.oldest).toBe(recent);
    });

    it('offers select the connection and its timestamps, and takes only what it accepts', () => {
      const { target, idleConnection } = setup();
      idleConnection(1, 1_000);
      idleConnection(2, 2_000);
      const offered: [IdleConnectionInfo, string][] = [];
      const checkouts = target.checkoutIdle((info, connection) => {
        offered.push([info, connection]);
        return info.id === 2;
      }, 10);
      expect(offered).toEqual([
        [
          { id: 1, createdAt: 1_001, lastUsedAt: 2_001, lastValidatedAt: 1_000, expiresAt: 90_001 },
          'connection-1',
        ],
        [
          { id: 2, createdAt: 1_002, lastUsedAt: 2_002, lastValidatedAt: 2_000, expiresAt: 90_002 },
          'connection-2',
        ],
      ]);
      expect(checkouts.map((checkout) => checkout.info.id)).toEqual([2]);
    });

    it('hands out nothing with a limit of 0 or once the pool closed', () => {
      const { host, idle, target, idleConnection } = setup();
      idleConnection(1, 1_000);
      expect(target.checkoutIdle(everything, 0)).toEqual([]);
      host.open = false;
      expect(target.checkoutIdle(everything, 5)).toEqual([]);
      expect(idle.count).toBe(1);
    });
  });

  describe('returnToIdle', () => {
    it('returns a validated connection, in transit, recording the validation', () => {
      const { clock, calls, target, idleConnection } = setup();
      const record = idleConnection(1, 1_000);
      const [checkout] = target.checkoutIdle(everything, 1);
      clock.advance(5);
      checkout?.returnToIdle({ validated: true });
      expect(calls).toEqual([
        { call: 'returnRecord', id: 1, state: RELEASING, now: 10_005, fromHealthCheck: true },
      ]);
      expect(record.lastValidatedAt).toBe(10_005);
      expect(record.idleSince).toBe(10_005);
      expect(record.lastUsedAt).toBe(2_001);
      expect(target.checkedOut).toBe(0);
    });

    it('returns a connection that was only looked at without touching its timestamps', () => {
      const { calls, target, idleConnection } = setup();
      const record = idleConnection(1, 1_000);
      const idleSince = record.idleSince;
      target.checkoutIdle(everything, 1)[0]?.returnToIdle();
      expect(calls).toHaveLength(1);
      expect(record.lastValidatedAt).toBe(1_000);
      expect(record.idleSince).toBe(idleSince);
    });

    it('settles a checkout once: a stale checkout cannot touch the next check', () => {
      const { host, idle, calls, target, idleConnection } = setup();
      const record = idleConnection(1, 1_000);
      const [first] = target.checkoutIdle(everything, 1);
      first?.returnToIdle();
      // Back in idle, as the pool puts it, and checked out again.
      idle.link(record);
      const [second] = target.checkoutIdle(everything, 1);
      expect(second?.info.id).toBe(1);
      first?.returnToIdle();
      first?.destroy('broken');
      expect(calls).toHaveLength(1);
      expect(record.state).toBe(MAINTAINED);
      expect(target.checkedOut).toBe(1);
      second?.destroy('expired');
      expect(calls.at(-1)).toEqual({ call: 'discard', id: 1, reason: 'lifetime' });
      expect(host.size).toBe(0);
    });

    it('ignores a connection the pool already took back (closed under the checker)', () => {
      const { host, calls, target, idleConnection } = setup();
      const record = idleConnection(1, 1_000);
      const [checkout] = target.checkoutIdle(everything, 1);
      host.discard(record, 'close');
      checkout?.returnToIdle({ validated: true });
      expect(calls).toEqual([{ call: 'discard', id: 1, reason: 'close' }]);
      expect(target.checkedOut).toBe(0);
    });
  });

  describe('destroy', () => {
    const cases: [HealthCheckDestroyReason, DestroyReason, boolean, boolean][] = [
      // checker's reason, pool's reason, counted as a failed validation, siblings suspected
      ['broken', 'broken', false, true],
      ['validation-failed', 'validation-failed', true, true],
      ['keepalive-failed', 'keepalive-failed', true, true],
      ['expired', 'lifetime', false, false],
    ];
    for (const [reason, destroyReason, counted, suspected] of cases) {
      it(`maps ${reason} to ${destroyReason}`, () => {
        const { counters, calls, target, idleConnection } = setup();
        idleConnection(1, 1_000);
        target.checkoutIdle(everything, 1)[0]?.destroy(reason);
        expect(calls).toEqual([
          ...(suspected ? [{ call: 'suspectIdle', id: 1 }] : []),
          { call: 'discard', id: 1, reason: destroyReason },
        ]);
        expect(counters.validationFailures).toBe(counted ? 1 : 0);
        expect(counters.errors).toBe(counted ? 1 : 0);
        expect(target.checkedOut).toBe(0);
      });
    }

    it('discards as close, counting and suspecting nothing, once the pool is closing', () => {
      const { counters, host, calls, target, idleConnection } = setup();
      idleConnection(1, 1_000);
      const [checkout] = target.checkoutIdle(everything, 1);
      host.open = false;
      checkout?.destroy('validation-failed');
      expect(calls).toEqual([{ call: 'discard', id: 1, reason: 'close' }]);
      expect(counters.validationFailures).toBe(0);
    });
  });

  describe('fillToMinimum', () => {
    const signal = () => new AbortController().signal;

    it('resolves 0 without connecting once the pool closed', async () => {
      const { host, connector, target } = setup();
      host.open = false;
      await expect(target.fillToMinimum({ signal: signal() })).resolves.toBe(0);
      expect(connector.ensureMinimumCalls).toBe(0);
    });

    it('resolves at once when minSize is met', async () => {
      const { host, connector, target } = setup();
      host.size = 2;
      await expect(target.fillToMinimum({ signal: signal() })).resolves.toBe(0);
      expect(connector.ensureMinimumCalls).toBe(1);
    });

    it('rejects at once with the refusal when no connect may start', async () => {
      const { connector, gate, target } = setup();
      gate.refusing = true;
      connector.lastConnectError = new ConnectError(
        'connection',
        new FakeDriverError('connection'),
      );
      const error = await target.fillToMinimum({ signal: signal() }).catch((caught) => caught);
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).cause).toBe(connector.lastConnectError);
    });

    it('rejects with the last connect error, or PoolClosedError, when nothing is connecting', async () => {
      const { connector, target } = setup();
      await expect(target.fillToMinimum({ signal: signal() })).rejects.toBeInstanceOf(
        PoolClosedError,
      );
      connector.lastConnectError = new ConnectError('timeout', new FakeDriverError('timeout'));
      await expect(target.fillToMinimum({ signal: signal() })).rejects.toBe(
        connector.lastConnectError,
      );
    });

    it('waits for the connects in flight, through ready(), and honours the signal', async () => {
      const { clock, host, connector, readyWaiters, target } = setup();
      connector.connecting = 2;
      let settled = false;
      const filled = target.fillToMinimum({ signal: signal() }).then((replaced) => {
        settled = true;
        return replaced;
      });
      await clock.flush();
      expect(settled).toBe(false);
      expect(readyWaiters.size).toBe(1);
      host.size = 2;
      readyWaiters.resolveAll();
      await expect(filled).resolves.toBe(0);

      host.size = 0;
      const controller = new AbortController();
      const aborted = target.fillToMinimum({ signal: controller.signal });
      const reason = new Error('check cancelled');
      controller.abort(reason);
      await expect(aborted).rejects.toBe(reason);
    });

    it('reports the replacements opened for minSize since the last fill, once', async () => {
      const { host, target } = setup();
      host.size = 2;
      // The first fill: not replacements.
      target.noteCreated(true, false);
      target.noteCreated(true, true);
      // Later connects for the minimum replace connections the pool lost.
      target.noteCreated(true, true);
      target.noteCreated(false, true);
      target.noteCreated(true, true);
      await expect(target.fillToMinimum({ signal: signal() })).resolves.toBe(2);
      await expect(target.fillToMinimum({ signal: signal() })).resolves.toBe(0);
    });
  });

  it('quotes the pool figures and the breaker state', () => {
    const { target, idleConnection } = setup({ breakerState: 'half-open' });
    idleConnection(1, 0);
    expect(target.stats()).toEqual({
      size: 1,
      minSize: 2,
      maxSize: 10,
      idle: 1,
      active: 1,
      pending: 3,
    });
    expect(target.breakerState?.()).toBe('half-open');
    expect(setup().target.breakerState).toBeUndefined();
  });
});
