import { EnhancedPoolError, ERROR_REASONS, type ErrorReason } from '@enhanced-pool/core';

/**
 * Node socket, DNS and TLS codes, and undici's (the engine of Node's `fetch`), found on the
 * `cause` of a `TypeError: fetch failed`.
 */
const SYSTEM_CODES: ReadonlyMap<string, ErrorReason> = new Map<string, ErrorReason>([
  ['ECONNREFUSED', 'connection'],
  ['ECONNRESET', 'connection'],
  ['ECONNABORTED', 'connection'],
  ['ETIMEDOUT', 'connection'],
  ['EPIPE', 'connection'],
  ['EHOSTUNREACH', 'connection'],
  ['EHOSTDOWN', 'connection'],
  ['ENETUNREACH', 'connection'],
  ['ENETDOWN', 'connection'],
  ['ENETRESET', 'connection'],
  ['EADDRNOTAVAIL', 'connection'],
  ['EAI_AGAIN', 'connection'],
  // undici: the server closed the socket mid-request ("other side closed"), or the client did.
  ['UND_ERR_SOCKET', 'connection'],
  ['UND_ERR_CLOSED', 'connection'],
  // undici's own deadlines.
  ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ['UND_ERR_ABORTED', 'timeout'],
  ['ABORT_ERR', 'timeout'],
  // This driver's: a request of a client after close(), like a query on a closed connection.
  ['ERR_SUPABASE_CLIENT_CLOSED', 'connection'],
  // A project URL whose host does not resolve: retrying won't fix a typo.
  ['ENOTFOUND', 'configuration'],
  ['ERR_INVALID_URL', 'configuration'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'configuration'],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', 'configuration'],
  ['SELF_SIGNED_CERT_IN_CHAIN', 'configuration'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'configuration'],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'configuration'],
  ['CERT_HAS_EXPIRED', 'configuration'],
]);

/** PostgREST's own codes with a reason of their own; other `PGRST…` codes are `query`. */
const PGRST_CODES: ReadonlyMap<string, ErrorReason> = new Map<string, ErrorReason>([
  // PostgREST can't reach the database (connect failed, connection lost, schema cache).
  ['PGRST000', 'connection'],
  ['PGRST001', 'connection'],
  ['PGRST002', 'connection'],
  // PostgREST's pool had no connection free in time: the database is up but saturated.
  ['PGRST003', 'resource-exhausted'],
  // The JWT in Authorization was rejected (bad signature, expired, claims).
  ['PGRST301', 'authentication'],
  ['PGRST302', 'authentication'],
  ['PGRST303', 'authentication'],
]);

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** The message of the error a closed client's requests fail with (see the driver). */
export const CLIENT_CLOSED_MESSAGE = 'The Supabase client was closed by its driver';
const MAX_CAUSE_DEPTH = 5;
/** supabase-js's builder reports a failed fetch as text: "… Caused by: Error: … (ECONNREFUSED)". */
const CAUSE_CODE = /Caused by: [^\n]*\(([A-Z][A-Z0-9_]+)\)/;

/**
 * Sorts an error from supabase-js (or from this driver) into the closed set of
 * {@link ErrorReason}s that pool policy is decided from. It is the `classifyError` of the
 * driver `createSupabaseDriver()` returns, exported so code outside the pool (a retry wrapper,
 * `lease.reportError()`) classifies the same way. It accepts what supabase-js produces:
 * a thrown `PostgrestError` (`.throwOnError()`), the `error` of a response, the whole response
 * (`{ error, status }`), this driver's `SupabaseRequestError`, and `fetch` failures.
 *
 * In order:
 * 1. An enhanced-pool error that carries a `reason` (`ConnectError`, `ValidationError`) keeps it.
 * 2. PostgREST codes: `PGRST000`–`PGRST002` (PostgREST can't reach the database) →
 *    `connection`; `PGRST003` (its pool exhausted) → `resource-exhausted`;
 *    `PGRST301`–`PGRST303` (JWT rejected) → `authentication`; any other `PGRST…` → `query`.
 * 3. The HTTP status: `503`, `502`, `520`–`527` → `connection`; `504` and `429` →
 *    `resource-exhausted`; `408` → `timeout`; `401`, `403` → `authentication`; other `4xx` →
 *    `query`.
 * 4. A SQLSTATE passed on by PostgREST: `57014` → `timeout`; class `08`, `57P01`–`57P03` →
 *    `connection`; class `53` → `resource-exhausted`; class `28` → `authentication`; any other →
 *    `query`. A `5xx` answer without one is `unknown`.
 * 5. Network failures (`fetch failed` with `ECONNREFUSED`, `ECONNRESET`, undici's
 *    `UND_ERR_SOCKET`, …) → `connection`; undici's deadlines → `timeout`; `ENOTFOUND`, bad URLs
 *    and certificate failures → `configuration`.
 * 6. `TimeoutError` (this driver's health-check deadline, `AbortSignal.timeout()`) and
 *    `AbortError` (the caller's signal) → `timeout`.
 * 7. Otherwise the `cause` chain (and an `AggregateError`'s `errors`), else `unknown`.
 */
