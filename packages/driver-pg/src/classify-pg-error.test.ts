import {
  ConnectError,
  type ErrorReason,
  isUnreachableReason,
  ValidationError,
} from '@enhanced-pool/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import fixtures from './__fixtures__/pg-errors.json' with { type: 'json' };
import { classifyPgError } from './classify-pg-error.js';

interface CapturedError {
  readonly className: string;
  readonly name?: string;
  readonly message: string;
  readonly code?: string;
  readonly severity?: string;
  readonly routine?: string;
  readonly errno?: number;
  readonly syscall?: string;
  readonly address?: string;
  readonly errors?: readonly CapturedError[];
}

/** Rebuilds an error as pg produced it: same class where it matters, same fields. */
function rebuild(captured: CapturedError): Error {
  const { className, name, message, errors, ...fields } = captured;
  let error: Error;
  if (className === 'DatabaseError') {
    error = new pg.DatabaseError(message, 0, name as never);
  } else if (className === 'TypeError') {
    error = new TypeError(message);
  } else if (className === 'AggregateError') {
    error = new AggregateError((errors ?? []).map(rebuild), message);
  } else {
    error = new Error(message);
  }
  return Object.assign(error, fields);
}

const captured = fixtures.errors as Record<
  string,
  { readonly description: string; readonly error: CapturedError }
>;

/** What each captured error must be classified as (scripts/capture-pg-errors.mjs made them). */
const expected: Record<string, ErrorReason> = {
  econnrefused: 'connection',
  'econnrefused-localhost': 'connection',
  'enoent-socket': 'connection',
  enotfound: 'configuration',
  'wrong-password': 'authentication',
  'missing-password': 'authentication',
  'unknown-role': 'authentication',
  'missing-database': 'configuration',
  'ssl-unsupported': 'configuration',
  'client-reused': 'unknown',
  'too-many-connections': 'resource-exhausted',
  'connect-timeout': 'timeout',
  'pool-connect-timeout': 'timeout',
  'econnreset-connect': 'connection',
  'econnreset-idle': 'connection',
  'query-after-connection-error': 'connection',
  'terminated-active': 'connection',
  'terminated-active-event': 'connection',
  'terminated-idle': 'connection',
  'terminated-idle-second': 'connection',
  'query-after-end': 'connection',
  'query-after-close': 'connection',
  'statement-timeout': 'timeout',
  'query-cancelled': 'timeout',
  'unique-violation': 'query',
  'syntax-error': 'query',
  'undefined-table': 'query',
  'division-by-zero': 'query',
  'in-failed-transaction': 'query',
  'query-read-timeout': 'timeout',
  'shutting-down': 'connection',
  'immediate-shutdown-active': 'connection',
  'immediate-shutdown-active-event': 'connection',
  'immediate-shutdown-idle': 'connection',
  'invalid-sslnegotiation': 'configuration',
  'invalid-connection-string': 'configuration',
};

describe('classifyPgError over errors captured from a real server', () => {
  it('has an expectation for every captured error, and a capture for every expectation', () => {
    expect(Object.keys(captured).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(captured))('%s', (id, { error }) => {
    expect(classifyPgError(rebuild(error))).toBe(expected[id]);
  });

  it('never treats a statement failure as the database being unreachable', () => {
    for (const id of ['unique-violation', 'syntax-error', 'undefined-table', 'division-by-zero']) {
      const entry = captured[id];
      expect(entry, id).toBeDefined();
      expect(isUnreachableReason(classifyPgError(rebuild(entry!.error))), id).toBe(false);
    }
  });
});

describe('classifyPgError beyond the captures', () => {
  // Socket errors the capture script can't provoke on loopback; Node gives them the same shape
  // as the captured ECONNREFUSED/ECONNRESET (code, errno, syscall).
  it.each([
    ['EPIPE', 'write', 'connection'],
    ['ETIMEDOUT', 'connect', 'connection'],
    ['EHOSTUNREACH', 'connect', 'connection'],
    ['ENETUNREACH', 'connect', 'connection'],
    ['ECONNABORTED', 'read', 'connection'],
    ['EAI_AGAIN', 'getaddrinfo', 'connection'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', undefined, 'configuration'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', undefined, 'configuration'],
    ['ENOENT', 'open', 'unknown'],
  ] as const)('%s (%s) → %s', (code, syscall, reason) => {
    expect(classifyPgError(Object.assign(new Error(`${syscall} ${code}`), { code, syscall }))).toBe(
      reason,
    );
  });

  it.each([
    ['08006', 'connection'],
    ['08001', 'connection'],
    ['08P01', 'connection'],
    ['57P02', 'connection'],
    ['57P05', 'connection'],
    ['25P03', 'connection'],
    ['57P04', 'configuration'],
    ['F0000', 'configuration'],
    ['53100', 'resource-exhausted'],
    ['53200', 'resource-exhausted'],
    ['28000', 'authentication'],
    ['40P01', 'query'],
    ['40001', 'query'],
    ['55P03', 'query'],
    ['42501', 'query'],
    ['XX000', 'query'],
  ] as const)('SQLSTATE %s → %s', (code, reason) => {
    const error = Object.assign(new pg.DatabaseError('server error', 0, 'error'), { code });
    expect(classifyPgError(error)).toBe(reason);
  });

  it('keeps the reason of an enhanced-pool error that carries one', () => {
    expect(classifyPgError(new ConnectError('resource-exhausted', new Error('x')))).toBe(
      'resource-exhausted',
    );
    expect(classifyPgError(new ValidationError('timeout', new Error('x')))).toBe('timeout');
  });

  it('does not trust a `reason` field on an arbitrary object', () => {
    expect(classifyPgError({ reason: 'connection' })).toBe('unknown');
  });

  it('classifies deadlines and aborts as timeouts', () => {
    expect(classifyPgError(new DOMException('late', 'TimeoutError'))).toBe('timeout');
    expect(classifyPgError(AbortSignal.abort().reason)).toBe('timeout');
  });

  it('follows the cause chain and AggregateError members', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1'), { code: 'ECONNREFUSED' });
    expect(classifyPgError(new Error('wrapped', { cause: refused }))).toBe('connection');
    expect(classifyPgError(new AggregateError([new Error('x'), refused], 'all failed'))).toBe(
      'connection',
    );
  });

  it('gives up on a cyclic cause chain', () => {
    const first = new Error('first');
    const second = new Error('second', { cause: first });
    Object.assign(first, { cause: second });
    expect(classifyPgError(first)).toBe('unknown');
  });

  it.each([undefined, null, 'Connection terminated unexpectedly', 42, new Error('boom')])(
    '%s → unknown',
    (value) => {
      expect(classifyPgError(value)).toBe('unknown');
    },
  );
});
