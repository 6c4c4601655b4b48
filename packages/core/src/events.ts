import { type Disposable, toDisposable } from './disposable.js';

/** A map from event name to the payload its listeners receive. */
export type EventMap = { [event: string]: unknown };

/** A listener for one event of an {@link EventMap}. */
export type Listener<TPayload> = (payload: TPayload) => void;

/**
 * The subscribing half of an emitter: what a package exposes to its users.
 */
export interface TypedEvents<TEvents extends EventMap> {
  /** Subscribes; dispose the result to unsubscribe. */
  on<TEvent extends keyof TEvents & string>(
    event: TEvent,
    listener: Listener<TEvents[TEvent]>,
  ): Disposable;
}

/**
 * A small, typed event emitter.
 *
 * Unlike Node's `EventEmitter` it never throws into the emitting code: a listener that throws
 * can't corrupt a pool's or breaker's state mid-transition. The error is re-thrown on a
 * microtask instead, so the bug still surfaces (as an uncaught exception) rather than vanishing.
 */
export class TypedEmitter<TEvents extends EventMap> implements TypedEvents<TEvents> {
  private readonly listeners = new Map<keyof TEvents, Listener<never>[]>();

  on<TEvent extends keyof TEvents & string>(
    event: TEvent,
    listener: Listener<TEvents[TEvent]>,
  ): Disposable {
    const current = this.listeners.get(event) ?? [];
    // Copy on write: an emit in progress keeps iterating the array it started with.
    this.listeners.set(event, [...current, listener as Listener<never>]);
    return toDisposable(() => {
      const list = this.listeners.get(event);
      if (!list) return;
      const next = list.filter((candidate) => candidate !== listener);
      if (next.length === 0) this.listeners.delete(event);
      else this.listeners.set(event, next);
    });
  }

  /**
   * True when someone listens. Hot paths check this before building a payload, so an
   * unobserved event costs one map lookup.
   */
  has(event: keyof TEvents): boolean {
    return this.listeners.has(event);
  }

  emit<TEvent extends keyof TEvents & string>(event: TEvent, payload: TEvents[TEvent]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const listener of list) {
      try {
        (listener as Listener<TEvents[TEvent]>)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Drops every listener (used on close so nothing keeps a closed object reachable). */
  clear(): void {
    this.listeners.clear();
  }
}
