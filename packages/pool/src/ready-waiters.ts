/**
 * Callers of `pool.ready()` waiting for `minSize` connections. Settled all together: resolved
 * when the minimum is met, rejected when a connect fails below it or the pool closes. A set,
 * so an abort removes its entry in O(1).
 */
export class ReadyWaiters {
  private readonly waiters = new Set<ReadyWaiter>();

  get size(): number {
    return this.waiters.size;
  }

  wait(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const entry: ReadyWaiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        entry.onAbort = () => {
          this.waiters.delete(entry);
          reject(signal.reason);
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.waiters.add(entry);
    });
  }

  resolveAll(): void {
    for (const entry of this.take()) entry.resolve();
  }

  rejectAll(error: unknown): void {
    for (const entry of this.take()) entry.reject(error);
  }

  private take(): ReadyWaiter[] {
    if (this.waiters.size === 0) return [];
    const entries = [...this.waiters];
    this.waiters.clear();
    for (const entry of entries) {
      if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort);
    }
    return entries;
  }
}

interface ReadyWaiter {
  resolve(): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}
