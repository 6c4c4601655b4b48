import { vi } from 'vitest';

/** A promise whose settlement the test controls. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = unknown>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise continuation run. */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Captures what the breaker re-throws on a microtask (listener and classify errors) instead of
 * letting it become an uncaught exception. Restore with the returned function.
 */
export function captureSurfacedErrors(): { errors: unknown[]; restore: () => void } {
  const errors: unknown[] = [];
  const original = globalThis.queueMicrotask;
  const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
    original(() => {
      try {
        callback();
      } catch (error) {
        errors.push(error);
      }
    });
  });
  return { errors, restore: () => spy.mockRestore() };
}

export const failure = (message = 'boom'): Error => new Error(message);
