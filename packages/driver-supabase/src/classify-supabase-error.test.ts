import {
  ConnectError,
  ERROR_REASONS,
  type ErrorReason,
  isUnreachableReason,
  ValidationError,
} from '@enhanced-pool/core';
import { PostgrestError } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { classifySupabaseError } from './classify-supabase-error.js';
import { SupabaseRequestError } from './supabase-request-error.js';

/** supabase-js's own error for a thrown PostgREST answer (`.throwOnError()`). */
const postgrest = (code: string, message = 'x') =>
  new PostgrestError({ code, message, details: '', hint: '' });

/** This driver's error for a health check answered with an error. */
const answered = (status: number, code = '') =>
  new SupabaseRequestError({ status, code, message: 'x', operation: 'HEAD /rest/v1/todos' });

/** Node's fetch failure: `TypeError('fetch failed')` with the socket error as its cause. */
const fetchFailed = (code: string) =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

describe('classifySupabaseError', () => {
  it.each([
    ['PGRST000', 'connection'],
    ['PGRST001', 'connection'],
    ['PGRST002', 'connection'],
    ['PGRST003', 'resource-exhausted'],
    ['PGRST301', 'authentication'],
    ['PGRST302', 'authentication'],
    ['PGRST116', 'query'],
    ['PGRST202', 'query'],
    ['PGRST205', 'query'],
    ['PGRST100', 'query'],
  ] as const)('PostgREST code %s → %s, thrown or answered', (code, reason) => {
    expect(classifySupabaseError(postgrest(code))).toBe(reason);
    // The code decides over a status that says less (PostgREST's 503 carries PGRST000–002).
    expect(classifySupabaseError({ error: { code, message: 'x' }, status: 500 })).toBe(reason);
  });

  it.each([
    [503, 'connection'],
    [502, 'connection'],
    [520, 'connection'],
    [504, 'resource-exhausted'],
    [429, 'resource-exhausted'],
    [408, 'timeout'],
    [401, 'authentication'],
    [403, 'authentication'],
    [400, 'query'],
    [404, 'query'],
    [406, 'query'],
    [409, 'query'],
    [500, 'unknown'],
  ] as const)('HTTP %d without a code → %s', (status, reason) => {
    expect(classifySupabaseError(answered(status))).toBe(reason);
    expect(classifySupabaseError({ data: null, error: { message: '' }, status })).toBe(reason);
  });

  it.each([
    ['57014', 500, 'timeout'],
    ['53300', 503, 'resource-exhausted'],
    ['08006', 503, 'connection'],
    ['23505', 409, 'query'],
    ['42601', 400, 'query'],
    ['22012', 400, 'query'],
    ['P0001', 400, 'query'],
    ['40001', 500, 'query'],
  ] as const)('SQLSTATE %s passed on by PostgREST (HTTP %d) → %s', (code, status, reason) => {
    expect(classifySupabaseError(answered(status, code))).toBe(reason);
    expect(classifySupabaseError(postgrest(code))).toBe(reason);
  });

  it.each([
    ['ECONNREFUSED', 'connection'],
    ['ECONNRESET', 'connection'],
    ['EHOSTUNREACH', 'connection'],
    ['EAI_AGAIN', 'connection'],
    ['UND_ERR_SOCKET', 'connection'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['ENOTFOUND', 'configuration'],
    ['CERT_HAS_EXPIRED', 'configuration'],
  ] as const)('fetch failed with %s → %s', (code, reason) => {
    expect(classifySupabaseError(fetchFailed(code))).toBe(reason);
    // supabase-js's builder reports the same failure as text, with status 0.
    const summarised = {
      message: 'TypeError: fetch failed',
      details: `TypeError: fetch failed\n\nCaused by: Error: connect ${code} 127.0.0.1:1 (${code})\n    at …`,
      hint: '',
      code: '',
    };
    expect(classifySupabaseError(summarised)).toBe(reason);
    expect(classifySupabaseError({ data: null, error: summarised, status: 0 })).toBe(reason);
  });

  it('treats a fetch that failed with no known cause as a network failure', () => {
    expect(classifySupabaseError(new TypeError('fetch failed'))).toBe('connection');
    expect(classifySupabaseError({ message: 'TypeError: fetch failed', details: '' })).toBe(
      'connection',
    );
  });

  it('classifies deadlines and aborts as timeouts', () => {
    expect(classifySupabaseError(new DOMException('late', 'TimeoutError'))).toBe('timeout');
    expect(classifySupabaseError(AbortSignal.abort().reason)).toBe('timeout');
    expect(
      classifySupabaseError({ message: 'AbortError: This operation was aborted', code: '' }),
    ).toBe('timeout');
  });

  it('keeps the reason of an enhanced-pool error that carries one, and no other', () => {
    expect(classifySupabaseError(new ConnectError('resource-exhausted', new Error('x')))).toBe(
      'resource-exhausted',
    );
    expect(classifySupabaseError(new ValidationError('timeout', new Error('x')))).toBe('timeout');
    expect(classifySupabaseError({ reason: 'connection' })).toBe('unknown');
  });

  it('follows the cause chain and AggregateError members, and gives up on a cycle', () => {
    const refused = fetchFailed('ECONNREFUSED');
    expect(classifySupabaseError(new Error('wrapped', { cause: refused }))).toBe('connection');
    expect(classifySupabaseError(new AggregateError([new Error('x'), refused]))).toBe('connection');
    const first = new Error('first');
    Object.assign(first, { cause: new Error('second', { cause: first }) });
    expect(classifySupabaseError(first)).toBe('unknown');
  });

  it('never calls a statement failure unreachable, and places anything in the closed set', () => {
    for (const code of ['23505', '42601', 'PGRST116', 'PGRST205']) {
      expect(isUnreachableReason(classifySupabaseError(postgrest(code))), code).toBe(false);
    }
    for (const value of [undefined, null, 'text', 42, {}, new Error('boom'), { status: 'x' }]) {
      const reason: ErrorReason = classifySupabaseError(value);
      expect(ERROR_REASONS).toContain(reason);
    }
  });
});
