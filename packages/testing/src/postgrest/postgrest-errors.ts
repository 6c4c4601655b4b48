/** The JSON body PostgREST answers an error with. */
export interface PostgrestErrorBody {
  readonly code: string | null;
  readonly message: string;
  readonly details: string | null;
  readonly hint: string | null;
}

/** An HTTP answer for a failed request: status and PostgREST's error body. */
export interface PostgrestErrorAnswer {
  readonly status: number;
  readonly body: PostgrestErrorBody;
}

/** Builds an answer with PostgREST's body shape. */
export function errorAnswer(
  status: number,
  code: string | null,
  message: string,
  details: string | null = null,
  hint: string | null = null,
): PostgrestErrorAnswer {
  return { status, body: { code, message, details, hint } };
}

/** PGRST000: what PostgREST answers while it can't open a connection to the database. */
export function databaseUnreachable(detail: string | null): PostgrestErrorAnswer {
  return errorAnswer(
    503,
    'PGRST000',
    'Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL service not running.',
    detail,
  );
}

/** PGRST001: a connection PostgREST was using broke (terminated backend, server restart). */
export function databaseConnectionLost(detail: string | null): PostgrestErrorAnswer {
  return errorAnswer(
    503,
    'PGRST001',
    'Could not connect with the database due to an internal error.',
    detail,
  );
}

/** PGRST003: PostgREST's own pool had no connection free within its acquisition timeout. */
export function poolTimeout(): PostgrestErrorAnswer {
  return errorAnswer(504, 'PGRST003', 'Timed out acquiring connection from connection pool.');
}

/**
 * HTTP status PostgREST gives a PostgreSQL error, by SQLSTATE (PostgREST's documented table:
 * https://postgrest.org/en/stable/references/errors.html#postgresql-errors).
 */
export function statusForSqlState(code: string): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    '42883': 404,
    '42P01': 404,
    '42501': 403,
    P0001: 400,
  };
  const known = exact[code];
  if (known !== undefined) return known;
  const byClass: Record<string, number> = {
    '08': 503,
    '09': 500,
    '0L': 403,
    '0P': 403,
    '25': 500,
    '28': 403,
    '2D': 500,
    '38': 500,
    '39': 500,
    '3B': 500,
    '40': 500,
    '53': 503,
    '54': 500,
    '55': 500,
    '57': 500,
    '58': 500,
    F0: 500,
    HV: 500,
    P0: 500,
    XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

interface PgErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly detail?: unknown;
  readonly hint?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Messages `pg` raises (no SQLSTATE) when the socket to the server broke mid-use. */
const CONNECTION_LOST = [
  'Connection terminated',
  'Client has encountered a connection error',
  'Client was closed',
];

/**
 * The answer for an error from running a request's SQL on a pooled connection: a SQLSTATE
 * becomes PostgREST's status and body (`code` is the SQLSTATE, as PostgREST reports it); a
 * broken connection (a terminated backend's `57P01`, a socket error) becomes `PGRST001`.
 */
export function answerForQueryError(error: unknown): PostgrestErrorAnswer {
  const fields = (typeof error === 'object' && error !== null ? error : {}) as PgErrorFields;
  const message = typeof fields.message === 'string' ? fields.message : String(error);
  const code = typeof fields.code === 'string' ? fields.code : undefined;
  if (code !== undefined && SQLSTATE.test(code)) {
    // The session is gone: PostgREST reports its connection, not the statement.
    if (code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08')) {
      return databaseConnectionLost(message);
    }
    // Current PostgREST answers an unknown table from its schema cache, before any SQL runs.
    if (code === '42P01') {
      const relation = /relation "([^"]+)"/.exec(message)?.[1] ?? 'unknown';
      return errorAnswer(
        404,
        'PGRST205',
        `Could not find the table '${relation}' in the schema cache`,
      );
    }
    return errorAnswer(
      statusForSqlState(code),
      code,
      message,
      typeof fields.detail === 'string' ? fields.detail : null,
      typeof fields.hint === 'string' ? fields.hint : null,
    );
  }
  if (CONNECTION_LOST.some((prefix) => message.startsWith(prefix)) || code !== undefined) {
    return databaseConnectionLost(message);
  }
  return errorAnswer(500, null, message);
}
