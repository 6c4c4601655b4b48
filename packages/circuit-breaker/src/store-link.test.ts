import { createFakeClock, type FakeClock } from '@enhanced-pool/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../test/helpers.js';
import { createMemoryStore, type MemoryStore } from '../test/memory-store.js';
import { type CircuitBreaker, createCircuitBreaker } from './circuit-breaker.js';
import {
  BreakerStoreError,
  BreakerStoreTimeoutError,
  type BrokenCircuitError,
  InvalidBreakerOptionError,
  isBrokenCircuitError,
} from './errors.js';
import type { StateChangeEvent, StoreErrorEvent } from './events.js';
import type { CircuitBreakerOptions } from './options.js';

const OPEN_MS = 1_000;
const PROBE_TIMEOUT_MS = 5_000;
const STORE_TIMEOUT_MS = 100;

interface Instance {
  breaker: CircuitBreaker;
  changes: StateChangeEvent[];
  storeErrors: StoreErrorEvent[];
  /** Calls that reached the dependency. */
  calls: number;
}

let clock: FakeClock;
let store: MemoryStore;
const created: CircuitBreaker[] = [];

function instance(options: CircuitBreakerOptions = {}): Instance {
  const breaker = createCircuitBreaker({
    name: 'orders-db',
    clock,
    store,
    storeTimeoutMs: STORE_TIMEOUT_MS,
    window: { kind: 'consecutive', failures: 1 },
    openDurationMs: OPEN_MS,
    halfOpenProbeTimeoutMs: PROBE_TIMEOUT_MS,
    ...options,
  });
  created.push(breaker);
  const result: Instance = { breaker, changes: [], storeErrors: [], calls: 0 };
  breaker.on('stateChange', (event) => result.changes.push(event));
  breaker.on('storeError', (event) => result.storeErrors.push(event));
  return result;
}

/** One call through `execute()`: 'ok', 'failed' or 'refused' (the function never ran). */
async function call(target: Instance, outcome: 'succeed' | 'fail' = 'succeed'): Promise<string> {
  try {
    await target.breaker.execute(async () => {
      target.calls += 1;
      if (outcome === 'fail') throw failure('ECONNREFUSED');
      return 1;
    });
    return 'ok';
  } catch (error) {
    return isBrokenCircuitError(error) ? 'refused' : 'failed';
  }
}

function refusal(target: Instance): BrokenCircuitError {
  const permit = target.breaker.tryAcquire();
  if (!isBrokenCircuitError(permit)) throw new Error('expected a refusal');
  return permit;
}

afterEach(() => {
  for (const breaker of created.splice(0)) breaker.dispose();
});

function setup(): void {
  clock = createFakeClock();
  store = createMemoryStore(clock);
}

describe('options', () => {
  it('needs a name with a store, and a store with every method', () => {
    setup();
    expect(() => createCircuitBreaker({ store })).toThrow(InvalidBreakerOptionError);
    expect(() => createCircuitBreaker({ store })).toThrow(/"name".*when `store` is set/);
    expect(() =>
      createCircuitBreaker({ name: 'x', store: { publish: () => Promise.resolve() } as never }),
    ).toThrow(/"store".*publish, read, subscribe, acquireProbeLease, releaseProbeLease/);
    expect(() => createCircuitBreaker({ name: 'x', store, storeTimeoutMs: 0 })).toThrow(
      /"storeTimeoutMs": got 0, expected a number ≥ 1/,
    );
  });
});

