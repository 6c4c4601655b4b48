import {
  createFakeClock,
  createFakeDriver,
  type FakeClock,
  type FakeConnection,
  type FakeDriver,
  type FakeDriverOptions,
} from '@enhanced-pool/testing';
import { EnhancedConnectionPool } from '../src/enhanced-connection-pool.js';
import type { PoolOptions } from '../src/pool-options.js';

/** A pool on the fake driver and fake clock, plus both fakes for assertions. */
export interface Harness {
  readonly clock: FakeClock;
  readonly driver: FakeDriver;
  readonly pool: EnhancedConnectionPool<FakeConnection>;
}

export type HarnessOptions = Partial<Omit<PoolOptions<FakeConnection>, 'clock'>> & {
  readonly driverOptions?: Omit<FakeDriverOptions, 'clock'>;
};

export function createHarness(options: HarnessOptions = {}): Harness {
  const { driverOptions, driver: customDriver, ...poolOptions } = options;
  const clock = createFakeClock();
  // No reset by default, so release is synchronous; tests of reset opt in with `withReset`.
  const driver = createFakeDriver({ clock, withReset: false, ...driverOptions });
  const pool = new EnhancedConnectionPool<FakeConnection>({
    driver: customDriver ?? driver,
    clock,
    ...poolOptions,
  });
  return { clock, driver, pool };
}

/** A promise's outcome, observable synchronously once the microtasks ran. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  status: 'pending' | 'fulfilled' | 'rejected';
  value: T | undefined;
  error: unknown;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: Tracked<T> = { promise, status: 'pending', value: undefined, error: undefined };
  promise.then(
    (value) => {
      tracked.status = 'fulfilled';
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.status = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}

/**
 * Fills the pool with `count` idle connections (acquired together, then released). Needs a
 * driver without connect latency: it does not move the clock.
 */
export async function warm(harness: Harness, count: number): Promise<void> {
  const leases = await Promise.all(Array.from({ length: count }, () => harness.pool.acquire()));
  for (const lease of leases) lease.release();
  await harness.clock.flush();
}

/**
 * A driver that ignores abort signals on connect, like a client library whose connect timeout
 * is not honoured: the pool must cope with a connection arriving after everyone gave up.
 */
export function ignoringConnectAbort(driver: FakeDriver): FakeDriver {
  return Object.assign(Object.create(driver) as FakeDriver, {
    connect: () => driver.connect({ signal: new AbortController().signal }),
  });
}

/**
 * Advances the fake clock 1 ms at a time until `condition` holds, failing with `what` after
 * `limitMs`: a regression then fails with a message instead of hanging to the test timeout.
 */
export async function advanceUntil(
  clock: FakeClock,
  condition: () => boolean,
  what: string,
  limitMs = 10_000,
): Promise<void> {
  const startedAt = clock.now();
  while (!condition()) {
    if (clock.now() - startedAt >= limitMs) {
      throw new Error(`${what}: not reached within ${limitMs} ms of fake time`);
    }
    await clock.advanceAsync(1);
  }
}

/** Records the clock reading at every `driver.connect()` call the pool makes. */
export function recordConnectTimes(harness: Harness): number[] {
  const times: number[] = [];
  const { driver, clock } = harness;
  const connect = driver.connect.bind(driver);
  driver.connect = (options) => {
    times.push(clock.now());
    return connect(options);
  };
  return times;
}
