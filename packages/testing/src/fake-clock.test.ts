import { describe, expect, it, vi } from 'vitest';
import { createFakeClock } from './fake-clock.js';

describe('createFakeClock', () => {
  it('fires timers in due order, ties in scheduling order, only when time reaches them', () => {
    const clock = createFakeClock({ start: 100 });
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b'), 20);
    clock.setTimeout(() => fired.push('a'), 10);
    clock.setTimeout(() => fired.push('c'), 20);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(11);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.now()).toBe(120);
  });

  it('runs timers scheduled by a callback inside the advanced window, at their own time', () => {
    const clock = createFakeClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    clock.advance(100);
    expect(seen).toEqual([10, 15]);
    expect(clock.now()).toBe(100);
  });

  it('clears timers and reports what is pending', () => {
    const clock = createFakeClock();
    const callback = vi.fn();
    const handle = clock.setTimeout(callback, 5);
    clock.setTimeout(() => {}, 7);
    expect(clock.pendingTimers()).toBe(2);
    expect(clock.nextTimerAt()).toBe(5);
    clock.clearTimeout(handle);
    clock.advance(10);
    expect(callback).not.toHaveBeenCalled();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('lets promise continuations run between timers with advanceAsync', async () => {
    const clock = createFakeClock();
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    const steps: number[] = [];
    const task = (async () => {
      await sleep(10);
      steps.push(clock.now());
      await sleep(10);
      steps.push(clock.now());
    })();
    await clock.advanceAsync(25);
    await task;
    expect(steps).toEqual([10, 20]);
  });

  it('stops a self-rescheduling loop in runAllAsync', async () => {
    const clock = createFakeClock();
    const loop = (): void => {
      clock.setTimeout(loop, 1);
    };
    loop();
    await expect(clock.runAllAsync(50)).rejects.toThrow(/more than 50 timers/);
  });
});
