import { describe, expect, it } from 'vitest';
import { checkReadiness, isLive, isReady } from './index.js';

describe('probes', () => {
  it('liveness never depends on the database: only a closed pool is not live', () => {
    expect(isLive({ closed: false })).toBe(true);
    expect(isLive({ closed: false, breakerState: 'open' } as { closed: boolean })).toBe(true);
    expect(isLive({ closed: true })).toBe(false);
  });

  it.each([
    [{ closed: false }, true, []],
    [{ closed: false, breakerState: 'closed' }, true, []],
    [{ closed: false, breakerState: 'half-open' }, true, []],
    [{ closed: false, breakerState: 'open' }, false, ['connection breaker is open']],
    [{ closed: false, breakerState: 'isolated' }, false, ['connection breaker is isolated']],
    [
      { closed: true, breakerState: 'open' },
      false,
      ['pool is closed', 'connection breaker is open'],
    ],
  ])('readiness of %o is %s', (state, ready, reasons) => {
    expect(checkReadiness(state)).toEqual({ ready, reasons });
    expect(isReady(state)).toBe(ready);
  });
});
