/**
 * A handle that undoes a registration. Works with `using` (`Symbol.dispose`) and with an
 * explicit `dispose()` call for code that can't use the syntax yet.
 */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** Wraps a cleanup function as an idempotent {@link Disposable}. */
export function toDisposable(cleanup: () => void): Disposable {
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    cleanup();
  };
  return { dispose, [Symbol.dispose]: dispose };
}
