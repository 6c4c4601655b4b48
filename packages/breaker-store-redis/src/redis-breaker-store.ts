import {
  type BreakerStateStore,
  type BreakerStoreCallOptions,
  BreakerStoreError,
  type BreakerStoreOperation,
  type BreakerStoreSubscription,
  InvalidBreakerOptionError,
  type ProbeLease,
  type SharedBreakerState,
} from '@enhanced-pool/circuit-breaker';
import { ACQUIRE_LEASE, PUBLISH_CLOSED, PUBLISH_OPEN, READ, RELEASE_LEASE } from './scripts.js';

/**
 * The members of an ioredis 5 client the store uses for commands. Declared here rather than
 * imported, so an ioredis release is not a breaking change of this package.
 */
export interface RedisClientLike {
  /** ioredis's connection status: `'wait'`, `'connecting'`, `'connect'`, `'ready'`, `'reconnecting'`, `'close'`, `'end'`. */
  readonly status: string;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same options, for subscribing (a subscribed connection can't run other commands). */
  duplicate(): RedisSubscriberLike;
}

/** The members of an ioredis 5 client the store uses to subscribe. */
export interface RedisSubscriberLike {
  readonly status: string;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'message', listener: (channel: string, message: string) => void): unknown;
  removeListener(event: 'ready', listener: () => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  disconnect(): void;
}

/** Options of {@link createRedisBreakerStore}. */
export interface RedisBreakerStoreOptions {
  /** An ioredis 5 client for the store's commands. The store never closes it. */
  readonly client: RedisClientLike;
  /**
   * A client used only to subscribe. When you give one, you close it; otherwise the store makes
   * one with `client.duplicate()` on the first breaker that subscribes, and `close()` ends it.
   * @default `client.duplicate()`
   */
  readonly subscriber?: RedisSubscriberLike;
  /**
   * Prefix of every key and channel. Breakers share state when their name and prefix match;
   * use one prefix per environment sharing a Redis.
   * @default 'enhanced-pool:breaker:'
   */
  readonly keyPrefix?: string;
  /**
   * Called with connection and protocol errors that have no caller to reject (the
   * subscription's connection dropping, a malformed message). Breakers learn of failed
   * operations through their `storeError` event either way.
   * @default ignore them
   */
  readonly onError?: (error: Error) => void;
}

/** A {@link BreakerStateStore} on Redis. */
export interface RedisBreakerStore extends BreakerStateStore {
  /**
   * Stops every subscription and disconnects the subscriber the store made. Breakers using the
   * store go on with local state. Safe to call twice.
   */
  close(): Promise<void>;
}

/** States in which ioredis would queue a command until a reconnect instead of sending it. */
const UNREACHABLE = new Set(['reconnecting', 'close', 'end']);

interface Channel {
  readonly name: string;
  readonly listeners: Set<(state: SharedBreakerState) => void>;
}

function resolveOptions(options: RedisBreakerStoreOptions): Required<
  Pick<RedisBreakerStoreOptions, 'client' | 'keyPrefix'>
> & {
  subscriber: RedisSubscriberLike | undefined;
  onError: (error: Error) => void;
} {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidBreakerOptionError('options', options, 'an object with a `client`');
  }
  const client = options.client as unknown;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof (client as RedisClientLike).eval !== 'function' ||
    typeof (client as RedisClientLike).duplicate !== 'function'
  ) {
    throw new InvalidBreakerOptionError('client', client, 'an ioredis 5 client (new Redis(url))');
  }
  const subscriber = options.subscriber as unknown;
  if (
    subscriber !== undefined &&
    (typeof subscriber !== 'object' ||
      subscriber === null ||
      typeof (subscriber as RedisSubscriberLike).subscribe !== 'function')
  ) {
    throw new InvalidBreakerOptionError('subscriber', subscriber, 'an ioredis 5 client');
  }
  const keyPrefix = options.keyPrefix ?? 'enhanced-pool:breaker:';
  if (typeof keyPrefix !== 'string') {
    throw new InvalidBreakerOptionError('keyPrefix', keyPrefix, 'a string');
  }
  const onError = options.onError ?? (() => {});
  if (typeof onError !== 'function') {
    throw new InvalidBreakerOptionError('onError', onError, 'a function');
  }
  return {
    client: options.client,
    keyPrefix,
    subscriber: options.subscriber,
    onError,
  };
}

function parseStored(value: unknown): { attempt: number; source: string } | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const parsed = JSON.parse(value) as { attempt?: unknown; source?: unknown };
    if (typeof parsed.attempt === 'number' && typeof parsed.source === 'string') {
      return { attempt: parsed.attempt, source: parsed.source };
    }
  } catch {
    // Not ours: treated as absent.
  }
  return undefined;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Creates a {@link BreakerStateStore} on Redis for `createCircuitBreaker({ store })`: breakers
 * of the same name in every process using the same Redis (and `keyPrefix`) share openings,
 * closes and the half-open probe lease.
 *
 * Each operation is one Lua script (atomic: the state, the lease and the message agree) on
 * `client`; messages arrive on one subscribed connection per store. While `client` is
 * reconnecting, operations fail at once rather than queue, so a breaker falls back to its
 * local state without waiting for its `storeTimeoutMs`.
 *
 * @example
 * const store = createRedisBreakerStore({ client: new Redis(process.env.REDIS_URL) });
 * const breaker = createCircuitBreaker({ name: 'orders-db', store });
 */
