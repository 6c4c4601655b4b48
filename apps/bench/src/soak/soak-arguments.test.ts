import { describe, expect, it } from 'vitest';
import { DEFAULT_MINUTES, parseSoakArguments, SoakArgumentError } from './soak-arguments.js';

describe('parseSoakArguments', () => {
  it('defaults to 10 minutes and draws a seed it says it drew', () => {
    expect(parseSoakArguments([], () => 77)).toEqual({
      minutes: DEFAULT_MINUTES,
      seed: 77,
      seedGiven: false,
    });
  });

  it('takes fractions of minutes and a seed, in both spellings, after pnpm’s --', () => {
    expect(parseSoakArguments(['--', '--minutes', '0.5', '--seed=42'])).toEqual({
      minutes: 0.5,
      seed: 42,
      seedGiven: true,
    });
    expect(parseSoakArguments(['--minutes=30', '--seed', '0']).seed).toBe(0);
  });

  it.each([
    [['--minutes', '0'], /--minutes "0": expected a number above 0/],
    [['--minutes', 'ten'], /--minutes "ten"/],
    [['--minutes'], /--minutes needs a value/],
    [['--seed', '1.5'], /--seed "1.5": expected an integer from 0 to 4294967295/],
    [['--seed', '-1'], /--seed "-1"/],
    [['--seconds', '5'], /unknown argument "--seconds"; usage: soak/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseSoakArguments(argv)).toThrow(SoakArgumentError);
    expect(() => parseSoakArguments(argv)).toThrow(message);
  });
});
