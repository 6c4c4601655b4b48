import { type Driver, type ErrorReason, type LogContext, redactSecrets } from '@enhanced-pool/core';

/*
 * The pool never trusts a driver method not to throw synchronously, and never lets a driver's
 * message reach a log unredacted. These helpers are the one place that is done.
 */

/** Calls a driver method so that a synchronous throw becomes a rejection. */
export function callDriver<T>(call: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** What every log line of a pool carries: its name, the driver, and where it connects. */
export function driverLogContext<TConnection>(
  poolName: string,
  driver: Driver<TConnection>,
): LogContext {
  let description: LogContext = {};
  try {
    description = { ...driver.describe() };
  } catch {
    // A driver that can't describe itself still works; logs just carry less context.
  }
  return { pool: poolName, driver: driver.name, ...description };
}

/** A driver error's message for a log line, credentials removed. */
export function errorMessage(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** The driver's classification; `unknown` when the classifier itself throws. */
export function classifyWith<TConnection>(
  driver: Driver<TConnection>,
  error: unknown,
): ErrorReason {
  try {
    return driver.classifyError(error);
  } catch {
    return 'unknown';
  }
}

/** The driver's `isBroken()`; a classifier that throws counts as broken. */
export function isBrokenWith<TConnection>(
  driver: Driver<TConnection>,
  connection: TConnection,
): boolean {
  try {
    return driver.isBroken?.(connection) === true;
  } catch {
    return true;
  }
}
