import type { ErrorReason, Logger } from '@enhanced-pool/core';
import type { LeaseOwner } from '../src/pooled-connection.js';

/*
 * Stubs the engine modules' unit tests share: what a module logs, and an owner for the leases
 * a test builds by hand (the module under test never releases them through it).
 */

/** A logger that keeps each line as `"<level> <message>"`. */
export function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/** A lease owner that does nothing: for `new PoolLease(...)` in tests of other modules. */
export function inertLeaseOwner<TConnection>(): LeaseOwner<TConnection> {
  return {
    releaseLease() {},
    destroyLease() {},
    reportLeaseError: (): ErrorReason => 'unknown',
  };
}
