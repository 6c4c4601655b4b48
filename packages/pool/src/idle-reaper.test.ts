import { createFakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { IdleList } from './idle-list.js';
import { IdleReaper, type IdleReaperHost } from './idle-reaper.js';
import type { DestroyReason } from './pool-events.js';
import { ConnectionRecord, DESTROYED, IDLE, LEASED } from './pooled-connection.js';

const IDLE_TIMEOUT_MS = 1_000;

interface SetupOptions {
  readonly size: number;
  readonly targetSize: number;
  readonly idleTimeoutMs?: number;
}

function setup(options: SetupOptions) {
  const clock = createFakeClock();
  const idle = new IdleList<string>();
  const discarded: { readonly id: number; readonly reason: DestroyReason; readonly at: number }[] =
    [];
  const host: IdleReaperHost<string> & { size: number; targetSize: number; open: boolean } = {
    size: options.size,
    targetSize: options.targetSize,
    open: true,
    isOpen: () => host.open,
    readClock: () => clock.now(),
    // As the pool does: out of idle, and the slot freed.
    discard(record, reason) {
      discarded.push({ id: record.id, reason, at: clock.now() });
      if (record.state === IDLE) idle.unlink(record);
      record.state = DESTROYED;
      host.size--;
    },
  };
  const reaper = new IdleReaper(idle, clock, options.idleTimeoutMs ?? IDLE_TIMEOUT_MS, host);
  let nextId = 1;
  const record = (expiresAt = Number.POSITIVE_INFINITY): ConnectionRecord<string> => {
    const created = new ConnectionRecord(`connection-${nextId}`, nextId++, clock.now(), expiresAt);
    created.state = LEASED;
    return created;
  };
  /** Returns a connection to idle now, as the pool's release does. */
  const release = (released: ConnectionRecord<string>, now = clock.now()): void => {
    released.idleSince = now;
    released.lastUsedAt = now;
    idle.link(released);
    reaper.noteIdle(released, now);
  };
  return { clock, idle, host, reaper, discarded, record, release };
}

describe('IdleReaper', () => {
  it('closes an idle connection at the end of its lifetime, whatever the size', () => {
    const { clock, reaper, discarded, record, release } = setup({ size: 1, targetSize: 1 });
    release(record(5_000));
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(5_000);
    clock.advance(4_999);
    expect(discarded).toEqual([]);
    clock.advance(1);
    expect(discarded).toEqual([{ id: 1, reason: 'lifetime', at: 5_000 }]);
    expect(clock.pendingTimers()).toBe(0);
    reaper.stop();
  });

  it('arms nothing for the idle timeout while the pool is at its target', () => {
    const { clock, record, release } = setup({ size: 2, targetSize: 2 });
    release(record());
    release(record());
    expect(clock.pendingTimers()).toBe(0);
  });

  it('closes connections idle past idleTimeoutMs above the target, never below it', () => {
    const { clock, idle, host, discarded, record, release } = setup({ size: 3, targetSize: 1 });
    const [oldest, middle, newest] = [record(), record(), record()];
    release(oldest);
    release(middle);
    release(newest);
    clock.advance(IDLE_TIMEOUT_MS);
    expect(discarded.map(({ id, reason }) => `${id}:${reason}`)).toEqual([
      '1:idle-timeout',
      '2:idle-timeout',
    ]);
    expect(host.size).toBe(1);
    expect(idle.oldest).toBe(newest);
    // At the target now: nothing left to time out, no timer.
    expect(clock.pendingTimers()).toBe(0);
  });

  it('keeps one timer for all idle connections, moved only for an earlier due time', () => {
    const { clock, record, release } = setup({ size: 10, targetSize: 0 });
    release(record());
    clock.advance(100);
    for (let index = 0; index < 5; index++) release(record());
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(IDLE_TIMEOUT_MS);
    // A lifetime ending before that moves the one timer.
    release(record(500));
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(500);
  });

  it('re-arms, after firing, for the next connection due', () => {
    const { clock, discarded, record, release } = setup({ size: 3, targetSize: 0 });
    release(record());
    clock.advance(400);
    release(record());
    clock.advance(IDLE_TIMEOUT_MS - 400);
    expect(discarded.map(({ id }) => id)).toEqual([1]);
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(400 + IDLE_TIMEOUT_MS);
    clock.advance(400);
    expect(discarded.map(({ id }) => id)).toEqual([1, 2]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('takes a fresh reading when it arms, as the release time may be the last one', () => {
    const { clock, idle, reaper, record } = setup({ size: 2, targetSize: 0 });
    const released = record();
    clock.advance(50);
    idle.link(released);
    // The pool passes its last clock reading (0), which may be stale.
    reaper.noteIdle(released, 0);
    expect(released.lastUsedAt).toBe(50);
    expect(released.idleSince).toBe(50);
    expect(clock.nextTimerAt()).toBe(50 + IDLE_TIMEOUT_MS);
  });

  it('counts the idle timeout of a connection back from a health check from its last use', () => {
    const { clock, idle, reaper, record } = setup({ size: 2, targetSize: 0 });
    const checked = record();
    clock.advance(600);
    idle.link(checked);
    reaper.noteRelinked(checked, clock.now());
    expect(checked.lastUsedAt).toBe(0);
    expect(clock.nextTimerAt()).toBe(IDLE_TIMEOUT_MS);
  });

  it('leaves connections in use alone', () => {
    const { clock, discarded, record, release } = setup({ size: 2, targetSize: 0 });
    const leased = record(300);
    release(record(500));
    clock.advance(1_000);
    expect(leased.state).toBe(LEASED);
    expect(discarded.map(({ id }) => id)).toEqual([2]);
  });

  it('does nothing once the pool closed', () => {
    const { clock, host, discarded, record, release } = setup({ size: 2, targetSize: 0 });
    release(record(500));
    host.open = false;
    clock.advance(1_000);
    expect(discarded).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop() clears the timer, and the next release arms it again', () => {
    const { clock, reaper, record, release } = setup({ size: 2, targetSize: 0 });
    release(record());
    reaper.stop();
    expect(clock.pendingTimers()).toBe(0);
    release(record());
    expect(clock.pendingTimers()).toBe(1);
  });
});
