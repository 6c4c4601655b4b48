import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock, unrefTimer } from './clock.js';

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads the global timers lazily, so fake timers installed after import take effect', () => {
    vi.useFakeTimers();
    const callback = vi.fn();
    const start = systemClock.now();
    systemClock.setTimeout(callback, 1_000);
    vi.advanceTimersByTime(999);
    expect(callback).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledOnce();
    expect(systemClock.now() - start).toBe(1_000);
  });

  it('clears a pending timer', () => {
    vi.useFakeTimers();
    const callback = vi.fn();
    const handle = systemClock.setTimeout(callback, 10);
    systemClock.clearTimeout(handle);
    vi.advanceTimersByTime(100);
    expect(callback).not.toHaveBeenCalled();
  });

  it('is monotonic between readings', () => {
    const first = systemClock.now();
    const second = systemClock.now();
    expect(second).toBeGreaterThanOrEqual(first);
  });
});

describe('unrefTimer', () => {
  it('unrefs Node timers and ignores handles without unref', () => {
    const handle = setTimeout(() => {}, 10_000);
    unrefTimer(handle);
    expect(handle.hasRef()).toBe(false);
    clearTimeout(handle);
    expect(() => unrefTimer(42)).not.toThrow();
    expect(() => unrefTimer(null)).not.toThrow();
  });
});
