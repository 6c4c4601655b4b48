import { randomInt } from 'node:crypto';
import { MAX_SEED } from './seeded-random.js';

/** What `pnpm soak -- --minutes 30 --seed 42` asks for. */
export interface SoakArguments {
  /** Wall time of the whole run, warm-up included. */
  readonly minutes: number;
  readonly seed: number;
  /** `false` when the seed was drawn at random (it is printed, so the run can be replayed). */
  readonly seedGiven: boolean;
}

/** A command line the soak can't run with; the message says which argument and what it takes. */
export class SoakArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoakArgumentError';
  }
}

export const DEFAULT_MINUTES = 10;
const MAX_MINUTES = 24 * 60;
const USAGE = 'usage: soak [--minutes <n, default 10, fractions allowed>] [--seed <0..4294967295>]';

/** Parses `--minutes <n>` / `--minutes=<n>` and `--seed <n>`; anything else is refused. */
export function parseSoakArguments(
  argv: readonly string[],
  drawSeed: () => number = () => randomInt(0, MAX_SEED),
): SoakArguments {
  let minutes = DEFAULT_MINUTES;
  let seed: number | undefined;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    // pnpm passes the `--` of `pnpm soak -- --minutes 1` through.
    if (argument === '--') continue;
    const [name, inline] = argument.includes('=')
      ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)]
      : [argument, undefined];
    if (name !== '--minutes' && name !== '--seed') {
      throw new SoakArgumentError(`unknown argument ${JSON.stringify(argument)}; ${USAGE}`);
    }
    const value = inline ?? argv[++index];
    if (value === undefined || value === '') {
      throw new SoakArgumentError(`${name} needs a value; ${USAGE}`);
    }
    const number = Number(value);
    if (name === '--minutes') {
      if (!Number.isFinite(number) || number <= 0 || number > MAX_MINUTES) {
        throw new SoakArgumentError(
          `--minutes ${JSON.stringify(value)}: expected a number above 0 and at most ${MAX_MINUTES}`,
        );
      }
      minutes = number;
    } else {
      if (!Number.isInteger(number) || number < 0 || number > MAX_SEED) {
        throw new SoakArgumentError(
          `--seed ${JSON.stringify(value)}: expected an integer from 0 to ${MAX_SEED}`,
        );
      }
      seed = number;
    }
  }
  return seed === undefined
    ? { minutes, seed: drawSeed(), seedGiven: false }
    : { minutes, seed, seedGiven: true };
}
