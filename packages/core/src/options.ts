import { type Clock, systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { type Logger, noopLogger } from './logger.js';

/** Bounds for a numeric option; both inclusive. */
export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  /** Require a whole number. */
  readonly integer?: boolean;
  /** Accept `Infinity` (e.g. "no limit"). */
  readonly allowInfinity?: boolean;
}

function describeRange(range: NumberRange): string {
  const kind = range.integer ? 'an integer' : 'a number';
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`≥ ${range.min}`);
  if (range.max !== undefined) parts.push(`≤ ${range.max}`);
  const bounds = parts.length > 0 ? ` ${parts.join(' and ')}` : '';
  return `${kind}${bounds}${range.allowInfinity ? ' (or Infinity)' : ''}`;
}

/**
 * Validates a numeric option, returning `fallback` when it is `undefined`. Throws
 * {@link InvalidOptionError} naming the option, the value and the allowed range.
 */
export function numberOption(
  option: string,
  value: unknown,
  fallback: number,
  range: NumberRange = {},
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (range.allowInfinity === true && value === Infinity)) &&
    (!range.integer || !Number.isFinite(value) || Number.isInteger(value)) &&
    (range.min === undefined || value >= range.min) &&
    (range.max === undefined || value <= range.max);
  if (!ok) throw new InvalidOptionError(option, value, describeRange(range));
  return value as number;
}

/** Validates a boolean option. */
export function booleanOption(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, value, 'a boolean');
  return value;
}

/** Validates a non-empty string option. */
export function stringOption(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(option, value, 'a non-empty string');
  }
  return value;
}

function hasFunctions(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return names.every((name) => typeof record[name] === 'function');
}

/** Allowed-range text for a clock option, shared so every package words it the same. */
const CLOCK_SHAPE = 'a Clock (an object with now(), setTimeout() and clearTimeout())';
const LOGGER_SHAPE = 'a Logger (an object with debug(), info(), warn() and error())';

/**
 * Validates a `clock` option by shape (so a fake clock or another copy of core fits),
 * returning {@link systemClock} when it is `undefined`.
 */
export function clockOption(option: string, value: unknown): Clock {
  if (value === undefined) return systemClock;
  if (!hasFunctions(value, ['now', 'setTimeout', 'clearTimeout'])) {
    throw new InvalidOptionError(option, value, CLOCK_SHAPE);
  }
  return value as Clock;
}

/**
 * Validates a `logger` option by shape (`console` and pino fit), returning
 * {@link noopLogger} when it is `undefined`.
 */
export function loggerOption(option: string, value: unknown): Logger {
  if (value === undefined) return noopLogger;
  if (!hasFunctions(value, ['debug', 'info', 'warn', 'error'])) {
    throw new InvalidOptionError(option, value, LOGGER_SHAPE);
  }
  return value as Logger;
}
