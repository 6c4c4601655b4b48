import { describe, expect, it } from 'vitest';
import {
  AcquireTimeoutError,
  CircuitOpenError,
  ConnectError,
  EnhancedPoolError,
  InvalidOptionError,
  InvalidReleaseError,
  PoolClosedError,
  PoolExhaustedError,
  ValidationError,
} from './errors.js';

describe('error family', () => {
  it('gives every error a stable code, a name and the base brand', () => {
    const errors = [
      new InvalidOptionError('maxSize', -1, 'an integer ≥ 1'),
      new AcquireTimeoutError({ waitedMs: 10, poolSize: 2, active: 2, pending: 3 }),
      new PoolExhaustedError(5),
      new PoolClosedError(),
      new InvalidReleaseError('already-released', 'released twice'),
      new ConnectError('connection', new Error('ECONNREFUSED')),
      new CircuitOpenError(1_500),
      new ValidationError('connection', new Error('gone')),
    ];
    const codes = errors.map((error) => error.code);
    expect(new Set(codes).size).toBe(errors.length);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(EnhancedPoolError.isInstance(error)).toBe(true);
      expect(error.name).toBe(error.constructor.name);
    }
  });

  it('recognises an error from a duplicate install by its Symbol.for brand', () => {
    const foreign = Object.assign(new Error('from another copy'), {
      code: 'POOL_CLOSED',
      [Symbol.for('@enhanced-pool/error')]: true,
    });
    expect(EnhancedPoolError.isInstance(foreign)).toBe(true);
    expect(PoolClosedError.isInstance(foreign)).toBe(true);
    expect(PoolExhaustedError.isInstance(foreign)).toBe(false);
    expect(EnhancedPoolError.isInstance(new Error('plain'))).toBe(false);
    expect(EnhancedPoolError.isInstance(null)).toBe(false);
  });

  it('narrows by subclass', () => {
    const error: unknown = new CircuitOpenError(250);
    expect(CircuitOpenError.isInstance(error)).toBe(true);
    expect(AcquireTimeoutError.isInstance(error)).toBe(false);
    if (CircuitOpenError.isInstance(error)) expect(error.retryAfterMs).toBe(250);
  });

  it('says waited ms, pool size, active and pending in an acquire timeout', () => {
    const error = new AcquireTimeoutError(
      { waitedMs: 5_000.4, poolSize: 10, active: 10, pending: 7 },
      { poolName: 'orders' },
    );
    expect(error.message).toBe(
      'Pool "orders": acquire timed out after waiting 5000 ms (pool size 10, active 10, pending 7)',
    );
    expect(error.waitedMs).toBe(5_000.4);
  });

  it('says when an open circuit can be retried, and when it has no scheduled end', () => {
    expect(new CircuitOpenError(1_499.6).message).toBe(
      'Connection circuit is open; retry after 1500 ms',
    );
    expect(new CircuitOpenError(Infinity, { poolName: 'orders' }).message).toBe(
      'Pool "orders": connection circuit is open; it stays open until it is reset',
    );
  });

  it('names the option, the value and the allowed range', () => {
    const error = new InvalidOptionError('acquireTimeoutMs', -5, 'a number ≥ 0');
    expect(error.message).toBe('Invalid option "acquireTimeoutMs": got -5, expected a number ≥ 0');
    expect(error).toMatchObject({ option: 'acquireTimeoutMs', value: -5, allowed: 'a number ≥ 0' });
  });

  it('never copies a password from the cause into its own message', () => {
    const cause = new Error('cannot reach postgres://app:hunter2@db:5432/orders');
    expect(new ConnectError('connection', cause).message).not.toContain('hunter2');
    expect(new ValidationError('connection', cause).message).not.toContain('hunter2');
  });

  it('keeps the cause and the driver reason on a connect error', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const error = new ConnectError('connection', cause, { driverName: 'pg' });
    expect(error.cause).toBe(cause);
    expect(error.reason).toBe('connection');
    expect(error.message).toContain('(pg)');
    expect(error.message).toContain('ECONNREFUSED');
  });
});
