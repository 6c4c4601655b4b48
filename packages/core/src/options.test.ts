import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { noopLogger } from './logger.js';
import { booleanOption, clockOption, loggerOption, numberOption, stringOption } from './options.js';

describe('option helpers', () => {
  it('returns the fallback for undefined and the value when in range', () => {
    expect(numberOption('minSize', undefined, 2, { min: 0, integer: true })).toBe(2);
    expect(numberOption('minSize', 3, 2, { min: 0, integer: true })).toBe(3);
    expect(numberOption('leakDetectionMs', Infinity, 0, { min: 0, allowInfinity: true })).toBe(
      Infinity,
    );
  });

  it.each([
    ['below min', -1, { min: 0 }, 'a number ≥ 0'],
    ['not an integer', 1.5, { min: 1, integer: true }, 'an integer ≥ 1'],
    ['NaN', Number.NaN, { min: 0 }, 'a number ≥ 0'],
    ['Infinity not allowed', Infinity, { min: 0, max: 10 }, 'a number ≥ 0 and ≤ 10'],
    ['a string', '5', {}, 'a number'],
  ])(
    'rejects %s with a typed error naming option, value and range',
    (_label, value, range, allowed) => {
      let thrown: unknown;
      try {
        numberOption('someOption', value, 0, range);
      } catch (error) {
        thrown = error;
      }
      expect(InvalidOptionError.isInstance(thrown)).toBe(true);
      expect(thrown).toMatchObject({ option: 'someOption', allowed });
    },
  );

  it('validates booleans and strings', () => {
    expect(booleanOption('validateOnRelease', undefined, false)).toBe(false);
    expect(() => booleanOption('validateOnRelease', 'yes', false)).toThrow(
      /"validateOnRelease": got "yes", expected a boolean/,
    );
    expect(stringOption('name', undefined, 'pool')).toBe('pool');
    expect(() => stringOption('name', '', 'pool')).toThrow(InvalidOptionError);
  });

  it('validates clocks and loggers by shape, defaulting to the system clock and silence', () => {
    expect(clockOption('clock', undefined)).toBe(systemClock);
    const fake = { now: () => 0, setTimeout: () => 1, clearTimeout: () => {} };
    expect(clockOption('clock', fake)).toBe(fake);
    expect(() => clockOption('clock', { now: () => 0 })).toThrow(
      'Invalid option "clock": got object, expected a Clock (an object with now(), setTimeout() and clearTimeout())',
    );
    expect(loggerOption('logger', undefined)).toBe(noopLogger);
    expect(loggerOption('logger', console)).toBe(console);
    expect(() => loggerOption('logger', 'console')).toThrow(InvalidOptionError);
  });
});
