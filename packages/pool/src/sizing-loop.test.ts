import {
  type AdaptiveSizer,
  type LoadSample,
  resolveAdaptiveSizerOptions,
  type SizingContext,
  type SizingDecision,
} from '@enhanced-pool/adaptive-sizer';
import { TypedEmitter } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../test/module-stubs.js';
import { IdleList } from './idle-list.js';
import type { PoolGauges } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import { ConnectionRecord, DESTROYED, LEASED } from './pooled-connection.js';
import { type SizingHost, SizingLoop } from './sizing-loop.js';

const INTERVAL_MS = 1_000;
const MIN_SIZE = 2;

function decision(
  action: SizingDecision['action'],
  targetSize: number,
  current: number,
): SizingDecision {
  return {
    action,
    targetSize,
    current,
    reason: `${action} because the test says so`,
    utilization: 0.5,
    demand: 3,
    estimatedNeed: targetSize,
  };
}

/** A sizer that records what it is told and answers what the test scripted. */
function stubSizer() {
  const observed: LoadSample[] = [];
  const contexts: (SizingContext | undefined)[] = [];
  const state = { next: decision('hold', MIN_SIZE, MIN_SIZE) };
  const sizer: AdaptiveSizer = {
    options: resolveAdaptiveSizerOptions({ minSize: MIN_SIZE, maxSize: 10 }),
    observe: (sample) => observed.push(sample),
    decide(context) {
      contexts.push(context);
      return state.next;
    },
    reset() {},
  };
  return { sizer, observed, contexts, state };
}

function setup() {
  const clock = createFakeClock();
  const events = new TypedEmitter<PoolEvents>();
  const logger = recordingLogger();
  const idle = new IdleList<string>();
  const { sizer, observed, contexts, state } = stubSizer();
  const calls = { growToTarget: 0, refuses: false, growthLimit: Number.POSITIVE_INFINITY };
  const discarded: number[] = [];
  const gauges = { active: 0, pending: 0, connecting: 0 };
  const host: SizingHost<string> & {
    size: number;
    open: boolean;
    acquired: number;
    released: number;
  } = {
    targetSize: MIN_SIZE,
    acquired: 0,
    released: 0,
    holdSumMs: 0,
    waitSumMs: 0,
    size: MIN_SIZE,
    minSize: MIN_SIZE,
    idle,
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
    gauges: (): PoolGauges => ({
      size: host.size,
      idle: idle.count,
      active: gauges.active,
      pending: gauges.pending,
      connecting: gauges.connecting,
    }),
    // As the pool does: out of idle, and the slot freed.
    discard(record) {
      discarded.push(record.id);
      idle.unlink(record);
      record.state = DESTROYED;
      host.size--;
    },
  };
  const loop = new SizingLoop(
    {
      sizer,
      gate: { refuses: () => calls.refuses, growthLimit: () => calls.growthLimit },
      connector: {
        growToTarget() {
          calls.growToTarget++;
        },
      },
      clock,
      intervalMs: INTERVAL_MS,
      events,
      logger,
      logContext: {},
      name: 'orders',
    },
    host,
  );
  /** The pool holds `count` idle connections, oldest first. */
  const idleConnections = (count: number): ConnectionRecord<string>[] => {
    const records = Array.from({ length: count }, (_, index) => {
      const record = new ConnectionRecord(`connection-${index + 1}`, index + 1, 0, Infinity);
      record.state = LEASED;
      idle.link(record);
      return record;
    });
    host.size = count;
    return records;
  };
  const tick = (): void => {
    loop.arm();
    clock.advance(INTERVAL_MS);
  };
  return {
    clock,
    events,
    logger,
    idle,
    host,
    gauges,
    loop,
    observed,
    contexts,
    state,
    calls,
    discarded,
    idleConnections,
    tick,
  };
}