describe('shared state through a store', () => {
  it('a remote opening makes another instance refuse without calling its function', async () => {
    setup();
    const a = instance();
    const b = instance();
    await clock.flush();
    expect(await call(a, 'fail')).toBe('failed');
    await clock.flush();
    expect(b.breaker.state).toBe('open');
    expect(b.changes.at(-1)).toMatchObject({ to: 'open', reason: 'remote-open', attempt: 1 });
    expect(await call(b)).toBe('refused');
    expect(b.calls).toBe(0);
    expect(refusal(b).retryAfterMs).toBe(OPEN_MS);
    clock.advance(400);
    expect(refusal(b).retryAfterMs).toBe(600);
    // The publisher never treats its own message as a remote one.
    expect(a.changes.map((change) => change.reason)).toEqual(['failure-threshold']);
    expect(a.storeErrors).toEqual([]);
  });

  it('a breaker that starts while the fleet is open starts refusing', async () => {
    setup();
    const a = instance();
    await call(a, 'fail');
    await clock.flush();
    clock.advance(300);
    const late = instance();
    await clock.flush();
    expect(late.breaker.state).toBe('open');
    expect(refusal(late).retryAfterMs).toBe(700);
    expect(await call(late)).toBe('refused');
    expect(late.calls).toBe(0);
  });

  it('only one instance runs the half-open trial; the others close when it succeeds', async () => {
    setup();
    const instances = [instance(), instance(), instance()];
    const [a, b, c] = instances as [Instance, Instance, Instance];
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    // Every instance's first half-open call asks for the lease and is refused meanwhile.
    for (const target of instances) expect(await call(target)).toBe('refused');
    await clock.flush();
    expect(store.log.filter((entry) => entry === 'acquireProbeLease granted')).toHaveLength(1);
    expect(store.leaseHolder('orders-db')).toBeDefined();
    // a asked first and holds the lease: its next call is the trial; b and c keep refusing.
    const refusedB = refusal(b);
    expect(refusedB.state).toBe('half-open');
    expect(refusedB.message).toMatch(/trial calls run in another instance/);
    expect(refusedB.retryAfterMs).toBe(PROBE_TIMEOUT_MS);
    expect(await call(c)).toBe('refused');
    const callsOfA = a.calls;
    expect(await call(a)).toBe('ok');
    expect([a.calls, b.calls, c.calls]).toEqual([callsOfA + 1, 0, 0]);
    expect(a.breaker.state).toBe('closed');
    await clock.flush();
    for (const other of [b, c]) {
      expect(other.breaker.state).toBe('closed');
      expect(other.changes.at(-1)).toMatchObject({ from: 'half-open', reason: 'remote-close' });
      expect(await call(other)).toBe('ok');
    }
    expect(store.leaseHolder('orders-db')).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a failed trial reopens every instance, with the next attempt', async () => {
    setup();
    const a = instance({ openDurationMs: (attempt) => attempt * OPEN_MS });
    const b = instance({ openDurationMs: (attempt) => attempt * OPEN_MS });
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    expect(await call(a)).toBe('refused');
    await clock.flush();
    expect(await call(a, 'fail')).toBe('failed');
    await clock.flush();
    expect(a.changes.at(-1)).toMatchObject({ to: 'open', reason: 'trial-failed', attempt: 2 });
    expect(b.breaker.state).toBe('open');
    expect(b.changes.at(-1)).toMatchObject({ to: 'open', attempt: 2, openDurationMs: 2 * OPEN_MS });
    expect(refusal(b).retryAfterMs).toBe(2 * OPEN_MS);
  });

  it('a lease whose holder went away expires, and another instance probes', async () => {
    setup();
    const a = instance();
    const b = instance();
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    expect(await call(a)).toBe('refused');
    await clock.flush();
    // a holds the lease, then its process is gone: no release, no messages.
    store.releaseProbeLease = () => Promise.resolve();
    a.breaker.dispose();
    expect(await call(b)).toBe('refused');
    await clock.flush();
    expect(refusal(b).retryAfterMs).toBeGreaterThan(0);
    clock.advance(PROBE_TIMEOUT_MS);
    expect(await call(b)).toBe('refused'); // asks again
    await clock.flush();
    expect(await call(b)).toBe('ok');
    expect(b.breaker.state).toBe('closed');
  });

  it('keeps a local opening when a remote close arrives, then probes under the lease', async () => {
    setup();
    const a = instance();
    const b = instance();
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    expect(await call(a)).toBe('refused');
    await clock.flush();
    const trial = a.breaker.tryAcquire();
    if (isBrokenCircuitError(trial)) throw trial;
    // a's trial succeeds; before its close reaches b, b opens on its own evidence.
    trial.success();
    b.breaker.reset();
    const permit = b.breaker.tryAcquire();
    if (isBrokenCircuitError(permit)) throw permit;
    permit.failure(failure());
    await clock.flush();
    expect(b.breaker.state).toBe('open');
    expect(b.changes.map((change) => change.reason)).not.toContain('remote-close');
    // b's opening is the newest news everywhere.
    expect(a.breaker.state).toBe('open');
    expect(a.changes.at(-1)).toMatchObject({ from: 'closed', reason: 'remote-open' });
    clock.advance(OPEN_MS);
    expect(await call(b)).toBe('refused');
    await clock.flush();
    expect(await call(b)).toBe('ok');
    await clock.flush();
    expect(a.breaker.state).toBe('closed');
  });

  it('an isolated breaker ignores remote openings and stays isolated', async () => {
    setup();
    const a = instance();
    const b = instance();
    const isolation = b.breaker.isolate();
    await call(a, 'fail');
    await clock.flush();
    expect(b.breaker.state).toBe('isolated');
    isolation.dispose();
    expect(b.breaker.state).toBe('closed');
  });

  it('ignores malformed messages and reports them', async () => {
    setup();
    const b = instance();
    const subscribe = store.subscribe;
    let deliver: ((state: unknown) => void) | undefined;
    store.subscribe = (name, listener) => {
      deliver = listener as (state: unknown) => void;
      return subscribe(name, listener);
    };
    const c = instance();
    store.subscribe = subscribe;
    deliver?.({ state: 'open', openRemainingMs: -5, attempt: 1, source: 'x' });
    deliver?.({ state: 'open', openRemainingMs: 10, attempt: 1.5, source: 'x' });
    deliver?.('garbage');
    await clock.flush();
    expect(c.breaker.state).toBe('closed');
    expect(c.storeErrors.map((event) => event.operation)).toEqual([
      'message',
      'message',
      'message',
    ]);
    expect(b.storeErrors).toEqual([]);
  });

  it('dispose() unsubscribes and gives the lease back', async () => {
    setup();
    const a = instance();
    const b = instance();
    expect(store.subscribers('orders-db')).toBe(2);
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    await call(a);
    await clock.flush();
    expect(store.leaseHolder('orders-db')).toBeDefined();
    a.breaker.dispose();
    a.breaker.dispose();
    await clock.flush();
    expect(store.leaseHolder('orders-db')).toBeUndefined();
    expect(store.subscribers('orders-db')).toBe(1);
    b.breaker.dispose();
    expect(store.subscribers('orders-db')).toBe(0);
    // Still a working breaker on local state.
    expect(await call(a)).toBe('ok');
  });
});

