import {
  type Clock,
  type Driver,
  type DriverCallOptions,
  type DriverDescription,
  type ErrorReason,
  systemClock,
} from '@enhanced-pool/core';

/** An error the fake driver throws; it carries the reason it classifies as. */
export class FakeDriverError extends Error {
  readonly reason: ErrorReason;

  constructor(reason: ErrorReason, message = `fake ${reason} error`) {
    super(message);
    this.name = 'FakeDriverError';
    this.reason = reason;
  }
}

/** An in-memory connection. `query()` lets tests "use" it and observe breakage. */
export interface FakeConnection {
  /** 1, 2, 3, … in creation order. */
  readonly id: number;
  /** The client noticed the connection died: `isBroken()` reports it. */
  readonly broken: boolean;
  /** Killed on the "server": round trips fail, but the client may not know yet. */
  readonly killed: boolean;
  readonly closed: boolean;
  /** Whether a transaction was left open (cleared by `reset`). */
  inTransaction: boolean;
  /** Runs a fake statement; rejects with a `connection` error when killed or closed. */
  query(sql?: string): Promise<void>;
}

/** What the fake driver's `query()` resolves with: where and what ran. */
export interface FakeQueryResult {
  /** The connection that ran it. */
  readonly connectionId: number;
  readonly text: string;
  readonly values: readonly unknown[] | undefined;
  /** Statements of ours on that connection when this one was sent, itself included. */
  readonly inFlightAtSend: number;
}

/** How many times each driver method was called, and how many of those failed. */
export interface FakeDriverCounters {
  /** `query()` calls (statements the pool sent itself). */
  query: number;
  queryFailures: number;
  /** The most statements ever in flight on one connection at once. */
  maxInFlight: number;
  connect: number;
  connectFailures: number;
  validate: number;
  validateFailures: number;
  reset: number;
  resetFailures: number;
  isBroken: number;
  close: number;
}

export interface FakeDriverOptions {
  /**
   * Clock used for latencies; pass the test's fake clock.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Milliseconds each `connect()` takes.
   * @default 0
   */
  readonly connectLatencyMs?: number;
  /**
   * Milliseconds each `validate()` takes.
   * @default 0
   */
  readonly validateLatencyMs?: number;
  /**
   * Whether to expose `reset()`.
   * @default true
   */
  readonly withReset?: boolean;
  /**
   * Whether to expose `isBroken()`.
   * @default true
   */
  readonly withIsBroken?: boolean;
  /**
   * Driver name.
   * @default 'fake'
   */
  readonly name?: string;
  /**
   * Whether to expose `query()` (what `pool.query()` uses).
   * @default true
   */
  readonly withQuery?: boolean;
  /**
   * The `pipelining` flag: a connection takes further statements before earlier ones are
   * answered, and answers them in order, as a real server does (one statement at a time, so a
   * slow one delays those behind it). With `false`, a second statement sent on a connection
   * before the first is answered is rejected: the pool broke the contract.
   * @default true
   */
  readonly pipelining?: boolean;
  /**
   * Milliseconds the "server" spends on each statement, or a function of its text (e.g. slow
   * only for `'slow'`), on the injected clock.
   * @default 0
   */
  readonly queryLatencyMs?: number | ((text: string) => number);
}

/**
 * A scriptable in-memory {@link Driver}. `openConnections` is what the pool holds open, so a
 * pool test can assert after every step that the pool's count matches it.
 */
export interface FakeDriver extends Driver<FakeConnection, FakeQueryResult> {
  readonly counters: Readonly<FakeDriverCounters>;
  /**
   * Connections connected and not yet closed by the client: what a pool must account for. A
   * killed connection stays here until the pool closes it.
   */
  readonly openConnections: ReadonlySet<FakeConnection>;
  /** Every connection ever created, in order. */
  readonly allConnections: readonly FakeConnection[];
  /** Changes connect latency for later calls. */
  setConnectLatency(ms: number): void;
  /** Changes validate latency for later calls. */
  setValidateLatency(ms: number): void;
  /** The next `count` connects fail with `reason`. */
  failNextConnects(count: number, reason?: ErrorReason): void;
  /** Every connect fails with `reason` until called again with `undefined` (an outage). */
  failConnects(reason: ErrorReason | undefined): void;
  /** The next `count` validations fail (on any connection). */
  failNextValidations(count: number, reason?: ErrorReason): void;
  /** The next `count` resets fail. */
  failNextResets(count: number): void;
  /**
   * Kills a connection on the "server": validation and queries fail. With `noticed` the client
   * also knows (`isBroken()` reports it), as after a socket error event.
   */
  kill(connection: FakeConnection, options?: { noticed?: boolean }): void;
  /** Kills every open connection. */
  killAll(options?: { noticed?: boolean }): void;
  /** The next `count` statements fail with `reason` (`connection` kills their connection). */
  failNextQueries(count: number, reason?: ErrorReason): void;
  /** Changes statement latency for later statements. */
  setQueryLatency(latency: number | ((text: string) => number)): void;
  /** Statements sent on `connection` and not answered yet. */
  inFlight(connection: FakeConnection): number;
}

