import { TypedEmitter } from '@enhanced-pool/core';
import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { inertLeaseOwner, recordingLogger } from '../test/module-stubs.js';
import { LeakDetector, type LeakDetectorHost } from './leak-detector.js';
import { PoolCounters } from './pool-counters.js';
import type { PoolEvents } from './pool-events.js';
import { ConnectionRecord, LEASED, PoolLease } from './pooled-connection.js';

const LEAK_DETECTION_MS = 1_000;

const leaseOwner = inertLeaseOwner<string>();

function setup() {
  const clock = createFakeClock();
  const counters = new PoolCounters();
  const events = new TypedEmitter<PoolEvents>();
  const logger = recordingLogger();
  const records = new Map<string, ConnectionRecord<string>>();
  const host: LeakDetectorHost<string> & { open: boolean } = {
    records,
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
  };
  const detector = new LeakDetector(
    {
      clock,
      leakDetectionMs: LEAK_DETECTION_MS,
      counters,
      events,
      logger,
      logContext: {},
      name: 'orders',
    },
    host,
  );
  let nextId = 1;
  /** Leases a new connection now, as the pool's grant does, and tells the detector. */
  const grant = (): PoolLease<string> => {
    const id = nextId++;
    const record = new ConnectionRecord(`connection-${id}`, id, 0, Infinity);
    const lease = new PoolLease(leaseOwner, record, 100 + id, false, clock.now());
    lease.stack = `Error: Lease acquired here\n    at handler${id}`;
    record.state = LEASED;
    record.lease = lease;
    records.set(record.connection, record);
    detector.noteGranted(clock.now());
    return lease;
  };
  const release = (lease: PoolLease<string>): void => {
    lease.record.lease = undefined;
  };
  return { clock, counters, events, logger, host, detector, grant, release };
}

describe('LeakDetector', () => {
  it('keeps one sweep timer however many leases are granted', () => {
    const { clock, grant } = setup();
    grant();
    clock.advance(10);
    grant();
    grant();
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(LEAK_DETECTION_MS);
  });

  it('reports a lease held past leakDetectionMs, with where it was acquired', () => {
    const { clock, counters, events, logger, grant } = setup();
    const reported: PoolEvents['leakDetected'][] = [];
    events.on('leakDetected', (event) => reported.push(event));
    const lease = grant();
    clock.advance(LEAK_DETECTION_MS - 1);
    expect(counters.leaks).toBe(0);
    clock.advance(1);
    expect(counters.leaks).toBe(1);
    expect(lease.leakReported).toBe(true);
    expect(reported).toEqual([
      { connectionId: 1, leaseId: 101, heldMs: LEAK_DETECTION_MS, stack: lease.stack },
    ]);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(/^warn .*connection 1 \(lease 101\) held for 1000 ms/);
    expect(logger.lines[0]).toContain('at handler1');
  });

  it('reports each lease once, and stops sweeping when none is left to report', () => {
    const { clock, counters, grant } = setup();
    grant();
    clock.advance(400);
    grant();
    clock.advance(LEAK_DETECTION_MS - 400);
    expect(counters.leaks).toBe(1);
    // Re-armed for the second lease.
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(400 + LEAK_DETECTION_MS);
    clock.advance(400);
    expect(counters.leaks).toBe(2);
    // Both still held, both reported: nothing to sweep for.
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(10 * LEAK_DETECTION_MS);
    expect(counters.leaks).toBe(2);
  });

  it('does not report a lease released in time, nor re-arm for it', () => {
    const { clock, counters, grant, release } = setup();
    const lease = grant();
    clock.advance(LEAK_DETECTION_MS - 1);
    release(lease);
    clock.advance(1);
    expect(counters.leaks).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('arms again for a lease granted after the sweep stopped', () => {
    const { clock, counters, grant } = setup();
    grant();
    clock.advance(LEAK_DETECTION_MS);
    expect(clock.pendingTimers()).toBe(0);
    grant();
    expect(clock.nextTimerAt()).toBe(2 * LEAK_DETECTION_MS);
    clock.advance(LEAK_DETECTION_MS);
    expect(counters.leaks).toBe(2);
  });

  it('reports nothing once the pool closed', () => {
    const { clock, counters, host, grant } = setup();
    grant();
    host.open = false;
    clock.advance(LEAK_DETECTION_MS);
    expect(counters.leaks).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop() clears the sweep timer', () => {
    const { clock, counters, detector, grant } = setup();
    grant();
    detector.stop();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(LEAK_DETECTION_MS);
    expect(counters.leaks).toBe(0);
  });
});
