import { InvalidReleaseError } from '@enhanced-pool/core';
import type { ConnectionRecord } from './connection-record.js';

/**
 * One borrowing of a connection. Hand it back exactly once with `release()` (or `destroy()` if
 * the connection is suspect); `await using lease = await pool.acquire()` does that for you.
 *
 * Destructuring works (`const { connection, id, isNew } = await pool.getConnection()`), which
 * is the seed's `conn, conn_id, is_new` triple.
 */
export interface Lease<TConnection> {
  /**
   * The driver's connection. Reading it after `release()` or `destroy()` throws
   * `InvalidReleaseError` (reason `use-after-release`), so a stale reference fails loudly
   * instead of running a query on someone else's connection.
   */
  readonly connection: TConnection;
  /** Unique per acquire; `pool.releaseConnection(connection, id)` takes it. */
  readonly id: number;
  /** True the first time this physical connection is handed out. */
  readonly isNew: boolean;
  /**
   * Returns the connection to the pool (after the driver's `reset()`, when it has one). A
   * second call throws `InvalidReleaseError` (reason `already-released`) and changes nothing.
   */
  release(): void;
  /**
   * Closes the connection instead of returning it (use after a connection-class error); the
   * slot is freed and a waiter gets a new connection. `error` is reported in the
   * `connectionDestroyed` event.
   */
  destroy(error?: unknown): void;
  /** Releases unless already released or destroyed, so `await using` is always safe. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The pool's side of a lease: what `release()` and `destroy()` call. @internal */
export interface LeaseOwner<TConnection> {
  releaseLease(lease: PoolLease<TConnection>): void;
  destroyLease(lease: PoolLease<TConnection>, error: unknown): void;
}

export const ACTIVE = 0;
export const RELEASED = 1;
/** The pool closed the connection under the holder (close() deadline); release is a no-op. */
export const REVOKED = 2;
export type LeaseState = typeof ACTIVE | typeof RELEASED | typeof REVOKED;

const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;
const resolved = Promise.resolve();

/**
 * The lease implementation: one small object per acquire, methods on the prototype, so the
 * hot path allocates nothing else.
 *
 * @internal
 */
export class PoolLease<TConnection> implements Lease<TConnection> {
  state: LeaseState = ACTIVE;
  /** Where it was acquired, captured only while leak detection is on. */
  stack: string | undefined = undefined;
  leakReported = false;

  constructor(
    readonly owner: LeaseOwner<TConnection>,
    readonly record: ConnectionRecord<TConnection>,
    readonly id: number,
    readonly isNew: boolean,
    readonly acquiredAt: number,
  ) {}

  get connection(): TConnection {
    if (this.state === RELEASED) {
      throw new InvalidReleaseError(
        'use-after-release',
        `Lease ${this.id} was already released; its connection may belong to someone else now`,
      );
    }
    return this.record.connection;
  }

  release(): void {
    this.owner.releaseLease(this);
  }

  destroy(error?: unknown): void {
    this.owner.destroyLease(this, error);
  }

  [Symbol.asyncDispose](): Promise<void> {
    if (this.state !== RELEASED) this.release();
    return resolved;
  }

  /** Never prints the connection: client objects can hold credentials. */
  [inspectSymbol](): string {
    const state = ['active', 'released', 'revoked'][this.state];
    return `Lease { id: ${this.id}, connectionId: ${this.record.id}, state: '${state}' }`;
  }
}