interface MutableConnection extends FakeConnection {
  broken: boolean;
  killed: boolean;
  closed: boolean;
  /** Rejecters of the statements in flight, failed together when the connection dies. */
  readonly statements: Set<(error: unknown) => void>;
  /** When the "server" finishes the last statement sent (statements run one after another). */
  busyUntil: number;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Fails every statement in flight on `connection` with a `connection` error. */
function failStatements(connection: MutableConnection, message: string): void {
  for (const fail of [...connection.statements]) fail(new FakeDriverError('connection', message));
}

/**
 * Creates a fake driver. Latency is measured on the injected clock, so a fake clock makes a
 * 150 ms connect cost nothing in real time.
 */
export function createFakeDriver(options: FakeDriverOptions = {}): FakeDriver {
  const clock = options.clock ?? systemClock;
  let connectLatencyMs = options.connectLatencyMs ?? 0;
  let validateLatencyMs = options.validateLatencyMs ?? 0;
  let failingConnectsLeft = 0;
  let failingConnectReason: ErrorReason = 'connection';
  let outageReason: ErrorReason | undefined;
  let failingValidationsLeft = 0;
  let failingValidationReason: ErrorReason = 'connection';
  let failingResetsLeft = 0;
  let failingQueriesLeft = 0;
  let failingQueryReason: ErrorReason = 'query';
  let queryLatency = options.queryLatencyMs ?? 0;
  const pipelining = options.pipelining ?? true;
  let nextId = 1;

  const counters: FakeDriverCounters = {
    query: 0,
    queryFailures: 0,
    maxInFlight: 0,
    connect: 0,
    connectFailures: 0,
    validate: 0,
    validateFailures: 0,
    reset: 0,
    resetFailures: 0,
    isBroken: 0,
    close: 0,
  };
  const openConnections = new Set<FakeConnection>();
  const allConnections: FakeConnection[] = [];

  /** Waits `ms` on the clock; rejects as soon as the signal aborts. */
  const wait = (ms: number, signal: AbortSignal): Promise<void> => {
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        clock.clearTimeout(handle);
        reject(abortError(signal));
      };
      const handle = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };

  const createConnection = (): MutableConnection => {
    const connection: MutableConnection = {
      id: nextId++,
      broken: false,
      killed: false,
      closed: false,
      inTransaction: false,
      statements: new Set(),
      busyUntil: 0,
      query(_sql?: string): Promise<void> {
        if (connection.closed) {
          return Promise.reject(new FakeDriverError('connection', 'connection is closed'));
        }
        if (connection.killed) {
          connection.broken = true;
          return Promise.reject(new FakeDriverError('connection', 'connection terminated'));
        }
        return Promise.resolve();
      },
    };
    return connection;
  };

  /** A statement the pool sent: answered in order on its connection, after its latency. */
  const runStatement = (
    connection: MutableConnection,
    text: string,
    values: readonly unknown[] | undefined,
    signal: AbortSignal,
  ): Promise<FakeQueryResult> => {
    counters.query += 1;
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (connection.closed || connection.killed) {
      counters.queryFailures += 1;
      connection.broken = connection.broken || connection.killed;
      return Promise.reject(new FakeDriverError('connection', 'connection terminated'));
    }
    if (!pipelining && connection.statements.size > 0) {
      counters.queryFailures += 1;
      return Promise.reject(
        new Error('fake driver: a statement was sent while another was in flight (no pipelining)'),
      );
    }
    let failure: ErrorReason | undefined;
    if (failingQueriesLeft > 0) {
      failingQueriesLeft -= 1;
      failure = failingQueryReason;
    }
    const latency = typeof queryLatency === 'function' ? queryLatency(text) : queryLatency;
    const now = clock.now();
    const doneAt = Math.max(now, connection.busyUntil) + latency;
    connection.busyUntil = doneAt;
    const inFlightAtSend = connection.statements.size + 1;
    counters.maxInFlight = Math.max(counters.maxInFlight, inFlightAtSend);
    return new Promise<FakeQueryResult>((resolve, reject) => {
      const fail = (error: unknown): void => {
        finish();
        counters.queryFailures += 1;
        reject(error);
      };
      const onAbort = (): void => fail(abortError(signal));
      const finish = (): void => {
        connection.statements.delete(fail);
        signal.removeEventListener('abort', onAbort);
        if (handle !== undefined) clock.clearTimeout(handle);
      };
      const answer = (): void => {
        handle = undefined;
        if (failure === 'connection') {
          driver.kill(connection, { noticed: true });
          return;
        }
        finish();
        if (failure !== undefined) {
          counters.queryFailures += 1;
          reject(new FakeDriverError(failure, `fake ${failure} error in statement`));
        } else resolve({ connectionId: connection.id, text, values, inFlightAtSend });
      };
      let handle: ReturnType<Clock['setTimeout']> | undefined;
      connection.statements.add(fail);
      signal.addEventListener('abort', onAbort, { once: true });
      if (doneAt > now) handle = clock.setTimeout(answer, doneAt - now);
      else queueMicrotask(answer);
    });
  };

