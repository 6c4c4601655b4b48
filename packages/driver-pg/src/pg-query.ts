import type { DriverCallOptions } from '@enhanced-pool/core';
import type { PgClientLike, PgQueryResult, PgStreamLike } from './pg-client-like.js';

/** What {@link createPgQuery} needs from the driver around it. */
export interface PgQueryDeps<TClient extends PgClientLike> {
  /** The driver's `isBroken()`: a statement on a dead client fails at once. */
  readonly isBroken: (client: TClient) => boolean;
  /** The error to reject with for a client already known to be dead. */
  readonly brokenError: (client: TClient) => unknown;
  /** Removes credentials from an error before it leaves the driver. */
  readonly scrub: (error: unknown, client: TClient) => unknown;
}

/** The driver's `query()`: one statement, on a client other statements may share. */
export type PgQuery<TClient extends PgClientLike> = (
  client: TClient,
  text: string,
  values: readonly unknown[] | undefined,
  options: DriverCallOptions,
) => Promise<PgQueryResult>;

/** What the driver keeps per client for `query()`. */
interface ClientState {
  /** Our statements not yet answered. */
  inFlight: number;
  /** Whether we switched pipelining on (a client configured with `pipeline: true` keeps it). */
  switched: boolean;
  /** The socket we corked for this turn, until it is uncorked. */
  corked: PgStreamLike | undefined;
}

/**
 * Holds the client's writes until the current turn of the event loop has run its callbacks and
 * promise reactions, then sends them together. The callers answered by one read of the socket
 * usually send their next statement in that same turn; pg writes each statement on its own, and
 * on loopback most of a statement's cost is that write (the kernel delivers it to the server in
 * the sender's time). One `writev` for all of them also wakes the server once instead of once
 * per statement. pg corks around the messages of one statement itself; cork counts nest.
 */
function cork(client: PgClientLike, state: ClientState): void {
  const stream = client.connection?.stream;
  if (stream?.cork === undefined || stream.uncork === undefined || stream.destroyed === true) {
    return;
  }
  stream.cork();
  state.corked = stream;
  process.nextTick(uncork, state);
}

function uncork(state: ClientState): void {
  const stream = state.corked;
  state.corked = undefined;
  stream?.uncork?.();
}

/**
 * Builds the `pg` driver's `query()`, which the pool calls for `pool.query()` and may call
 * again on the same client before earlier statements are answered.
 *
 * It uses pg's own pipelining (`client.pipeline`, pg ≥ 8.23): each statement is written at once
 * instead of waiting in pg's queue for the previous answer, every statement is followed by its
 * own Sync, so one statement's error fails none of the others. Pipelining is switched on only
 * while the pool's statements are on the wire and off again once the last is answered: in
 * pipeline mode pg refuses cursors and the `rows` option, and a lease holder gets the client back
 * as they know it. pg reads the flag each time it looks at its queue, so switching it while
 * nothing of ours is in flight is safe: a statement still waiting for its ReadyForQuery keeps
 * `readyForQuery` false in either mode, and the next statement waits for it. A `pg` without
 * pipelining ignores the flag and queues statements itself: slower, never wrong.
 */
export function createPgQuery<TClient extends PgClientLike>(
  deps: PgQueryDeps<TClient>,
): PgQuery<TClient> {
  const { isBroken, brokenError, scrub } = deps;
  // Per client, kept beside it rather than on it.
  const states = new WeakMap<TClient, ClientState>();

  return (client, text, values, { signal }) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (isBroken(client)) return Promise.reject(brokenError(client));
    let state = states.get(client);
    if (state === undefined) {
      state = { inFlight: 0, switched: false, corked: undefined };
      states.set(client, state);
    }
    if (state.inFlight++ === 0 && client.pipeline !== true) {
      client.pipeline = true;
      state.switched = true;
    }
    if (state.corked === undefined) cork(client, state);
    const owned = state;
    const settle = (): void => {
      if (--owned.inFlight === 0 && owned.switched) {
        owned.switched = false;
        client.pipeline = false;
      }
    };
    let sent: Promise<PgQueryResult>;
    try {
      sent = client.query(text, values as unknown[] | undefined) as Promise<PgQueryResult>;
    } catch (error) {
      settle();
      return Promise.reject(scrub(error, client));
    }
    return sent.then(
      (result) => {
        settle();
        return result;
      },
      (error: unknown) => {
        settle();
        throw scrub(error, client);
      },
    );
  };
}
