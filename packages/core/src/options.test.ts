import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { booleanOption, numberOption, stringOption } from './options.js';

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
});