export function classifySupabaseError(error: unknown): ErrorReason {
  return classify(error, 0);
}

interface ErrorFields {
  readonly reason?: unknown;
  readonly code?: unknown;
  readonly status?: unknown;
  readonly message?: unknown;
  readonly details?: unknown;
  readonly name?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
  readonly error?: unknown;
}

function classify(error: unknown, depth: number): ErrorReason {
  if (typeof error !== 'object' || error === null || depth > MAX_CAUSE_DEPTH) return 'unknown';
  const fields = error as ErrorFields;

  if (isErrorReason(fields.reason) && EnhancedPoolError.isInstance(error)) return fields.reason;

  // A whole response, `{ data, error, status }`: the error with the response's status.
  if (
    typeof fields.status === 'number' &&
    typeof fields.error === 'object' &&
    fields.error !== null
  ) {
    const inner = fields.error as ErrorFields;
    return classifyAnswer(fields.status, inner.code, inner, depth);
  }
  if (typeof fields.status === 'number') {
    return classifyAnswer(fields.status, fields.code, fields, depth);
  }
  return classifyAnswer(0, fields.code, fields, depth);
}

function classifyAnswer(
  status: number,
  code: unknown,
  fields: ErrorFields,
  depth: number,
): ErrorReason {
  if (typeof code === 'string' && code !== '') {
    if (code.startsWith('PGRST')) return PGRST_CODES.get(code) ?? 'query';
    const system = SYSTEM_CODES.get(code);
    if (system !== undefined) return system;
  }
  // "too many connections" passed on by PostgREST (as a 503): more precise than the status.
  if (typeof code === 'string' && SQLSTATE.test(code) && code.startsWith('53')) {
    return 'resource-exhausted';
  }
  if (status > 0) {
    const reason = classifyStatus(status);
    if (reason !== undefined) return reason;
  }
  if (typeof code === 'string' && SQLSTATE.test(code)) return classifySqlState(code);
  if (status >= 500) return 'unknown';

  // supabase-js's builder turns a failed fetch into `{ message: 'TypeError: fetch failed',
  // details: '… Caused by: … (ECONNREFUSED)' }` with status 0.
  const message = typeof fields.message === 'string' ? fields.message : '';
  if (typeof fields.details === 'string') {
    const causeCode = CAUSE_CODE.exec(fields.details)?.[1];
    const reason = causeCode === undefined ? undefined : SYSTEM_CODES.get(causeCode);
    if (reason !== undefined) return reason;
  }
  // supabase-js's text for a request this driver's close() aborted.
  if (message.includes(CLIENT_CLOSED_MESSAGE)) return 'connection';
  if (message.startsWith('AbortError:') || message.startsWith('TimeoutError:')) return 'timeout';
  if (fields.name === 'TimeoutError' || fields.name === 'AbortError') return 'timeout';

  if (fields.cause !== undefined) {
    const reason = classify(fields.cause, depth + 1);
    if (reason !== 'unknown') return reason;
  }
  if (Array.isArray(fields.errors)) {
    for (const inner of fields.errors) {
      const reason = classify(inner, depth + 1);
      if (reason !== 'unknown') return reason;
    }
  }
  // Node's fetch rejects every network failure with this TypeError; no HTTP answer arrived.
  if (
    (fields.name === 'TypeError' && message === 'fetch failed') ||
    message === 'TypeError: fetch failed'
  ) {
    return 'connection';
  }
  return 'unknown';
}

function classifyStatus(status: number): ErrorReason | undefined {
  if (status === 503 || status === 502 || (status >= 520 && status <= 527)) return 'connection';
  if (status === 504 || status === 429) return 'resource-exhausted';
  if (status === 408) return 'timeout';
  if (status === 401 || status === 403) return 'authentication';
  if (status >= 400 && status < 500) return 'query';
  return undefined;
}

function classifySqlState(code: string): ErrorReason {
  if (code === '57014') return 'timeout';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
    return 'connection';
  }
  if (code.startsWith('53')) return 'resource-exhausted';
  if (code.startsWith('28')) return 'authentication';
  return 'query';
}

function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && (ERROR_REASONS as readonly string[]).includes(value);
}
