import type { PoolLease } from './lease.js';

/** Where a pooled connection is. Numbers, not strings: compared on every acquire and release. */
export const IDLE = 0;
export const LEASED = 1;
/** Being validated before it is handed to a waiter. */
export const CHECKING = 2;
/** Being reset (or validated) after a release. */
export const RELEASING = 3;
export const DESTROYED = 4;
export type RecordState =
  | typeof IDLE
  | typeof LEASED
  | typeof CHECKING
  | typeof RELEASING
  | typeof DESTROYED;

/**
 * The pool's bookkeeping for one physical connection. It is also the node of the idle list
 * (`older` / `newer`), so moving a connection in and out of idle allocates nothing and removing
 * one from the middle (the reaper, a health check) is O(1).
 *
 * @internal
 */
export class ConnectionRecord<TConnection> {
  state: RecordState = IDLE;
  /** How many times it was leased. */
  uses = 0;
  /** Clock reading when it last became idle (or was validated). */
  idleSince: number;
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
  }
}
