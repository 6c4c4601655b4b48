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

/** How many times each driver method was called, and how many of those failed. */
export interface FakeDriverCounters {
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
}

/**
 * A scriptable in-memory {@link Driver}. `openConnections` is what the pool holds open, so a
 * pool test can assert after every step that the pool's count matches it.
 */
export interface FakeDriver extends Driver<FakeConnection> {
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
}

interface MutableConnection extends FakeConnection {
  broken: boolean;
  killed: boolean;
  closed: boolean;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
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
  let nextId = 1;

  const counters: FakeDriverCounters = {
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
    },

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
      // Stays in openConnections: the client still holds it until the pool closes it, and a
      // pool that forgets to close a dead connection is a leak the tests must see.
    },
    killAll(killOptions: { noticed?: boolean } = {}): void {
      for (const connection of [...openConnections]) driver.kill(connection, killOptions);
    },
  };
  return driver;
}