describe('SizingLoop', () => {
  it('arms one tick at a time, and none once the pool closed', () => {
    const { clock, host, loop } = setup();
    loop.arm();
    loop.arm();
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(INTERVAL_MS);
    loop.stop();
    expect(clock.pendingTimers()).toBe(0);
    host.open = false;
    loop.arm();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('feeds the sizer the gauges and the means since the last sample', () => {
    const { host, gauges, observed, idleConnections, tick } = setup();
    idleConnections(3);
    gauges.active = 1;
    gauges.pending = 4;
    gauges.connecting = 2;
    host.acquired = 10;
    host.released = 4;
    host.waitSumMs = 50;
    host.holdSumMs = 20;
    tick();
    expect(observed).toEqual([
      { size: 3 + 2, active: 1, idle: 3, pending: 4, acquired: 10, waitMs: 5, holdMs: 5 },
    ]);
    expect(host.waitSumMs).toBe(0);
    expect(host.holdSumMs).toBe(0);

    host.acquired = 16;
    host.waitSumMs = 12;
    tick();
    // Only what happened since the last sample; no hold without releases.
    expect(observed[1]).toEqual({
      size: 5,
      active: 1,
      idle: 3,
      pending: 4,
      acquired: 6,
      waitMs: 2,
    });
  });

  it('tells the sizer whether connects are refused', () => {
    const { calls, contexts, tick } = setup();
    tick();
    calls.refuses = true;
    tick();
    expect(contexts).toEqual([{ breakerOpen: false }, { breakerOpen: true }]);
  });

  it('grows: sets the target and opens toward it, emitting resized', () => {
    const { host, state, calls, events, logger, tick } = setup();
    const resized: PoolEvents['resized'][] = [];
    events.on('resized', (event) => resized.push(event));
    state.next = decision('grow', 6, MIN_SIZE);
    tick();
    expect(host.targetSize).toBe(6);
    expect(calls.growToTarget).toBe(1);
    expect(resized).toEqual([
      { action: 'grow', from: MIN_SIZE, to: 6, reason: 'grow because the test says so' },
    ]);
    expect(logger.lines).toEqual(['debug Pool "orders": grow to 6']);
  });

  it('grows no further than the gate allows (a fleet budget), never below minSize', () => {
    const { host, state, calls, tick } = setup();
    calls.growthLimit = 4;
    state.next = decision('grow', 6, MIN_SIZE);
    tick();
    expect(host.targetSize).toBe(4);
    calls.growthLimit = 0;
    tick();
    expect(host.targetSize).toBe(MIN_SIZE);
  });

  it('shrinks: retires idle surplus, least recently used first', () => {
    const { host, state, discarded, idleConnections, tick, calls } = setup();
    idleConnections(6);
    host.targetSize = 6;
    state.next = decision('shrink', 4, 6);
    tick();
    expect(discarded).toEqual([1, 2]);
    expect(host.targetSize).toBe(4);
    expect(host.size).toBe(4);
    expect(calls.growToTarget).toBe(0);
  });

  it('never retires below minSize, nor more than are idle', () => {
    const below = setup();
    below.idleConnections(3);
    below.state.next = decision('shrink', 0, 3);
    below.tick();
    expect(below.discarded).toEqual([1]);
    expect(below.host.size).toBe(MIN_SIZE);
    // The target is never set below minSize either.
    expect(below.host.targetSize).toBe(MIN_SIZE);

    const busy = setup();
    busy.idleConnections(1);
    busy.host.size = 8;
    busy.state.next = decision('shrink', 3, 8);
    busy.tick();
    expect(busy.discarded).toEqual([1]);
  });

  it('holds: changes nothing and emits nothing', () => {
    const { host, events, logger, calls, discarded, tick } = setup();
    const resized: PoolEvents['resized'][] = [];
    events.on('resized', (event) => resized.push(event));
    tick();
    expect(host.targetSize).toBe(MIN_SIZE);
    expect(calls.growToTarget).toBe(0);
    expect(discarded).toEqual([]);
    expect(resized).toEqual([]);
    expect(logger.lines).toEqual([]);
  });

  it('stops ticking when there is nothing to size', () => {
    const { clock, observed, tick } = setup();
    tick();
    expect(observed).toHaveLength(1);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10 * INTERVAL_MS);
    expect(observed).toHaveLength(1);
  });

  it('keeps ticking while there is load, connects, or surplus above minSize', () => {
    const load = setup();
    load.host.acquired = 1;
    load.tick();
    expect(load.clock.pendingTimers()).toBe(1);

    const waiting = setup();
    waiting.gauges.pending = 1;
    waiting.tick();
    expect(waiting.clock.pendingTimers()).toBe(1);

    const connecting = setup();
    connecting.gauges.connecting = 1;
    connecting.tick();
    expect(connecting.clock.pendingTimers()).toBe(1);

    const surplus = setup();
    surplus.idleConnections(MIN_SIZE + 1);
    surplus.tick();
    expect(surplus.clock.pendingTimers()).toBe(1);

    const aboveTarget = setup();
    aboveTarget.state.next = decision('grow', MIN_SIZE + 1, MIN_SIZE);
    aboveTarget.tick();
    expect(aboveTarget.clock.pendingTimers()).toBe(1);
  });

  it('does nothing on a tick after the pool closed', () => {
    const { clock, host, loop, observed } = setup();
    loop.arm();
    host.open = false;
    clock.advance(INTERVAL_MS);
    expect(observed).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});
