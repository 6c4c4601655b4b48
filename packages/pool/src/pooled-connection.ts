import { type ErrorReason, InvalidReleaseError } from '@enhanced-pool/core';
import type { Lease } from './lease.js';

/*
 * The pool's internal view of a connection and of one lease on it. They refer to each other,
 * so they live in one file.
 */

/** Where a pooled connection is. Numbers, not strings: compared on every acquire and release. */
export const IDLE = 0;
export const LEASED = 1;
/** Being validated before it is handed to a waiter. */
export const CHECKING = 2;
/** Being reset (or validated) after a release. */
export const RELEASING = 3;
export const DESTROYED = 4;
/** Taken out of the idle list by the health checker, to be validated or pinged. */
export const MAINTAINED = 5;
export type RecordState =
  | typeof IDLE
  | typeof LEASED
  | typeof CHECKING
  | typeof RELEASING
  | typeof DESTROYED
  | typeof MAINTAINED;

/**
 * The pool's bookkeeping for one physical connection. It is also the node of the idle list
 * (`older` / `newer`), so moving a connection in and out of idle allocates nothing and removing
 * one from the middle (the reaper, a health check) is O(1).
 */
export class ConnectionRecord<TConnection> {
  state: RecordState = IDLE;
  /**
   * How many times it was leased. Set to `Infinity` once the connection must not be lent
   * again (too many errors), so release's `uses >= maxUses` check retires it at no extra cost.
   */
  uses = 0;
  /**
   * Clock reading from which it is trusted without a round trip: when it was last released,
   * opened or validated. Hand-out validates it when this is older than `validateAfterIdleMs`.
   */
  idleSince: number;
  /** When a borrower last returned it (or it was opened): what the idle timeout counts from. */
  lastUsedAt: number;
  /** When a validation last succeeded (opening counts as one). */
  lastValidatedAt: number;
  /** Operation errors classified `timeout` (see `maxConnectionErrors`). */
  errors = 0;
  /** The lease holding it, while `state` is LEASED. */
  lease: PoolLease<TConnection> | undefined = undefined;
  /** Neighbour released before this one (toward the reaped end of the idle list). */
  older: ConnectionRecord<TConnection> | undefined = undefined;
  /** Neighbour released after this one (toward the handed-out end). */
  newer: ConnectionRecord<TConnection> | undefined = undefined;

  constructor(
    readonly connection: TConnection,
    readonly id: number,
    readonly createdAt: number,
    /** Clock reading from which it must not be handed out again; `Infinity` for never. */
    readonly expiresAt: number,
  ) {
    this.idleSince = createdAt;
    this.lastUsedAt = createdAt;
    this.lastValidatedAt = createdAt;
  }
}

/**
 * When a connection opened at `createdAt` must stop being handed out: `maxLifetimeMs` shortened
 * by a random fraction up to `maxLifetimeJitter`, so connections opened together don't all
 * expire (and reconnect) together.
 */
export function lifetimeEnd(
  createdAt: number,
  options: {
    readonly maxLifetimeMs: number;
    readonly maxLifetimeJitter: number;
    readonly random: () => number;
  },
): number {
  const { maxLifetimeMs, maxLifetimeJitter, random } = options;
  if (maxLifetimeMs === Infinity) return Infinity;
  return createdAt + maxLifetimeMs * (1 - maxLifetimeJitter * random());
}

/** The pool's side of a lease: what `release()` and `destroy()` call. */
export interface LeaseOwner<TConnection> {
  releaseLease(lease: PoolLease<TConnection>): void;
  destroyLease(lease: PoolLease<TConnection>, error: unknown): void;
  reportLeaseError(lease: PoolLease<TConnection>, error: unknown): ErrorReason;
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
 */
export class PoolLease<TConnection> implements Lease<TConnection> {
  state: LeaseState = ACTIVE;
  /** Where it was acquired, captured only while leak detection is on. */
  stack: string | undefined = undefined;
  leakReported = false;
  /**
   * It made a round trip at hand-out (a validation, or the connect it was opened by), so a
   * failure on it is not a socket that died while idle.
   */
  validated = false;

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

  reportError(error: unknown): ErrorReason {
    return this.owner.reportLeaseError(this, error);
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
