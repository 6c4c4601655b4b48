import { describe, expect, it, vi } from 'vitest';
import { ReadyWaiters } from './ready-waiters.js';

/** A promise's outcome, readable synchronously once microtasks ran. */
function track(promise: Promise<void>): { status: string; error: unknown } {
  const tracked = { status: 'pending', error: undefined as unknown };
  promise.then(
    () => {
      tracked.status = 'fulfilled';
    },
    (error: unknown) => {
      tracked.status = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

const microtasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReadyWaiters', () => {
  it('resolves every waiter together and forgets them', async () => {
    const waiters = new ReadyWaiters();
    const first = track(waiters.wait(undefined));
    const second = track(waiters.wait(undefined));
    expect(waiters.size).toBe(2);
    waiters.resolveAll();
    expect(waiters.size).toBe(0);
    await microtasks();
    expect([first.status, second.status]).toEqual(['fulfilled', 'fulfilled']);
  });

  it('rejects every waiter together with the same error', async () => {
    const waiters = new ReadyWaiters();
    const failure = new Error('connect failed below minSize');
    const first = track(waiters.wait(undefined));
    const second = track(waiters.wait(new AbortController().signal));
    waiters.rejectAll(failure);
    await microtasks();
    expect(first).toEqual({ status: 'rejected', error: failure });
    expect(second).toEqual({ status: 'rejected', error: failure });
    expect(waiters.size).toBe(0);
  });

  it('rejects at once, without registering, when the signal already aborted', async () => {
    const waiters = new ReadyWaiters();
    const reason = new Error('gave up before asking');
    const tracked = track(waiters.wait(AbortSignal.abort(reason)));
    expect(waiters.size).toBe(0);
    await microtasks();
    expect(tracked).toEqual({ status: 'rejected', error: reason });
  });

  it('an abort removes exactly its own entry and rejects with the signal reason', async () => {
    const waiters = new ReadyWaiters();
    const controller = new AbortController();
    const staying = track(waiters.wait(undefined));
    const leaving = track(waiters.wait(controller.signal));
    expect(waiters.size).toBe(2);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(waiters.size).toBe(1);
    await microtasks();
    expect(leaving).toEqual({ status: 'rejected', error: reason });
    expect(staying.status).toBe('pending');
    waiters.resolveAll();
    await microtasks();
    expect(staying.status).toBe('fulfilled');
  });

  it('stops listening to the signal once settled, so a later abort changes nothing', async () => {
    const waiters = new ReadyWaiters();
    const controller = new AbortController();
    const removeListener = vi.spyOn(controller.signal, 'removeEventListener');
    const tracked = track(waiters.wait(controller.signal));
    waiters.resolveAll();
    expect(removeListener).toHaveBeenCalledWith('abort', expect.any(Function));
    controller.abort(new Error('too late'));
    await microtasks();
    expect(tracked.status).toBe('fulfilled');
    expect(waiters.size).toBe(0);
  });

  it('settling with nobody waiting is a no-op', () => {
    const waiters = new ReadyWaiters();
    expect(() => waiters.resolveAll()).not.toThrow();
    expect(() => waiters.rejectAll(new Error('unused'))).not.toThrow();
    expect(waiters.size).toBe(0);
  });
});
