import { EventEmitter } from 'node:events';
import type { Driver, DriverDescription, ErrorReason } from '@enhanced-pool/core';

/**
 * The trivial resource every pool hands out in the in-memory sections, so that what is timed is
 * the pool's own bookkeeping, not a driver.
 */
export interface MemoryResource {
  readonly id: number;
}

/** A memory driver plus how many connects it was asked for. */
export interface MemoryDriver extends Driver<MemoryResource> {
  readonly counters: { connects: number; closes: number; open: number };
}

const resolved = Promise.resolve();

/**
 * The least a {@link Driver} can do: `connect()` resolves a new `{ id }` (after `connectLatencyMs`
 * when set, on a real timer), `validate()` resolves, `isBroken()` says no. No reset, no I/O.
 */
export function createMemoryDriver(connectLatencyMs = 0): MemoryDriver {
  const counters = { connects: 0, closes: 0, open: 0 };
  let nextId = 1;
  return {
    specificationVersion: 'v1',
    name: 'memory',
    counters,
    connect({ signal }) {
      counters.connects += 1;
      const resource: MemoryResource = { id: nextId++ };
      if (connectLatencyMs <= 0) {
        counters.open += 1;
        return Promise.resolve(resource);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          counters.open += 1;
          resolve(resource);
        }, connectLatencyMs);
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
    validate: () => resolved,
    isBroken: () => false,
    close() {
      counters.closes += 1;
      counters.open -= 1;
      return resolved;
    },
    classifyError: (): ErrorReason => 'unknown',
    describe: (): DriverDescription => ({ 'db.system.name': 'memory' }),
  };
}

/** Counts what factories handed to the peer pools did, like the driver counters above. */
export interface FactoryCounters {
  connects: number;
  closes: number;
  open: number;
}

/** A `create()` for tarn and generic-pool: a new `{ id }` after `connectLatencyMs`. */
export function memoryFactory(
  counters: FactoryCounters,
  connectLatencyMs = 0,
): { create(): Promise<MemoryResource>; destroy(resource: MemoryResource): Promise<void> } {
  let nextId = 1;
  return {
    create() {
      counters.connects += 1;
      const resource: MemoryResource = { id: nextId++ };
      if (connectLatencyMs <= 0) {
        counters.open += 1;
        return Promise.resolve(resource);
      }
      return new Promise((resolve) =>
        setTimeout(() => {
          counters.open += 1;
          resolve(resource);
        }, connectLatencyMs),
      );
    },
    destroy() {
      counters.closes += 1;
      counters.open -= 1;
      return resolved;
    },
  };
}

/**
 * A fake `pg.Client` with exactly what pg-pool 3.14 touches: `connect(callback)`, `end(callback)`,
 * the `error`/`end` events (it is an EventEmitter), `isConnected()`, `ref()`/`unref()`, and the
 * `_queryable`/`_ending` flags pg-pool reads on release. pg-pool assigns `release` itself.
 */
export class FakePgClient extends EventEmitter {
  static counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
  static connectLatencyMs = 0;
  static nextId = 1;

  readonly id = FakePgClient.nextId++;
  _queryable = false;
  _ending = false;

  connect(callback: (error?: Error) => void): void {
    const counters = (this.constructor as typeof FakePgClient).counters;
    const latency = (this.constructor as typeof FakePgClient).connectLatencyMs;
    counters.connects += 1;
    const done = (): void => {
      this._queryable = true;
      counters.open += 1;
      callback();
    };
    if (latency > 0) setTimeout(done, latency);
    else queueMicrotask(done);
  }

  isConnected(): boolean {
    return this._queryable;
  }

  end(callback?: () => void): Promise<void> {
    const counters = (this.constructor as typeof FakePgClient).counters;
    if (!this._ending) {
      this._ending = true;
      this._queryable = false;
      counters.closes += 1;
      counters.open -= 1;
    }
    queueMicrotask(() => {
      this.emit('end');
      callback?.();
    });
    return resolved;
  }

  ref(): void {}
  unref(): void {}
}

/** A fresh FakePgClient class with its own counters and connect latency. */
export function fakePgClientClass(
  connectLatencyMs = 0,
): typeof FakePgClient & { counters: FactoryCounters } {
  return class extends FakePgClient {
    static override counters: FactoryCounters = { connects: 0, closes: 0, open: 0 };
    static override connectLatencyMs = connectLatencyMs;
  };
}
