import {
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  InvalidOptionError,
} from '@enhanced-pool/core';
import { createFakeClock, type FakeClock } from '@enhanced-pool/testing';
import { describe, expect, it } from 'vitest';
import { createLoadGenerator, errorCode } from './load-generator.js';

/** An operation that takes `latencyMs` of fake time, then settles as `outcome()` says. */
function timedOperation(clock: FakeClock, latencyMs: number, outcome: () => unknown = () => 'ok') {
  let calls = 0;
  const operation = (signal: AbortSignal): Promise<unknown> => {
    calls += 1;
    return new Promise((resolve, reject) => {
      const handle = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        const result = outcome();
        if (result instanceof Error) reject(result);
        else resolve(result);
      }, latencyMs);
      const onAbort = (): void => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
  return { operation, calls: () => calls };
}

describe('createLoadGenerator', () => {
  it('runs N workers back to back and counts every success', async () => {
    const clock = createFakeClock();
    const { operation } = timedOperation(clock, 10);
    const load = createLoadGenerator({ operation, clock });

    load.setWorkers(4);
    await clock.advanceAsync(1_000);

    const status = load.status();
    expect(status.workers).toBe(4);
    expect(status.running).toBe(4);
    // 4 workers × (1 000 ms / 10 ms each).
    expect(status.ok).toBe(400);
    expect(status.errors).toBe(0);
    expect(status.window.p50Ms).toBe(10);
    expect(status.window.p99Ms).toBe(10);
    expect(status.window.okPerSecond).toBeCloseTo(400, 5);
    await load.stop();
  });

  it('counts failures by code and pauses after each one instead of spinning', async () => {
    const clock = createFakeClock();
    const { operation, calls } = timedOperation(clock, 0, () => new CircuitOpenError(250));
    const load = createLoadGenerator({ operation, clock, errorPauseMs: 100 });

    load.setWorkers(2);
    await clock.advanceAsync(1_000);

    // One attempt per worker per 100 ms pause (plus the first), not thousands.
    expect(calls()).toBeGreaterThanOrEqual(20);
    expect(calls()).toBeLessThanOrEqual(22);
    const status = load.status();
    expect(status.ok).toBe(0);
    expect(status.errors).toBe(calls());
    expect(status.errorsByCode).toEqual({ CIRCUIT_OPEN: calls() });
    expect(status.window.p50Ms).toBeNull();
    await load.stop();
  });

  it('slides its window: figures older than windowMs drop out, totals stay', async () => {
    const clock = createFakeClock();
    let fail = false;
    const { operation } = timedOperation(clock, 50, () =>
      fail ? new AcquireTimeoutError({ waitedMs: 1, poolSize: 1, active: 1, pending: 1 }) : 'ok',
    );
    const load = createLoadGenerator({ operation, clock, windowMs: 1_000, bucketMs: 100 });
    load.setWorkers(1);
    await clock.advanceAsync(1_000);
    fail = true;
    await clock.advanceAsync(1_000);
    fail = false;

    const status = load.status();
    expect(status.ok).toBe(20);
    expect(status.window.ok).toBe(0);
    expect(status.window.errors).toBeGreaterThan(0);
    expect(Object.keys(status.window.errorsByCode)).toEqual(['ACQUIRE_TIMEOUT']);

    await clock.advanceAsync(1_100);
    expect(load.status().window.errors).toBe(0);
    expect(load.status().errors).toBe(status.errors);
    await load.stop();
  });

  it('reports percentiles of the latencies in the window', async () => {
    const clock = createFakeClock();
    let call = 0;
    const operation = (): Promise<void> =>
      new Promise((resolve) => {
        call += 1;
        // 1, 2, …, 100 ms: p50 = 50, p99 = 99, max = 100.
        clock.setTimeout(resolve, call <= 100 ? call : 1_000_000);
      });
    const load = createLoadGenerator({ operation, clock, windowMs: 10_000 });
    load.setWorkers(1);
    await clock.advanceAsync(5_050);

    const { window } = load.status();
    expect(window.ok).toBe(100);
    expect(window.p50Ms).toBe(50);
    expect(window.p99Ms).toBe(99);
    expect(window.maxMs).toBe(100);
    load.setWorkers(0);
  });

  it('stops workers it no longer needs and does not count their abort as an error', async () => {
    const clock = createFakeClock();
    const { operation } = timedOperation(clock, 1_000);
    const load = createLoadGenerator({ operation, clock });
    load.setWorkers(8);
    await clock.advanceAsync(10);

    load.setWorkers(3);
    expect(load.status().workers).toBe(3);
    await clock.flush();
    expect(load.status().running).toBe(3);

    await load.stop();
    expect(load.status()).toMatchObject({ workers: 0, running: 0, ok: 0, errors: 0 });
  });

  it('refuses a worker count outside 0…maxWorkers with InvalidOptionError', () => {
    const clock = createFakeClock();
    const load = createLoadGenerator({ operation: () => Promise.resolve(), clock, maxWorkers: 64 });
    for (const bad of [-1, 65, 1.5, Number.NaN, '8' as unknown as number]) {
      const error = (() => {
        try {
          load.setWorkers(bad);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(InvalidOptionError.isInstance(error), String(bad)).toBe(true);
      expect((error as InvalidOptionError).option).toBe('workers');
      expect((error as InvalidOptionError).allowed).toBe('an integer from 0 to 64');
    }
    expect(load.status().workers).toBe(0);
  });

  it('validates its options', () => {
    expect(() => createLoadGenerator({ operation: undefined as never })).toThrow(/operation/);
    expect(() =>
      createLoadGenerator({ operation: () => Promise.resolve(), windowMs: 1_000, bucketMs: 300 }),
    ).toThrow(/bucketMs/);
  });
});

describe('errorCode', () => {
  it('names pool errors by code, connect failures with their reason, others by code or name', () => {
    expect(errorCode(new CircuitOpenError(10))).toBe('CIRCUIT_OPEN');
    expect(errorCode(new ConnectError('connection', new Error('ECONNREFUSED')))).toBe(
      'CONNECT_FAILED/connection',
    );
    expect(errorCode(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(
      '57P01',
    );
    expect(errorCode(new TypeError('nope'))).toBe('TypeError');
    expect(errorCode('a string')).toBe('unknown');
  });
});
