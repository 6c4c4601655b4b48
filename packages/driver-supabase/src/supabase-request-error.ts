/** What a failed PostgREST request answered, as supabase-js reports it. */
export interface SupabaseRequestErrorDetails {
  /** The HTTP status; `0` when no answer arrived. */
  readonly status: number;
  /** PostgREST's error code (`PGRST…`) or the SQLSTATE of a database error; `''` when none. */
  readonly code: string;
  readonly message: string;
  readonly details?: string | null;
  readonly hint?: string | null;
  /** What was sent, e.g. `HEAD /rest/v1/todos`; never the key or the query string. */
  readonly operation: string;
}

/**
 * A Supabase request answered with an error. supabase-js resolves such requests with
 * `{ error, status }` instead of rejecting; the driver's health check turns the answer into this
 * error so the pool can classify it (`status` and `code` decide the reason, see
 * `classifySupabaseError`). It is the client's answer, like `pg`'s `DatabaseError`, so it is not
 * part of the `EnhancedPoolError` family; the pool wraps it in `ConnectError` or
 * `ValidationError`.
 */
export class SupabaseRequestError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: string | null;
  readonly hint: string | null;
  readonly operation: string;

  constructor(details: SupabaseRequestErrorDetails, options?: { cause?: unknown }) {
    const code = details.code === '' ? '' : ` (${details.code})`;
    const answered = details.status === 0 ? 'got no answer' : `answered ${details.status}`;
    super(
      `${details.operation} ${answered}${code}: ${details.message}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'SupabaseRequestError';
    this.status = details.status;
    this.code = details.code;
    this.details = details.details ?? null;
    this.hint = details.hint ?? null;
    this.operation = details.operation;
  }
}
