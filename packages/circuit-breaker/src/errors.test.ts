import { describe, expect, it } from 'vitest';
import {
  BrokenCircuitError,
  CircuitBreakerError,
  InvalidBreakerOptionError,
  isBrokenCircuitError,
  PermitAlreadyReportedError,
} from './errors.js';

const BRAND = Symbol.for('@enhanced-pool/error');

describe('errors', () => {
  it('carry the enhanced-pool brand, so core EnhancedPoolError.isInstance() accepts them', () => {
    const error = new BrokenCircuitError('open', 100, undefined);
    expect((error as unknown as Record<symbol, unknown>)[BRAND]).toBe(true);
    expect(CircuitBreakerError.isInstance(error)).toBe(true);
    expect(error.name).toBe('BrokenCircuitError');
  });

  it('are recognised across duplicate installs by brand and code, not by class', () => {
    const foreign = Object.assign(new Error('from another copy'), {
      [BRAND]: true,
      code: 'BROKEN_CIRCUIT',
    });
    expect(isBrokenCircuitError(foreign)).toBe(true);
    expect(BrokenCircuitError.isInstance(foreign)).toBe(true);
    expect(InvalidBreakerOptionError.isInstance(foreign)).toBe(false);
    expect(isBrokenCircuitError(new Error('plain'))).toBe(false);
    expect(isBrokenCircuitError(null)).toBe(false);
    expect(isBrokenCircuitError({ code: 'BROKEN_CIRCUIT' })).toBe(false);
  });

  it('describe each rejecting state, rounding the wait up', () => {
    const cause = new Error('ECONNREFUSED');
    const open = new BrokenCircuitError('open', 1_234.2, cause, { breakerName: 'db' });
    expect(open.message).toBe('Circuit "db" is open; retry after 1235 ms');
    expect(open.cause).toBe(cause);
    expect(new BrokenCircuitError('half-open', 10, undefined).message).toBe(
      'Circuit is half-open and its trial calls are in flight; retry after 10 ms',
    );
    const isolated = new BrokenCircuitError('isolated', Number.POSITIVE_INFINITY, undefined);
    expect(isolated.message).toBe('Circuit is isolated; calls are refused until released');
    expect('cause' in isolated).toBe(false);
  });

  it('give option errors the same shape as core InvalidOptionError', () => {
    const error = new InvalidBreakerOptionError('window.size', { secret: 'x' }, 'an integer ≥ 1');
    expect(error).toMatchObject({
      code: 'INVALID_OPTION',
      option: 'window.size',
      allowed: 'an integer ≥ 1',
    });
    expect(error.message).toBe('Invalid option "window.size": got object, expected an integer ≥ 1');
    expect(new PermitAlreadyReportedError({ breakerName: 'db' }).message).toBe(
      'A permit of circuit "db" reported its outcome twice',
    );
  });
});