export function createRedisBreakerStore(options: RedisBreakerStoreOptions): RedisBreakerStore {
  const { client, keyPrefix, subscriber: givenSubscriber, onError } = resolveOptions(options);
  const channels = new Map<string, Channel>();
  let subscriber: RedisSubscriberLike | undefined;
  let ownsSubscriber = false;
  let readyBefore = false;
  let closed = false;

  const channelOf = (name: string): string => `${keyPrefix}{${name}}`;
  const keysOf = (name: string): [string, string] => [
    `${keyPrefix}{${name}}:state`,
    `${keyPrefix}{${name}}:lease`,
  ];

  async function run(
    operation: BreakerStoreOperation,
    name: string,
    options: BreakerStoreCallOptions,
    script: string,
    ...args: (string | number)[]
  ): Promise<unknown> {
    if (closed) throw new BreakerStoreError(operation, 'the store was closed');
    options.signal.throwIfAborted();
    if (UNREACHABLE.has(client.status)) {
      throw new BreakerStoreError(operation, `the Redis connection is ${client.status}`);
    }
    const [stateKey, leaseKey] = keysOf(name);
    return await client.eval(script, 2, stateKey, leaseKey, ...args);
  }

  async function readState(
    name: string,
    options: BreakerStoreCallOptions,
  ): Promise<SharedBreakerState | undefined> {
    const reply = await run('read', name, options, READ);
    if (!Array.isArray(reply)) return undefined;
    const stored = parseStored(reply[0]);
    const remaining = Number(reply[1]);
    if (stored === undefined || !(remaining > 0)) return undefined;
    return {
      state: 'open',
      openRemainingMs: remaining,
      attempt: stored.attempt,
      source: stored.source,
    };
  }

  function deliver(channel: Channel, state: SharedBreakerState): void {
    for (const listener of [...channel.listeners]) {
      try {
        listener(state);
      } catch (error) {
        onError(asError(error));
      }
    }
  }

  const onMessage = (channelName: string, message: string): void => {
    const channel = channels.get(channelName);
    if (channel === undefined) return;
    let state: SharedBreakerState;
    try {
      state = JSON.parse(message) as SharedBreakerState;
    } catch (error) {
      onError(asError(error));
      return;
    }
    deliver(channel, state);
  };

  const onReady = (): void => {
    const names = [...channels.keys()];
    if (names.length > 0) subscriber?.subscribe(...names).catch((error) => onError(asError(error)));
    // After a reconnect, messages sent while we were away are lost: read the current state.
    if (!readyBefore) {
      readyBefore = true;
      return;
    }
    for (const channel of channels.values()) {
      const controller = new AbortController();
      readState(channel.name, { signal: controller.signal }).then(
        (state) => {
          if (state !== undefined) deliver(channel, state);
        },
        (error: unknown) => onError(asError(error)),
      );
    }
  };

  const onSubscriberError = (error: Error): void => onError(error);

  function ensureSubscriber(): RedisSubscriberLike {
    if (subscriber !== undefined) return subscriber;
    ownsSubscriber = givenSubscriber === undefined;
    subscriber = givenSubscriber ?? client.duplicate();
    readyBefore = subscriber.status === 'ready';
    subscriber.on('message', onMessage);
    subscriber.on('ready', onReady);
    subscriber.on('error', onSubscriberError);
    return subscriber;
  }

  return {
    async publish(name, state, options) {
      const message = JSON.stringify(state);
      if (state.state === 'open') {
        const stored = JSON.stringify({ attempt: state.attempt, source: state.source });
        const period = Math.ceil(state.openRemainingMs);
        await run('publish', name, options, PUBLISH_OPEN, channelOf(name), stored, period, message);
      } else {
        await run('publish', name, options, PUBLISH_CLOSED, channelOf(name), message);
      }
    },

    read: readState,

    subscribe(name, listener): BreakerStoreSubscription {
      const key = channelOf(name);
      let channel = channels.get(key);
      if (!closed) {
        if (channel === undefined) {
          channel = { name, listeners: new Set() };
          channels.set(key, channel);
          ensureSubscriber()
            .subscribe(key)
            .catch((error: unknown) => onError(asError(error)));
        }
        channel.listeners.add(listener);
      }
      let disposed = false;
      return {
        dispose() {
          if (disposed || channel === undefined) return;
          disposed = true;
          channel.listeners.delete(listener);
          if (channel.listeners.size === 0 && channels.get(key) === channel) {
            channels.delete(key);
            if (!closed) subscriber?.unsubscribe(key).catch((error) => onError(asError(error)));
          }
        },
      };
    },

    async acquireProbeLease(name, holder, ttlMs, options): Promise<ProbeLease> {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      const reply = Number(
        await run('acquireProbeLease', name, options, ACQUIRE_LEASE, holder, ttl),
      );
      if (reply === -1) return { granted: true };
      if (Number.isFinite(reply) && reply >= 0) return { granted: false, retryAfterMs: reply };
      throw new BreakerStoreError('acquireProbeLease', `unexpected reply ${String(reply)}`);
    },

    async releaseProbeLease(name, holder, options) {
      await run('releaseProbeLease', name, options, RELEASE_LEASE, holder);
    },

    async close() {
      if (closed) return;
      closed = true;
      channels.clear();
      const current = subscriber;
      subscriber = undefined;
      if (current === undefined) return;
      current.removeListener('message', onMessage);
      current.removeListener('ready', onReady);
      current.removeListener('error', onSubscriberError);
      if (ownsSubscriber) current.disconnect();
    },
  };
}