  const driver: FakeDriver = {
    specificationVersion: 'v1',
    name: options.name ?? 'fake',
    counters,
    openConnections,
    allConnections,

    async connect({ signal }: DriverCallOptions): Promise<FakeConnection> {
      counters.connect += 1;
      try {
        await wait(connectLatencyMs, signal);
        if (outageReason !== undefined) throw new FakeDriverError(outageReason);
        if (failingConnectsLeft > 0) {
          failingConnectsLeft -= 1;
          throw new FakeDriverError(failingConnectReason);
        }
      } catch (error) {
        counters.connectFailures += 1;
        throw error;
      }
      const connection = createConnection();
      openConnections.add(connection);
      allConnections.push(connection);
      return connection;
    },

    async validate(connection: FakeConnection, { signal }: DriverCallOptions): Promise<void> {
      counters.validate += 1;
      try {
        await wait(validateLatencyMs, signal);
        if (failingValidationsLeft > 0) {
          failingValidationsLeft -= 1;
          throw new FakeDriverError(failingValidationReason, 'validation failed');
        }
        await connection.query('SELECT 1');
      } catch (error) {
        counters.validateFailures += 1;
        throw error;
      }
    },

    ...(options.withReset === false
      ? {}
      : {
          async reset(connection: FakeConnection): Promise<void> {
            counters.reset += 1;
            if (failingResetsLeft > 0 || connection.killed || connection.closed) {
              if (failingResetsLeft > 0) failingResetsLeft -= 1;
              counters.resetFailures += 1;
              throw new FakeDriverError('connection', 'reset failed');
            }
            connection.inTransaction = false;
          },
        }),

    ...(options.withIsBroken === false
      ? {}
      : {
          isBroken(connection: FakeConnection): boolean {
            counters.isBroken += 1;
            return connection.broken || connection.closed;
          },
        }),

    async close(connection: FakeConnection): Promise<void> {
      counters.close += 1;
      const mutable = connection as MutableConnection;
      mutable.closed = true;
      openConnections.delete(connection);
      failStatements(mutable, 'connection is closed');
    },

    ...(options.withQuery === false
      ? {}
      : {
          pipelining,
          query(
            connection: FakeConnection,
            text: string,
            values: readonly unknown[] | undefined,
            { signal }: DriverCallOptions,
          ): Promise<FakeQueryResult> {
            return runStatement(connection as MutableConnection, text, values, signal);
          },
        }),

    classifyError(error: unknown): ErrorReason {
      if (error instanceof FakeDriverError) return error.reason;
      if (error instanceof Error && error.name === 'AbortError') return 'timeout';
      return 'unknown';
    },

    describe(): DriverDescription {
      return { 'db.system.name': 'fake', 'server.address': 'memory', 'db.namespace': 'fake' };
    },

    setConnectLatency(ms: number): void {
      connectLatencyMs = ms;
    },
    setValidateLatency(ms: number): void {
      validateLatencyMs = ms;
    },
    failNextConnects(count: number, reason: ErrorReason = 'connection'): void {
      failingConnectsLeft = count;
      failingConnectReason = reason;
    },
    failConnects(reason: ErrorReason | undefined): void {
      outageReason = reason;
    },
    failNextValidations(count: number, reason: ErrorReason = 'connection'): void {
      failingValidationsLeft = count;
      failingValidationReason = reason;
    },
    failNextResets(count: number): void {
      failingResetsLeft = count;
    },
    kill(connection: FakeConnection, killOptions: { noticed?: boolean } = {}): void {
      const mutable = connection as MutableConnection;
      mutable.killed = true;
      if (killOptions.noticed) mutable.broken = true;
      // As a real client does when its socket dies: every statement on the wire fails.
      failStatements(mutable, 'connection terminated');
      // Stays in openConnections: the client still holds it until the pool closes it, and a
      // pool that forgets to close a dead connection is a leak the tests must see.
    },
    killAll(killOptions: { noticed?: boolean } = {}): void {
      for (const connection of [...openConnections]) driver.kill(connection, killOptions);
    },
    failNextQueries(count: number, reason: ErrorReason = 'query'): void {
      failingQueriesLeft = count;
      failingQueryReason = reason;
    },
    setQueryLatency(latency: number | ((text: string) => number)): void {
      queryLatency = latency;
    },
    inFlight(connection: FakeConnection): number {
      return (connection as MutableConnection).statements.size;
    },
  };
  return driver;
}
