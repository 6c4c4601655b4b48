import { EnhancedPoolError } from '@enhanced-pool/core';
import { classifyPgError } from '@enhanced-pool/driver-pg';
import type { FaultKind } from './fault-schedule.js';

/**
 * What a caller saw, grouped so a table can count it: a pool error by its code
 * (`ACQUIRE_TIMEOUT`, `CIRCUIT_OPEN`, `CONNECT_FAILED (timeout)` …), a statement the server
 * cancelled (`statement_timeout`), a connection that died under a statement (`connection`),
 * the caller's own abort (`aborted`), anything else by its code or name (`other: …`).
 */
export type CallerErrorKind = string;

export const ABORTED = 'aborted';
export const STATEMENT_TIMEOUT = 'statement_timeout';
export const CONNECTION = 'connection';
export const ACQUIRE_TIMEOUT = 'ACQUIRE_TIMEOUT';
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';

/** Groups one error a caller got. `abortReason` is the reason of the caller's own signal. */
export function classifyCallerError(error: unknown, abortReason?: unknown): CallerErrorKind {
  if (abortReason !== undefined && error === abortReason) return ABORTED;
  if (EnhancedPoolError.isInstance(error)) {
    const reason = (error as { reason?: unknown }).reason;
    return error.code === 'CONNECT_FAILED' && typeof reason === 'string'
      ? `CONNECT_FAILED (${reason})`
      : error.code;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '57014') return STATEMENT_TIMEOUT;
  const reason = classifyPgError(error);
  if (reason === 'connection') return CONNECTION;
  const name = (error as { name?: unknown } | null)?.name;
  const label = typeof code === 'string' ? code : typeof name === 'string' ? name : typeof error;
  return `other: ${label} (${reason})`;
}

/**
 * The kinds of error each fault may cause, to callers whose call overlaps it (or its recovery):
 * statements in flight at a kill, an outage or a restart fail with the connection; callers
 * waiting through a blackhole, a partition or added latency time out; once an outage is past
 * the pool's grace, callers needing a new connection are refused with `CIRCUIT_OPEN`; only the
 * deliberately slow statements hit `statement_timeout`. `aborted` is always expected from a
 * caller that aborted, and from no one else.
 */
export const EXPECTED_ERRORS: Readonly<Record<FaultKind, readonly CallerErrorKind[]>> = {
  'kill-all': [CONNECTION],
  'kill-idle': [CONNECTION],
  'kill-some': [CONNECTION],
  outage: [CONNECTION, ACQUIRE_TIMEOUT, CIRCUIT_OPEN],
  blackhole: [ACQUIRE_TIMEOUT, CIRCUIT_OPEN],
  partition: [ACQUIRE_TIMEOUT, CIRCUIT_OPEN, CONNECTION],
  latency: [ACQUIRE_TIMEOUT],
  restart: [CONNECTION, ACQUIRE_TIMEOUT, CIRCUIT_OPEN],
  'slow-statements': [ACQUIRE_TIMEOUT],
};
