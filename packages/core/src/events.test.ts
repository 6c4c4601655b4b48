import { describe, expect, it, vi } from 'vitest';
import { TypedEmitter } from './events.js';

interface Events {
  [event: string]: unknown;
  change: { from: string; to: string };
  tick: number;
}

describe('TypedEmitter', () => {
  it('delivers payloads and unsubscribes through the returned disposable', () => {
    const emitter = new TypedEmitter<Events>();
    const listener = vi.fn();
    const subscription = emitter.on('tick', listener);
    emitter.emit('tick', 1);
    subscription.dispose();
    subscription.dispose();
    emitter.emit('tick', 2);
    expect(listener.mock.calls).toEqual([[1]]);
    expect(emitter.has('tick')).toBe(false);
  });

  it('works with `using`', () => {
    const emitter = new TypedEmitter<Events>();
    const listener = vi.fn();
    {
      using _subscription = emitter.on('change', listener);
      emitter.emit('change', { from: 'a', to: 'b' });
    }
    emitter.emit('change', { from: 'b', to: 'c' });
    expect(listener).toHaveBeenCalledOnce();
  });

  it('keeps emitting to later listeners when one throws, and surfaces the error', async () => {
    const emitter = new TypedEmitter<Events>();
    const after = vi.fn();
    emitter.on('tick', () => {
      throw new Error('listener bug');
    });
    emitter.on('tick', after);
    const surfaced = new Promise<unknown>((resolve) => {
      const original = globalThis.queueMicrotask;
      globalThis.queueMicrotask = (callback) => {
        globalThis.queueMicrotask = original;
        try {
          callback();
        } catch (error) {
          resolve(error);
        }
      };
    });
    expect(() => emitter.emit('tick', 1)).not.toThrow();
    expect(after).toHaveBeenCalledWith(1);
    expect(await surfaced).toMatchObject({ message: 'listener bug' });
  });

  it('lets a listener unsubscribe during emit without skipping others', () => {
    const emitter = new TypedEmitter<Events>();
    const second = vi.fn();
    const first = emitter.on('tick', () => first.dispose());
    emitter.on('tick', second);
    emitter.emit('tick', 1);
    emitter.emit('tick', 2);
    expect(second).toHaveBeenCalledTimes(2);
  });
});