describe('an unreachable or slow store', () => {
  it('a store that rejects: every call follows local state, and storeError reports it', async () => {
    setup();
    store.mode = 'down';
    const a = instance();
    const b = instance();
    await clock.flush();
    expect(a.storeErrors.map((event) => event.operation)).toEqual(['read']);
    const first = a.storeErrors[0] as StoreErrorEvent;
    expect(first.error).toBeInstanceOf(BreakerStoreError);
    expect(first.error.code).toBe('STORE_FAILED');
    expect((first.error.cause as Error).message).toBe('ECONNREFUSED');
    expect(await call(b)).toBe('ok');
    expect(await call(a, 'fail')).toBe('failed');
    await clock.flush();
    expect(a.breaker.state).toBe('open');
    expect(b.breaker.state).toBe('closed'); // nothing shared
    expect(await call(b)).toBe('ok');
    clock.advance(OPEN_MS);
    // The store failed recently: the trial runs at once instead of waiting for another answer.
    expect(await call(a)).toBe('ok');
    expect(a.breaker.state).toBe('closed');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a store that never answers: operations time out on the clock, calls never wait', async () => {
    setup();
    store.mode = 'hang';
    const a = instance();
    expect(clock.pendingTimers()).toBe(1); // the read's timeout, nothing else
    clock.advance(STORE_TIMEOUT_MS);
    expect(a.storeErrors).toHaveLength(1);
    expect(a.storeErrors[0]?.error).toBeInstanceOf(BreakerStoreTimeoutError);
    expect(a.storeErrors[0]?.error).toMatchObject({ code: 'STORE_TIMEOUT', timeoutMs: 100 });
    expect(store.aborted).toEqual(['read']);
    // Healthy again as far as the breaker knows? No: it keeps deciding locally.
    expect(await call(a, 'fail')).toBe('failed');
    expect(a.breaker.state).toBe('open');
    clock.advance(STORE_TIMEOUT_MS);
    expect(a.storeErrors.map((event) => event.operation)).toEqual(['read', 'publish']);
    clock.advance(OPEN_MS);
    expect(await call(a)).toBe('ok');
    expect(a.breaker.state).toBe('closed');
    clock.advance(STORE_TIMEOUT_MS);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a lease request that times out lets this instance probe on local state', async () => {
    setup();
    const a = instance();
    await call(a, 'fail');
    await clock.flush();
    clock.advance(OPEN_MS);
    store.mode = 'hang';
    expect(await call(a)).toBe('refused');
    const waiting = refusal(a);
    expect(waiting.retryAfterMs).toBe(STORE_TIMEOUT_MS);
    clock.advance(STORE_TIMEOUT_MS);
    expect(a.storeErrors.map((event) => event.operation)).toEqual(['acquireProbeLease']);
    expect(await call(a)).toBe('ok');
    expect(a.breaker.state).toBe('closed');
  });

  it('a store that throws synchronously is contained', async () => {
    setup();
    store.subscribe = () => {
      throw new Error('not connected');
    };
    store.read = () => {
      throw new Error('not connected');
    };
    const a = instance();
    await clock.flush();
    expect(a.storeErrors.map((event) => event.operation)).toEqual(['subscribe', 'read']);
    expect(await call(a)).toBe('ok');
  });
});

describe('without a store', () => {
  it('dispose() does nothing and the breaker keeps working', async () => {
    setup();
    const breaker = createCircuitBreaker({ clock });
    breaker.dispose();
    await expect(breaker.execute(() => 1)).resolves.toBe(1);
  });
});
